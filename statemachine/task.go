package statemachine

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"
)

// Causes of a task's context ending early.
var (
	errTaskTimeout      = errors.New("task timed out")
	errHeartbeatTimeout = errors.New("task heartbeat timed out")
)

type heartbeatKey struct{}

type heartbeat struct {
	mu    sync.Mutex
	every time.Duration
	clk   Clock
	stop  func() bool
	fire  func()
}

func (h *heartbeat) reset() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stop != nil {
		h.stop()
	}
	h.stop = h.clk.AfterFunc(h.every, h.fire)
}

// SendHeartbeat tells the Task state running the current Resources.Invoke
// that its work is alive (SendTaskHeartbeat). It matters only for tasks
// with HeartbeatSeconds, which fail with States.HeartbeatTimeout when
// longer than that passes without one; elsewhere it does nothing.
func SendHeartbeat(ctx context.Context) {
	if h, ok := ctx.Value(heartbeatKey{}).(*heartbeat); ok {
		h.reset()
	}
}

// taskEvents are the history event names of one kind of task.
type taskEvents struct {
	scheduled, started, submitted, succeeded, failed, timedOut string
}

var (
	integrationEvents = taskEvents{"TaskScheduled", "TaskStarted", "", "TaskSucceeded", "TaskFailed", "TaskTimedOut"}
	syncEvents        = taskEvents{"TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded", "TaskFailed", "TaskTimedOut"}
	lambdaEvents      = taskEvents{"LambdaFunctionScheduled", "LambdaFunctionStarted", "", "LambdaFunctionSucceeded", "LambdaFunctionFailed", "LambdaFunctionTimedOut"}
)

// runTask performs one attempt of a Task state's work and returns its raw
// result (before ResultSelector).
func (r *runner) runTask(ctx context.Context, s *state, eff, params any) (any, error) {
	timeout, heartbeatEvery, err := taskLimits(s, eff)
	if err != nil {
		return nil, err
	}
	events := integrationEvents
	switch {
	case lambdaARN.MatchString(s.resource):
		events = lambdaEvents
	case strings.HasSuffix(s.resource, ".sync") || strings.HasSuffix(s.resource, ".sync:2"):
		events = syncEvents
	}
	paramBytes := mustEncode(params)
	r.e.event(Event{Type: events.scheduled, StateName: s.name, Resource: s.resource, Input: paramBytes})

	clk := r.e.m.clock()
	tctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if timeout > 0 {
		stop := clk.AfterFunc(timeout, func() { cancel(errTaskTimeout) })
		defer stop()
	}
	if heartbeatEvery > 0 {
		h := &heartbeat{every: heartbeatEvery, clk: clk, fire: func() { cancel(errHeartbeatTimeout) }}
		h.reset()
		defer func() {
			h.mu.Lock()
			h.stop()
			h.mu.Unlock()
		}()
		tctx = context.WithValue(tctx, heartbeatKey{}, h)
	}
	r.e.event(Event{Type: events.started, StateName: s.name, Resource: s.resource})
	if events.submitted != "" {
		r.e.event(Event{Type: events.submitted, StateName: s.name, Resource: s.resource})
	}

	type outcome struct {
		v   any
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- outcome{err: failure(ErrTaskFailed, "the task panicked: %v", p)}
			}
		}()
		v, err := r.dispatch(tctx, s, params)
		done <- outcome{v, err}
	}()
	var res outcome
	select {
	case res = <-done:
	case <-tctx.Done():
	}
	// A task that ended because its timer fired is a timeout even if the
	// handler returned an error about its cancelled context.
	switch cause := context.Cause(tctx); {
	case ctx.Err() != nil:
		return nil, context.Cause(ctx)
	case errors.Is(cause, errTaskTimeout):
		res = outcome{err: failure(ErrTimeout, "the task ran longer than its TimeoutSeconds (%s)", timeout)}
	case errors.Is(cause, errHeartbeatTimeout):
		res = outcome{err: failure(ErrHeartbeatTimeout, "no heartbeat for HeartbeatSeconds (%s)", heartbeatEvery)}
	}
	if res.err != nil {
		te := asTaskError(res.err)
		typ := events.failed
		if te.Name == ErrTimeout || te.Name == ErrHeartbeatTimeout {
			typ = events.timedOut
		}
		r.e.event(Event{Type: typ, StateName: s.name, Resource: s.resource, Error: te.Name, Cause: te.Cause})
		return nil, te
	}
	out, err := checkSize("task result", res.v)
	if err != nil {
		te := asTaskError(err)
		r.e.event(Event{Type: events.failed, StateName: s.name, Resource: s.resource, Error: te.Name, Cause: te.Cause})
		return nil, err
	}
	r.e.event(Event{Type: events.succeeded, StateName: s.name, Resource: s.resource, Output: out})
	return res.v, nil
}

// taskLimits resolves TimeoutSeconds(Path) and HeartbeatSeconds(Path).
func taskLimits(s *state, eff any) (timeout, heartbeat time.Duration, err error) {
	get := func(p *path, field string) (time.Duration, error) {
		v, err := p.get(eff)
		n, ok := toInt(v)
		if err != nil || !ok || n < 1 {
			return 0, failure(ErrRuntime, "%s %s of state %q must select a positive integer, got %s", field, p, s.name, mustEncode(v))
		}
		return time.Duration(n) * time.Second, nil
	}
	timeout = time.Duration(s.timeoutSeconds) * time.Second
	if s.timeoutPath != nil {
		if timeout, err = get(s.timeoutPath, "TimeoutSecondsPath"); err != nil {
			return 0, 0, err
		}
	}
	heartbeat = time.Duration(s.heartbeatSeconds) * time.Second
	if s.heartbeatPath != nil {
		if heartbeat, err = get(s.heartbeatPath, "HeartbeatSecondsPath"); err != nil {
			return 0, 0, err
		}
	}
	return timeout, heartbeat, nil
}

// dispatch runs the task's resource.
func (r *runner) dispatch(ctx context.Context, s *state, params any) (any, error) {
	res := r.e.m.Resources
	switch s.resource {
	case resLambdaInvoke:
		return r.lambdaInvoke(ctx, params)
	case resStartExec, resStartExecSync, resStartExecSync2:
		p, _ := params.(map[string]any)
		if arn, _ := p["StateMachineArn"].(string); arn == r.e.m.arn() {
			return r.startExecution(ctx, s.resource, p)
		}
	}
	if res == nil {
		return nil, failure(ErrTaskFailed, "no Resources configured to run %s", s.resource)
	}
	var resp json.RawMessage
	var err error
	if lambdaARN.MatchString(s.resource) {
		resp, err = invokeLambda(ctx, res, s.resource, params)
	} else {
		resp, err = res.Invoke(ctx, s.resource, mustEncode(params))
	}
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON(resp)
	if err != nil {
		return nil, failure(ErrTaskFailed, "%s returned a result that is not JSON: %v", s.resource, err)
	}
	return v, nil
}

// invokeLambda calls a function synchronously and enforces Lambda's 6 MB
// response limit.
func invokeLambda(ctx context.Context, res Resources, fn string, payload any) (json.RawMessage, error) {
	resp, err := res.Invoke(ctx, fn, mustEncode(payload))
	if err != nil {
		return nil, err
	}
	if len(resp) > lambdaMaxResponseBytes {
		return nil, failure(ErrLambdaResponseTooLarge, "Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).", len(resp), lambdaMaxResponseBytes)
	}
	if len(resp) == 0 {
		resp = json.RawMessage("null")
	}
	return resp, nil
}

// lambdaInvoke is the optimized arn:aws:states:::lambda:invoke
// integration: Parameters carry FunctionName, Payload and optionally
// Qualifier; the result wraps the function's response as the Lambda Invoke
// API returns it.
func (r *runner) lambdaInvoke(ctx context.Context, params any) (any, error) {
	p, ok := params.(map[string]any)
	if !ok {
		return nil, failure(ErrRuntime, "lambda:invoke parameters must be an object")
	}
	fn, ok := p["FunctionName"].(string)
	if !ok || fn == "" {
		return nil, failure(ErrRuntime, "lambda:invoke needs FunctionName as a string")
	}
	if q, ok := p["Qualifier"].(string); ok && q != "" {
		fn += ":" + q
	}
	if it, ok := p["InvocationType"].(string); ok && it != "RequestResponse" {
		return nil, failure(ErrRuntime, "lambda:invoke InvocationType %q is not supported", it)
	}
	payload, ok := p["Payload"]
	if !ok {
		payload = map[string]any{}
	}
	if r.e.m.Resources == nil {
		return nil, failure(ErrTaskFailed, "no Resources configured to invoke %s", fn)
	}
	resp, err := invokeLambda(ctx, r.e.m.Resources, fn, payload)
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON(resp)
	if err != nil {
		// The service passes a non-JSON response through as a string.
		v = string(resp)
	}
	requestID := uuidFrom(r.e.rng)
	return map[string]any{
		"ExecutedVersion": "$LATEST",
		"Payload":         v,
		"SdkHttpMetadata": map[string]any{
			"HttpHeaders": map[string]any{
				"Content-Type":           "application/json",
				"X-Amz-Executed-Version": "$LATEST",
				"x-amzn-RequestId":       requestID,
			},
			"HttpStatusCode": json.Number("200"),
		},
		"SdkResponseMetadata": map[string]any{"RequestId": requestID},
		"StatusCode":          json.Number("200"),
	}, nil
}

// startExecution starts an execution of this same machine (the
// continue-as-new pattern). Input may be an object or a JSON string; Name
// defaults to a UUID. Plain startExecution returns {ExecutionArn,
// StartDate} at once; .sync waits and returns the description with Input
// and Output as JSON strings, .sync:2 with them parsed.
func (r *runner) startExecution(ctx context.Context, resource string, p map[string]any) (any, error) {
	name, _ := p["Name"].(string)
	var input json.RawMessage
	switch in := p["Input"].(type) {
	case nil:
		input = json.RawMessage("{}")
	case string:
		input = json.RawMessage(in)
	default:
		input = mustEncode(in)
	}
	child, err := r.e.m.Start(r.e.baseCtx, name, input)
	if err != nil {
		var api *APIError
		if errors.As(err, &api) {
			return nil, failure("StepFunctions."+api.Code+"Exception", "%s", api.Message)
		}
		return nil, err
	}
	d := child.Describe()
	if resource == resStartExec {
		return map[string]any{
			"ExecutionArn": d.ExecutionArn,
			"StartDate":    number(d.StartDate.UnixMilli()),
		}, nil
	}
	if d, err = child.Wait(ctx); err != nil {
		child.Stop("States.Aborted", "the parent task ended")
		return nil, err
	}
	out := map[string]any{
		"ExecutionArn":    d.ExecutionArn,
		"Name":            d.Name,
		"StateMachineArn": d.StateMachineArn,
		"Status":          string(d.Status),
		"StartDate":       number(d.StartDate.UnixMilli()),
		"StopDate":        number(d.StopDate.UnixMilli()),
		"Input":           string(d.Input),
		"InputDetails":    map[string]any{"Included": true},
	}
	if d.Status == StatusSucceeded {
		out["Output"] = string(d.Output)
		out["OutputDetails"] = map[string]any{"Included": true}
	}
	if resource == resStartExecSync2 {
		out["Input"], _ = decodeJSON(d.Input)
		if d.Status == StatusSucceeded {
			out["Output"], _ = decodeJSON(d.Output)
		}
	}
	if d.Status != StatusSucceeded {
		out["Error"], out["Cause"] = d.Error, d.Cause
		return nil, failure(ErrTaskFailed, "%s", mustEncode(out))
	}
	return out, nil
}
