// Package markfailed is the workflow's catch-all: it records why a run
// failed in its manifest, so the reason outlives the execution history.
package markfailed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/objects"
	"github.com/lorafn/lorafn/functions/runs"
)

// In is the failed state's input: the run and the caught error, as Step
// Functions' Catch delivers it ({"Error": name, "Cause": text}).
type In struct {
	RunID string `json:"runId"`
	Error struct {
		Error string `json:"Error"`
		Cause string `json:"Cause"`
	} `json:"error"`
}

// Out echoes what was recorded.
type Out struct {
	RunID  string `json:"runId"`
	Error  string `json:"error"`
	Cause  string `json:"cause"`
	Marked bool   `json:"marked"`
}

// Handler marks runs failed.
type Handler struct {
	Store blob.Store
	Now   func() time.Time
}

// Handle writes the failure into the manifest (with If-Match, retrying a
// lost race a few times).
func (h *Handler) Handle(ctx context.Context, in In) (Out, error) {
	out := Out{RunID: in.RunID, Error: in.Error.Error, Cause: in.Error.Cause}
	if in.RunID == "" {
		return out, nil // failed before a run was claimed: nothing to mark
	}
	f := &runs.Failure{Error: in.Error.Error, Cause: in.Error.Cause}
	// A Lambda error's Cause is a JSON object whose errorMessage carries
	// the reasons (file:line lists from prep).
	var lambdaErr struct {
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(in.Error.Cause), &lambdaErr) == nil && lambdaErr.Message != "" {
		f.Cause = lambdaErr.Message
	}
	f.Cause, f.Reasons = runs.SplitReasons(f.Cause)
	key := runs.Run(in.RunID).Manifest()
	for attempt := 0; attempt < 5; attempt++ {
		var m runs.Manifest
		etag, err := objects.GetJSON(ctx, h.Store, key, &m)
		if err != nil {
			return out, fmt.Errorf("markfailed: %w", err)
		}
		m.State, m.Failure = runs.Failed, f
		m.FinishedAt = time.Now().UTC()
		if h.Now != nil {
			m.FinishedAt = h.Now()
		}
		_, err = objects.PutJSON(ctx, h.Store, key, m, blob.PutOptions{IfMatch: etag})
		if err == nil {
			out.Marked = true
			return out, h.report(ctx, m)
		}
		if !errors.Is(err, blob.ErrPreconditionFailed) {
			return out, fmt.Errorf("markfailed: %w", err)
		}
	}
	return out, fmt.Errorf("markfailed: %s kept changing", key)
}

// report writes reports/<runId>/report.md and report.json for the failed
// run, so it is explained where a successful run's report would be.
func (h *Handler) report(ctx context.Context, m runs.Manifest) error {
	r := runs.Run(m.RunID)
	var b strings.Builder
	fmt.Fprintf(&b, "# Run %s failed\n\n", m.RunID)
	fmt.Fprintf(&b, "- dataset: `%s`\n- base model: `%s`\n- error: `%s`\n\n%s\n", m.Dataset, m.Config.BaseModel, m.Failure.Error, m.Failure.Cause)
	if len(m.Failure.Reasons) > 0 {
		b.WriteString("\n## Reasons\n\n")
		for _, reason := range m.Failure.Reasons {
			fmt.Fprintf(&b, "- %s\n", reason)
		}
	}
	if _, err := h.Store.Put(ctx, r.Report()+"report.md", strings.NewReader(b.String()), blob.PutOptions{ContentType: "text/markdown"}); err != nil {
		return fmt.Errorf("markfailed: %w", err)
	}
	doc := map[string]any{"run": m.RunID, "state": m.State, "failure": m.Failure}
	if _, err := objects.PutJSON(ctx, h.Store, r.Report()+"report.json", doc, blob.PutOptions{}); err != nil {
		return fmt.Errorf("markfailed: %w", err)
	}
	return nil
}
