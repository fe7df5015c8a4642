// Package prep is the workflow step that turns a run's dataset into
// training shards: it reads the dataset from the store, rejects bad records
// with file:line reasons, splits, tokenizes with the base model's
// tokenizer, uploads shards and stats under runs/<runId>/prep/, and plans
// the run. It is idempotent: a retried or resumed run finds the plan and
// returns it.
package prep

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"github.com/lorafn/lorafn/core/data"
	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/tokenizer"
	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/objects"
	"github.com/lorafn/lorafn/functions/runs"
)

// In names the run.
type In struct {
	RunID string `json:"runId"`
}

// Out is the run's plan.
type Out = runs.Plan

// Handler prepares runs.
type Handler struct {
	Store   blob.Store
	WorkDir string // scratch space, e.g. /tmp on Lambda
}

// Handle prepares the run's data, or returns the plan of an earlier
// attempt.
func (h *Handler) Handle(ctx context.Context, in In) (Out, error) {
	r := runs.Run(in.RunID)
	var plan runs.Plan
	if _, err := objects.GetJSON(ctx, h.Store, r.Plan(), &plan); err == nil {
		return plan, nil
	} else if !errors.Is(err, blob.ErrNotFound) {
		return plan, fmt.Errorf("prep: %w", err)
	}
	var m runs.Manifest
	if _, err := objects.GetJSON(ctx, h.Store, r.Manifest(), &m); err != nil {
		return plan, fmt.Errorf("prep: %w", err)
	}
	if err := os.MkdirAll(h.WorkDir, 0o755); err != nil {
		return plan, err
	}
	work, err := os.MkdirTemp(h.WorkDir, "prep-"+in.RunID+"-")
	if err != nil {
		return plan, err
	}
	defer os.RemoveAll(work)
	cfg := m.Config

	// The base model's config and tokenizer files are all prep needs of it.
	modelDir := filepath.Join(work, "model")
	for _, name := range []string{"config.json", "tokenizer.json", "tokenizer_config.json"} {
		err := objects.DownloadFile(ctx, h.Store, cfg.BaseModel+name, filepath.Join(modelDir, name))
		if err != nil && !(name == "tokenizer_config.json" && errors.Is(err, blob.ErrNotFound)) {
			return plan, &runs.StepError{Name: runs.ModelError, Msg: fmt.Sprintf("base model %s: %v", cfg.BaseModel, err)}
		}
	}
	mc, err := model.LoadConfig(modelDir)
	if err != nil {
		return plan, &runs.StepError{Name: runs.ModelError, Msg: err.Error()}
	}
	tok, err := tokenizer.Load(filepath.Join(modelDir, "tokenizer.json"))
	if err != nil {
		return plan, &runs.StepError{Name: runs.ModelError, Msg: err.Error()}
	}
	opts, err := options(cfg, modelDir)
	if err != nil {
		return plan, err
	}

	out := filepath.Join(work, "prep")
	stats, err := h.prepare(ctx, m.Dataset, work, out, tok, opts)
	if err != nil {
		return plan, err
	}
	valExamples := stats.Validation.Sequences
	if cfg.Validation != "" { // a separate validation file replaces the split
		vopts := opts
		vopts.ValFraction = 0
		vstats, err := h.prepare(ctx, cfg.Validation, work, filepath.Join(work, "val"), tok, vopts)
		if err != nil {
			return plan, err
		}
		if err := os.RemoveAll(filepath.Join(out, data.ValidationDir)); err != nil {
			return plan, err
		}
		if err := os.Rename(filepath.Join(work, "val", data.TrainDir), filepath.Join(out, data.ValidationDir)); err != nil {
			return plan, err
		}
		valExamples = vstats.Train.Sequences
	}
	if cfg.GeneralEval != "" {
		gopts := opts
		gopts.ValFraction, gopts.Chat, gopts.Pack = 0, nil, false
		if _, err := h.prepare(ctx, cfg.GeneralEval, work, filepath.Join(work, "general"), tok, gopts); err != nil {
			return plan, err
		}
		if err := os.Rename(filepath.Join(work, "general", data.TrainDir), filepath.Join(out, "general")); err != nil {
			return plan, err
		}
	}
	plan = runs.MakePlan(cfg, mc, stats.Train.Sequences, valExamples, stats.Train.Tokens)
	plan.Rejected = stats.Rejected
	for i, r := range stats.Rejections {
		if i == 10 {
			break
		}
		plan.Rejections = append(plan.Rejections, r.Detail)
	}
	if _, err := objects.Upload(ctx, h.Store, out, r.Prep(), blob.PutOptions{IfNoneMatch: true, Tags: runs.PrepTags}); err != nil {
		return plan, fmt.Errorf("prep: uploading shards: %w", err)
	}
	// The plan goes last: its presence means the shards are complete.
	if _, err := objects.PutJSON(ctx, h.Store, r.Plan(), plan, blob.PutOptions{IfNoneMatch: true}); err != nil && !errors.Is(err, blob.ErrPreconditionFailed) {
		return plan, fmt.Errorf("prep: %w", err)
	}
	return plan, nil
}

// prepare downloads a dataset object and runs data.Prepare on it. Rejected
// records beyond the error budget become a DataError listing file:line
// reasons.
func (h *Handler) prepare(ctx context.Context, key, work, out string, tok *tokenizer.Tokenizer, opts data.Options) (*data.Stats, error) {
	local := filepath.Join(work, "datasets", filepath.FromSlash(key))
	if err := objects.DownloadFile(ctx, h.Store, key, local); err != nil {
		return nil, &runs.StepError{Name: runs.DataError, Msg: fmt.Sprintf("dataset %s: %v", key, err)}
	}
	f, err := os.Open(local)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Records are reported under the key, not the scratch path, so errors
	// name what the user uploaded.
	var src data.Reader = data.NewJSONLReader(f, key)
	if path.Ext(key) == ".csv" {
		if src, err = data.NewCSVReader(f, key); err != nil {
			return nil, &runs.StepError{Name: runs.DataError, Msg: err.Error()}
		}
	}
	stats, err := data.Prepare(ctx, src, tok, out, opts)
	var be *data.BudgetError
	switch {
	case errors.As(err, &be):
		se := &runs.StepError{Name: runs.DataError, Msg: fmt.Sprintf("dataset %s: %d of %d records rejected, more than the error budget %g", key, be.Rejected, be.Records, be.Budget)}
		for _, r := range be.First {
			se.Reasons = append(se.Reasons, r.Detail)
		}
		return nil, se
	case err != nil:
		return nil, &runs.StepError{Name: runs.DataError, Msg: fmt.Sprintf("dataset %s: %v", key, err)}
	case stats.Train.Sequences == 0:
		return nil, &runs.StepError{Name: runs.DataError, Msg: fmt.Sprintf("dataset %s: no usable record", key)}
	}
	return stats, nil
}

// options maps the run configuration onto data.Options, with the chat
// template and EOS token of the model's tokenizer_config.json.
func options(cfg runs.Config, modelDir string) (data.Options, error) {
	opts := data.Options{
		MaxLen: cfg.Data.MaxLen, Overflow: data.Overflow(cfg.Data.Overflow), TrainOnPrompt: cfg.Data.TrainOnPrompt,
		ValFraction: cfg.Data.ValFraction, Pack: cfg.Data.Pack, ErrorBudget: cfg.Data.ErrorBudget,
	}
	tc, err := tokenizer.LoadConfig(filepath.Join(modelDir, "tokenizer_config.json"))
	if errors.Is(err, os.ErrNotExist) {
		tc, err = &tokenizer.Config{}, nil
	}
	if err != nil {
		return opts, &runs.StepError{Name: runs.ModelError, Msg: err.Error()}
	}
	opts.EOS = tc.EOSToken
	if cfg.Data.ChatTemplate != "" || tc.ChatTemplate != "" {
		if opts.Chat, err = tc.Chat(cfg.Data.ChatTemplate); err != nil {
			return opts, &runs.StepError{Name: runs.ConfigError, Msg: fmt.Sprintf("data.chat_template: %v", err)}
		}
	}
	return opts, nil
}
