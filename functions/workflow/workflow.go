// Package workflow dispatches the workflow's steps by name: the one table
// that both the Lambda bootstrap and the local twin use, so a step runs the
// same code, with the same JSON in and out, in AWS and on a laptop.
package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/evaluate"
	"github.com/lorafn/lorafn/functions/markfailed"
	"github.com/lorafn/lorafn/functions/prep"
	"github.com/lorafn/lorafn/functions/promote"
	"github.com/lorafn/lorafn/functions/trainchunk"
	"github.com/lorafn/lorafn/functions/validate"
)

// Step names, as the Lambda functions' handler setting and the last part
// of their names ("lorafn-<step>").
const (
	Validate   = "validate"
	Prep       = "prep"
	Train      = "train"
	Evaluate   = "evaluate"
	Promote    = "promote"
	MarkFailed = "markfailed"
)

// Steps lists every step.
var Steps = []string{Validate, Prep, Train, Evaluate, Promote, MarkFailed}

// Options configure the steps.
type Options struct {
	Bucket   string    // the bucket S3 events must come from; empty: any
	CacheDir string    // scratch and cache space (Lambda: /tmp)
	Metrics  io.Writer // EMF lines of the train step; nil discards
	// Now is the steps' clock (nil: time.Now): timestamps, leases and the
	// training chunk's deadline arithmetic read it.
	Now func() time.Time
}

// Handlers holds one handler per step over one store.
type Handlers struct {
	validate   *validate.Handler
	prep       *prep.Handler
	train      *trainchunk.Handler
	evaluate   *evaluate.Handler
	promote    *promote.Handler
	markFailed *markfailed.Handler
}

// New builds the handlers.
func New(store blob.Store, opts Options) *Handlers {
	cache := opts.CacheDir
	if cache == "" {
		cache = filepath.Join(os.TempDir(), "lorafn-cache")
	}
	return &Handlers{
		validate:   &validate.Handler{Store: store, Bucket: opts.Bucket, Now: opts.Now},
		prep:       &prep.Handler{Store: store, WorkDir: cache},
		train:      &trainchunk.Handler{Store: store, CacheDir: cache, Metrics: opts.Metrics, Now: opts.Now},
		evaluate:   &evaluate.Handler{Store: store, CacheDir: cache},
		promote:    &promote.Handler{Store: store, Now: opts.Now},
		markFailed: &markfailed.Handler{Store: store, Now: opts.Now},
	}
}

// StepOf returns the step of a Lambda function name or ARN
// ("arn:aws:lambda:...:function:lorafn-train" or "lorafn-train:$LATEST").
func StepOf(function string) (string, error) {
	name := function
	if i := strings.Index(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	name, _, _ = strings.Cut(name, ":") // a qualifier
	name = strings.TrimPrefix(name, "lorafn-")
	if !slices.Contains(Steps, name) {
		return "", fmt.Errorf("workflow: %q is not a lorafn step (%s)", function, strings.Join(Steps, ", "))
	}
	return name, nil
}

// Invoke runs step on a JSON payload and returns its JSON result. Payloads
// are decoded strictly: a field the step does not know is an error.
func (h *Handlers) Invoke(ctx context.Context, step string, payload []byte) ([]byte, error) {
	switch step {
	case Validate:
		return call(ctx, payload, h.validate.Handle)
	case Prep:
		return call(ctx, payload, h.prep.Handle)
	case Train:
		return call(ctx, payload, h.train.Handle)
	case Evaluate:
		return call(ctx, payload, h.evaluate.Handle)
	case Promote:
		return call(ctx, payload, h.promote.Handle)
	case MarkFailed:
		return call(ctx, payload, h.markFailed.Handle)
	}
	return nil, fmt.Errorf("workflow: unknown step %q", step)
}

func call[In, Out any](ctx context.Context, payload []byte, handle func(context.Context, In) (Out, error)) ([]byte, error) {
	var in In
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("workflow: payload: %w", err)
	}
	out, err := handle(ctx, in)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}
