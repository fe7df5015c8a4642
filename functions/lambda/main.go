// Command bootstrap is the one executable behind every lorafn Lambda
// function (runtime provided.al2023). The function's handler setting names
// the step it runs: validate, prep, train, evaluate, promote or markfailed.
//
//	GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -o bootstrap ./functions/lambda
//
// Environment: LORAFN_BUCKET (the workflow's bucket) and the AWS SDK's
// usual variables (AWS_ENDPOINT_URL for an S3-compatible endpoint).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/runs"
	"github.com/lorafn/lorafn/functions/workflow"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := start(context.Background()); err != nil {
		log.Error("lorafn bootstrap", "error", err)
		os.Exit(1)
	}
}

func start(ctx context.Context) error {
	step, err := workflow.StepOf(os.Getenv("_HANDLER"))
	if err != nil {
		return err
	}
	bucket := os.Getenv("LORAFN_BUCKET")
	if bucket == "" {
		return fmt.Errorf("LORAFN_BUCKET is not set")
	}
	runtime.GOMAXPROCS(vcpus(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), runtime.NumCPU()))
	client, err := blob.NewS3Client(ctx)
	if err != nil {
		return err
	}
	h := workflow.New(blob.NewS3(client, bucket), workflow.Options{Bucket: bucket, CacheDir: os.TempDir(), Metrics: os.Stdout})
	lambda.StartWithOptions(func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
		out, err := h.Invoke(ctx, step, payload)
		if err != nil {
			// The error type is the name Step Functions' Retry and Catch match.
			return nil, messages.InvokeResponse_Error{Type: runs.ErrorName(err), Message: err.Error()}
		}
		return out, nil
	})
	return nil
}

// vcpus returns the cores a function's CPU share pays for: one vCPU per
// 1,769 MB, at most 6 and at most what the machine shows. The visible core
// count is often larger than the share, and more threads than vCPUs only
// contend.
func vcpus(memoryMB string, visible int) int {
	mb, err := strconv.Atoi(memoryMB)
	if err != nil || mb <= 0 {
		return visible
	}
	n := (mb + 1768) / 1769
	return max(1, min(n, 6, visible))
}
