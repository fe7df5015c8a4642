// Package promote is the workflow's last step: it copies a run's trained
// adapter to adapters/<name>/<version>/ with a model card, and moves
// adapters/<name>/CURRENT.json to it with a conditional write, unless the
// adapter promoted meanwhile is better.
package promote

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/objects"
	"github.com/lorafn/lorafn/functions/runs"
)

// In names the run and carries its evaluation.
type In struct {
	RunID      string       `json:"runId"`
	Evaluation runs.Verdict `json:"evaluation"`
}

// Out says what happened.
type Out struct {
	Promoted bool   `json:"promoted"`
	Version  string `json:"version"`
	Path     string `json:"path"`
	Reason   string `json:"reason"`
}

// Handler promotes adapters.
type Handler struct {
	Store blob.Store
	Now   func() time.Time
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now().UTC()
}

// Handle promotes the run's result if it passed and still beats the
// current adapter, then marks the run succeeded.
func (h *Handler) Handle(ctx context.Context, in In) (Out, error) {
	r := runs.Run(in.RunID)
	var m runs.Manifest
	if _, err := objects.GetJSON(ctx, h.Store, r.Manifest(), &m); err != nil {
		return Out{}, fmt.Errorf("promote: %w", err)
	}
	out := Out{Version: in.RunID, Path: runs.AdapterVersion(m.Config.Name, in.RunID)}
	if !in.Evaluation.Pass {
		out.Reason = "the quality gate failed: " + strings.Join(in.Evaluation.Reasons, "; ")
		return out, h.succeed(ctx, r, "")
	}
	curKey := runs.Current(m.Config.Name)
	var cur runs.CurrentPointer
	curETag, err := objects.GetJSON(ctx, h.Store, curKey, &cur)
	switch {
	case errors.Is(err, blob.ErrNotFound):
		curETag = ""
	case err != nil:
		return Out{}, fmt.Errorf("promote: %w", err)
	case cur.RunID == in.RunID:
		out.Promoted, out.Reason = true, "already promoted"
		return out, h.succeed(ctx, r, out.Path)
	case m.Config.Gate.BeatCurrent && cur.BaseETag == m.BaseETag && cur.ValLoss <= in.Evaluation.ValLoss:
		out.Reason = fmt.Sprintf("the current adapter %s has validation loss %.4f, not above this run's %.4f", cur.Version, cur.ValLoss, in.Evaluation.ValLoss)
		return out, h.succeed(ctx, r, "")
	}

	// Immutable version folder first, the pointer last.
	n := 0
	infos, err := h.Store.List(ctx, r.Result())
	if err != nil {
		return Out{}, fmt.Errorf("promote: %w", err)
	}
	for _, info := range infos {
		data, _, err := blob.ReadAll(ctx, h.Store, info.Key)
		if err != nil {
			return Out{}, fmt.Errorf("promote: %w", err)
		}
		key := out.Path + strings.TrimPrefix(info.Key, r.Result())
		if err := putImmutable(ctx, h.Store, key, data); err != nil {
			return Out{}, err
		}
		n++
	}
	if n == 0 {
		return Out{}, fmt.Errorf("promote: run %s has no result under %s", in.RunID, r.Result())
	}
	if err := putImmutable(ctx, h.Store, out.Path+"README.md", []byte(card(m, in.Evaluation))); err != nil {
		return Out{}, err
	}
	ptr := runs.CurrentPointer{
		Version: in.RunID, Path: out.Path, RunID: in.RunID, BaseModel: m.Config.BaseModel,
		BaseETag: m.BaseETag, ValLoss: in.Evaluation.ValLoss, PromotedAt: h.now(),
	}
	if _, err := objects.PutJSON(ctx, h.Store, curKey, ptr, blob.PutOptions{IfMatch: curETag, IfNoneMatch: curETag == ""}); err != nil {
		if errors.Is(err, blob.ErrPreconditionFailed) {
			// Another run promoted meanwhile; a retry re-reads and re-judges.
			return Out{}, fmt.Errorf("promote: %s moved during promotion: %w", curKey, err)
		}
		return Out{}, fmt.Errorf("promote: %w", err)
	}
	out.Promoted, out.Reason = true, "passed the quality gate"
	return out, h.succeed(ctx, r, out.Path)
}

func putImmutable(ctx context.Context, s blob.Store, key string, data []byte) error {
	_, err := s.Put(ctx, key, strings.NewReader(string(data)), blob.PutOptions{IfNoneMatch: true})
	if errors.Is(err, blob.ErrPreconditionFailed) {
		old, _, gerr := blob.ReadAll(ctx, s, key)
		if gerr == nil && string(old) == string(data) {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("promote: %s: %w", key, err)
	}
	return nil
}

// succeed marks the run's manifest succeeded.
func (h *Handler) succeed(ctx context.Context, r runs.Run, adapter string) error {
	for attempt := 0; attempt < 5; attempt++ {
		var m runs.Manifest
		etag, err := objects.GetJSON(ctx, h.Store, r.Manifest(), &m)
		if err != nil {
			return fmt.Errorf("promote: %w", err)
		}
		m.State, m.Adapter, m.FinishedAt = runs.Succeeded, adapter, h.now()
		_, err = objects.PutJSON(ctx, h.Store, r.Manifest(), m, blob.PutOptions{IfMatch: etag})
		if !errors.Is(err, blob.ErrPreconditionFailed) {
			return err
		}
	}
	return fmt.Errorf("promote: %s kept changing", r.Manifest())
}

// card is the adapter's README.md: what it is, how it was trained, how it
// scored, and how to serve it.
func card(m runs.Manifest, v runs.Verdict) string {
	var b strings.Builder
	c := m.Config
	fmt.Fprintf(&b, "# %s\n\nA %s fine-tune of `%s` by lorafn, run `%s`.\n\n", c.Name, c.Method.Method, c.BaseModel, m.RunID)
	fmt.Fprintf(&b, "- dataset: `%s` (ETag %s)\n", m.Dataset, m.DatasetETag)
	fmt.Fprintf(&b, "- validation loss: %.4f (base model %.4f)\n", v.ValLoss, v.BaseValLoss)
	if v.Forgetting != nil {
		fmt.Fprintf(&b, "- forgetting: %+.1f%% perplexity on the general set\n", 100**v.Forgetting)
	}
	fmt.Fprintf(&b, "- report: `%s`\n\n", v.Report)
	if c.Method.Method == "lora" {
		fmt.Fprintf(&b, "## Serving\n\nThe folder holds PEFT's `adapter_config.json` and `adapter_model.safetensors` (r=%d, alpha=%g): load it with PEFT's `PeftModel.from_pretrained`, serve it with vLLM (`--enable-lora`), or convert it with llama.cpp's `convert_lora_to_gguf.py`.\n", c.Method.LoRA.R, c.Method.LoRA.Alpha)
	} else {
		b.WriteString("## Serving\n\nThe folder is a complete Hugging Face model (config.json, model.safetensors, tokenizer files).\n")
	}
	b.WriteString("\n## Checks\n\n")
	for _, r := range v.Reasons {
		fmt.Fprintf(&b, "- %s\n", r)
	}
	return b.String()
}
