// Package runner runs lorafn's workflow (statemachine/tune.asl.json) on one
// machine: the interpreter drives the same step handlers the Lambda
// functions run, over any blob store, with simulated Lambda deadlines, and
// the Batch branch runs the trainer in process.
package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/runs"
	"github.com/lorafn/lorafn/functions/workflow"
	"github.com/lorafn/lorafn/statemachine"
)

// Account and Region of the simulated resources.
const (
	Region  = "us-east-1"
	Account = "000000000000"
)

// Options configure a Runner.
type Options struct {
	workflow.Options
	// ChunkTimeout is the simulated Lambda timeout of a training chunk
	// (0: 900 s, Lambda's limit). Short timeouts cut a run into many chunks.
	ChunkTimeout time.Duration
	// StepTimeout is the simulated timeout of the other steps (0: 900 s).
	StepTimeout time.Duration
	// OnStep, when set, is told about every step invocation and its result.
	OnStep func(Invocation)
	// Clock of the interpreter (nil: real time).
	Clock statemachine.Clock
	// Substitutions override the definition's substitutions.
	Substitutions map[string]string
}

// Invocation describes one step run, for progress reports.
type Invocation struct {
	Step     string
	Payload  json.RawMessage
	Result   json.RawMessage
	Err      error
	Duration time.Duration
}

// Runner is the workflow's state machine wired to the step handlers.
type Runner struct {
	Machine  *statemachine.Machine
	Handlers *workflow.Handlers
	opts     Options

	mu   sync.Mutex
	jobs int
}

// FunctionARN is the simulated ARN of a step's Lambda function.
func FunctionARN(step string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:lorafn-%s", Region, Account, step)
}

// Substitutions returns the definition substitutions of the local workflow.
func Substitutions() map[string]string {
	subs := map[string]string{
		"BatchJobQueueArn":      fmt.Sprintf("arn:aws:batch:%s:%s:job-queue/lorafn", Region, Account),
		"BatchJobDefinitionArn": fmt.Sprintf("arn:aws:batch:%s:%s:job-definition/lorafn-train:1", Region, Account),
	}
	for _, s := range []struct{ name, step string }{
		{"ValidateFunctionArn", workflow.Validate}, {"PrepFunctionArn", workflow.Prep},
		{"TrainFunctionArn", workflow.Train}, {"EvaluateFunctionArn", workflow.Evaluate},
		{"PromoteFunctionArn", workflow.Promote}, {"MarkFailedFunctionArn", workflow.MarkFailed},
	} {
		subs[s.name] = FunctionARN(s.step)
	}
	return subs
}

// New parses the workflow and wires it to handlers over store.
func New(store blob.Store, opts Options) (*Runner, error) {
	subs := Substitutions()
	for k, v := range opts.Substitutions {
		subs[k] = v
	}
	m, err := statemachine.Parse(statemachine.TuneDefinition, subs)
	if err != nil {
		return nil, err
	}
	m.Name = "lorafn-tune"
	m.ARN = fmt.Sprintf("arn:aws:states:%s:%s:stateMachine:lorafn-tune", Region, Account)
	m.Clock = opts.Clock
	r := &Runner{Machine: m, Handlers: workflow.New(store, opts.Options), opts: opts}
	m.Resources = r
	return r, nil
}

// Invoke implements statemachine.Resources: Lambda functions run their
// step in process under a simulated deadline; a Batch job runs the trainer
// to the end.
func (r *Runner) Invoke(ctx context.Context, resource string, params json.RawMessage) (json.RawMessage, error) {
	if strings.HasPrefix(resource, "arn:aws:states:::batch:submitJob") {
		return r.batchJob(ctx, params)
	}
	step, err := workflow.StepOf(resource)
	if err != nil {
		return nil, &statemachine.TaskError{Name: "Lambda.ResourceNotFoundException", Cause: err.Error()}
	}
	timeout := r.opts.StepTimeout
	if step == workflow.Train && r.opts.ChunkTimeout > 0 {
		timeout = r.opts.ChunkTimeout
	}
	if timeout <= 0 {
		timeout = 900 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	out, err := r.Handlers.Invoke(cctx, step, params)
	if r.opts.OnStep != nil {
		r.opts.OnStep(Invocation{Step: step, Payload: params, Result: out, Err: err, Duration: time.Since(start)})
	}
	if err != nil {
		return nil, lambdaError(err)
	}
	return out, nil
}

// lambdaError is a failed function as the Lambda integration reports it:
// the error type as the name, the function's error JSON as the cause.
func lambdaError(err error) error {
	name := runs.ErrorName(err)
	if errors.Is(err, context.DeadlineExceeded) {
		name = "Lambda.Unknown" // what a function killed at its timeout surfaces as
	}
	cause, _ := json.Marshal(map[string]string{"errorType": name, "errorMessage": err.Error()})
	return &statemachine.TaskError{Name: name, Cause: string(cause)}
}

// batchJob runs the trainer in process until the run is trained: the local
// stand-in of the container job, resuming from the same checkpoints.
func (r *Runner) batchJob(ctx context.Context, params json.RawMessage) (json.RawMessage, error) {
	var p struct {
		JobName    string            `json:"JobName"`
		Parameters map[string]string `json:"Parameters"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, &statemachine.TaskError{Name: "Batch.ClientException", Cause: err.Error()}
	}
	r.mu.Lock()
	r.jobs++
	id := fmt.Sprintf("local-job-%d", r.jobs)
	r.mu.Unlock()
	in, _ := json.Marshal(map[string]any{"runId": p.Parameters["runId"], "segment": 0, "chunk": 0})
	status, reason := "SUCCEEDED", "Essential container in task exited"
	for {
		out, err := r.Handlers.Invoke(ctx, workflow.Train, in)
		if err != nil {
			status, reason = "FAILED", err.Error()
			break
		}
		var res struct{ Done bool }
		json.Unmarshal(out, &res)
		if res.Done {
			break
		}
	}
	desc, _ := json.Marshal(map[string]any{"JobId": id, "JobName": p.JobName, "Status": status, "StatusReason": reason})
	if status != "SUCCEEDED" {
		return nil, &statemachine.TaskError{Name: "States.TaskFailed", Cause: string(desc)}
	}
	return desc, nil
}
