package statemachine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// Status is an execution's state, with the service's names.
type Status string

const (
	StatusRunning   Status = "RUNNING"
	StatusSucceeded Status = "SUCCEEDED"
	StatusFailed    Status = "FAILED"
	StatusTimedOut  Status = "TIMED_OUT"
	StatusAborted   Status = "ABORTED"
)

// Description is DescribeExecution's view of an execution.
type Description struct {
	ExecutionArn    string
	StateMachineArn string
	Name            string
	Status          Status
	Input           json.RawMessage
	Output          json.RawMessage // set when SUCCEEDED
	Error           string          // set when FAILED, TIMED_OUT or ABORTED
	Cause           string
	StartDate       time.Time
	StopDate        time.Time // zero while RUNNING
}

// Event is one history event. Type uses the service's HistoryEventType
// names (ExecutionStarted, TaskStateEntered, TaskScheduled, ...); the other
// fields are the parts of the service's per-type details that apply.
type Event struct {
	ID              int64           `json:"id"`
	PreviousEventID int64           `json:"previousEventId"`
	Timestamp       time.Time       `json:"timestamp"`
	Type            string          `json:"type"`
	StateName       string          `json:"name,omitempty"`
	Resource        string          `json:"resource,omitempty"`
	Input           json.RawMessage `json:"input,omitempty"`
	Output          json.RawMessage `json:"output,omitempty"`
	Error           string          `json:"error,omitempty"`
	Cause           string          `json:"cause,omitempty"`
	Index           *int            `json:"index,omitempty"`  // Map iteration
	Length          *int            `json:"length,omitempty"` // MapStateStarted
}

// Execution is one run of a Machine.
type Execution struct {
	m          *Machine
	name, arn  string
	input      any
	canonInput []byte
	start      time.Time
	baseCtx    context.Context // the Start context: continue-as-new children inherit it
	ctx        context.Context
	cancel     context.CancelCauseFunc
	done       chan struct{}
	ctxObj     map[string]any // the static part of the context object

	mu      sync.Mutex
	desc    Description
	history []Event
	rng     *rand.Rand
}

// Causes of an execution's context ending early.
var (
	errAborted      = errors.New("execution aborted")
	errExecTimeout  = errors.New("execution timed out")
	errHistoryLimit = errors.New("history limit")
)

type abortError struct{ errName, cause string }

func (a *abortError) Error() string { return a.errName + ": " + a.cause }

func newExecution(ctx context.Context, m *Machine, name string, input any, canon []byte) *Execution {
	clk := m.clock()
	e := &Execution{
		m: m, name: name, arn: m.executionARN(name),
		input: input, canonInput: canon,
		start:   clk.Now(),
		baseCtx: ctx,
		done:    make(chan struct{}),
	}
	e.ctx, e.cancel = context.WithCancelCause(ctx)
	e.rng = rand.New(&lockedSource{src: rand.NewPCG(seedFor(e.arn), 0x6c6f7261666e)})
	e.desc = Description{
		ExecutionArn: e.arn, StateMachineArn: m.arn(), Name: name, Status: StatusRunning,
		Input: json.RawMessage(canon), StartDate: e.start,
	}
	e.ctxObj = map[string]any{
		"Execution": map[string]any{
			"Id":           e.arn,
			"Name":         name,
			"Input":        input,
			"StartTime":    formatTime(e.start),
			"RoleArn":      "arn:aws:iam::123456789012:role/lorafn-state-machine",
			"RedriveCount": json.Number("0"),
		},
		"StateMachine": map[string]any{"Id": m.arn(), "Name": m.name()},
	}
	return e
}

// lockedSource makes a rand.Source safe for the concurrent iterations of
// Map and Parallel states.
type lockedSource struct {
	mu  sync.Mutex
	src rand.Source
}

func (l *lockedSource) Uint64() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.src.Uint64()
}

// formatTime renders timestamps as the context object does:
// 2019-03-26T20:14:13.192Z.
func formatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (e *Execution) Name() string { return e.name }
func (e *Execution) ARN() string  { return e.arn }

// Done is closed when the execution has ended.
func (e *Execution) Done() <-chan struct{} { return e.done }

// Describe returns the execution's current state.
func (e *Execution) Describe() Description {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.desc
}

// Wait blocks until the execution ends or ctx ends.
func (e *Execution) Wait(ctx context.Context) (Description, error) {
	select {
	case <-e.done:
		return e.Describe(), nil
	case <-ctx.Done():
		return e.Describe(), ctx.Err()
	}
}

// History returns a copy of the events so far.
func (e *Execution) History() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.history...)
}

// Stop aborts a running execution (StopExecution): it ends ABORTED with the
// given error and cause.
func (e *Execution) Stop(errName, cause string) {
	e.cancel(&abortError{errName: errName, cause: cause})
}

// event appends a history event. When the history is full the execution is
// failed instead, as the service fails executions at its event cap.
func (e *Execution) event(ev Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	terminal := ev.Type == "ExecutionSucceeded" || ev.Type == "ExecutionFailed" || ev.Type == "ExecutionTimedOut" || ev.Type == "ExecutionAborted"
	if !terminal && len(e.history) >= e.m.historyLimit() {
		e.cancel(errHistoryLimit)
		return
	}
	ev.ID = int64(len(e.history) + 1)
	ev.PreviousEventID = ev.ID - 1
	ev.Timestamp = e.m.clock().Now()
	e.history = append(e.history, ev)
}

func (e *Execution) run() {
	defer close(e.done)
	defer e.cancel(nil)
	e.event(Event{Type: "ExecutionStarted", Input: e.canonInput})
	if t := e.m.g.timeout; t > 0 {
		stop := e.m.clock().AfterFunc(time.Duration(t)*time.Second, func() { e.cancel(errExecTimeout) })
		defer stop()
	}
	r := &runner{e: e}
	out, err := r.runGraph(e.ctx, e.m.g, e.input)

	status, ev := StatusSucceeded, Event{Type: "ExecutionSucceeded"}
	var errName, cause string
	var output json.RawMessage
	if err == nil && e.ctx.Err() == nil {
		b := mustEncode(out)
		if len(b) > MaxPayloadBytes {
			err = dataLimit("execution output", len(b))
		} else {
			output = b
			ev.Output = b
		}
	}
	if cerr := context.Cause(e.ctx); e.ctx.Err() != nil && cerr != nil {
		var ab *abortError
		switch {
		case errors.As(cerr, &ab):
			status, errName, cause = StatusAborted, ab.errName, ab.cause
		case errors.Is(cerr, errExecTimeout):
			status, errName, cause = StatusTimedOut, ErrTimeout, "the execution ran longer than its TimeoutSeconds"
		case errors.Is(cerr, errHistoryLimit):
			status, errName = StatusFailed, ErrRuntime
			cause = fmt.Sprintf("%s (%d)", errHistoryLimitExceededCause, e.m.historyLimit())
		default: // the Start context ended
			status, errName, cause = StatusAborted, "", cerr.Error()
		}
		output = nil
	} else if err != nil {
		te := asTaskError(err)
		status, errName, cause = StatusFailed, te.Name, te.Cause
		output = nil
	}
	switch status {
	case StatusFailed:
		ev = Event{Type: "ExecutionFailed", Error: errName, Cause: cause}
	case StatusTimedOut:
		ev = Event{Type: "ExecutionTimedOut", Error: errName, Cause: cause}
	case StatusAborted:
		ev = Event{Type: "ExecutionAborted", Error: errName, Cause: cause}
	}
	e.event(ev)
	e.mu.Lock()
	e.desc.Status, e.desc.Output, e.desc.Error, e.desc.Cause = status, output, errName, cause
	e.desc.StopDate = e.m.clock().Now()
	e.mu.Unlock()
}

func dataLimit(what string, n int) *TaskError {
	return failure(ErrDataLimitExceeded, "the %s has %d bytes, more than the limit of %d bytes", what, n, MaxPayloadBytes)
}
