package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/workflow"
)

// runBatchTrain is the CPU Batch job's entry point: it runs the train step
// over and over until the run is trained. Each pass resumes from the run's
// LATEST checkpoint, exactly as a Lambda chunk does, so a job that is
// retried or interrupted continues where the last checkpoint left it.
func runBatchTrain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("batch-train", stdout)
	runID := fs.String("run-id", os.Getenv("LORAFN_RUN_ID"), "run to train (default $LORAFN_RUN_ID)")
	bucket := fs.String("bucket", os.Getenv("LORAFN_BUCKET"), "the workflow's bucket (default $LORAFN_BUCKET)")
	cache := fs.String("cache-dir", os.TempDir(), "scratch space for the model and checkpoints")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required("run-id", *runID); err != nil {
		return err
	}
	if err := required("bucket", *bucket); err != nil {
		return err
	}
	client, err := blob.NewS3Client(ctx)
	if err != nil {
		return err
	}
	h := workflow.New(blob.NewS3(client, *bucket), workflow.Options{Bucket: *bucket, CacheDir: *cache, Metrics: stdout})
	return trainToEnd(ctx, h, *runID, stdout)
}

// trainToEnd calls the train step until it reports the run done.
func trainToEnd(ctx context.Context, h *workflow.Handlers, runID string, log io.Writer) error {
	for chunk := 0; ; chunk++ {
		in, _ := json.Marshal(map[string]any{"runId": runID, "segment": 0, "chunk": chunk})
		out, err := h.Invoke(ctx, workflow.Train, in)
		if err != nil {
			return fmt.Errorf("run %s, chunk %d: %w", runID, chunk, err)
		}
		var res struct {
			Done bool `json:"done"`
			Step int  `json:"step"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			return fmt.Errorf("run %s: train result: %w", runID, err)
		}
		fmt.Fprintf(log, "run %s: chunk %d reached step %d\n", runID, chunk, res.Step)
		if res.Done {
			return nil
		}
	}
}
