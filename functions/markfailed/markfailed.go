// Package markfailed is the workflow's catch-all: it records why a run
// failed in its manifest, so the reason outlives the execution history.
package markfailed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
			return out, nil
		}
		if !errors.Is(err, blob.ErrPreconditionFailed) {
			return out, fmt.Errorf("markfailed: %w", err)
		}
	}
	return out, fmt.Errorf("markfailed: %s kept changing", key)
}
