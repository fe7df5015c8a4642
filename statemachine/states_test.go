package statemachine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Wait states sleep on the machine's clock: Seconds, SecondsPath,
// Timestamp and TimestampPath (a timestamp in the past does not wait).
func TestWait(t *testing.T) {
	cases := []struct {
		field, input string
		want         time.Duration
	}{
		{`"Seconds":10`, `{}`, 10 * time.Second},
		{`"SecondsPath":"$.s"`, `{"s":90}`, 90 * time.Second},
		{`"Timestamp":"2026-01-02T04:04:05Z"`, `{}`, time.Hour},
		{`"TimestampPath":"$.ts"`, `{"ts":"2026-01-02T03:04:35+00:00"}`, 30 * time.Second},
		{`"TimestampPath":"$.ts"`, `{"ts":"2020-01-01T00:00:00Z"}`, 0},
	}
	for _, c := range cases {
		def := `{"StartAt":"W","States":{"W":{"Type":"Wait",` + c.field + `,"End":true}}}`
		m, err := Parse([]byte(def), nil)
		if err != nil {
			t.Fatal(err)
		}
		clk := NewVirtualClock(testStart)
		m.Clock = clk
		d, _ := runOn(t, m, "w", c.input)
		if d.Status != StatusSucceeded || string(d.Output) != canon(t, c.input) {
			t.Errorf("%s: %s output %s", c.field, d.Status, d.Output)
		}
		if got := d.StopDate.Sub(d.StartDate); got != c.want {
			t.Errorf("%s: waited %s, want %s", c.field, got, c.want)
		}
	}
	bad := `{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","End":true}}}`
	if name, _ := mustFail(t, bad, `{"s":-1}`, nil); name != ErrRuntime {
		t.Errorf("negative SecondsPath: %q, want States.Runtime", name)
	}
}

func TestFailState(t *testing.T) {
	def := `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Custom.Error","Cause":"Invalid response."}}}`
	if n, c := mustFail(t, def, `{}`, nil); n != "Custom.Error" || c != "Invalid response." {
		t.Errorf("got %q %q", n, c)
	}
	def = `{"StartAt":"F","States":{"F":{"Type":"Fail","ErrorPath":"$.e","CausePath":"States.Format('step {} failed', $.step)"}}}`
	if n, c := mustFail(t, def, `{"e":"Train.Diverged","step":12}`, nil); n != "Train.Diverged" || c != "step 12 failed" {
		t.Errorf("got %q %q", n, c)
	}
}

// The developer guide's Map example: ItemsPath picks the array and
// ItemSelector builds each iteration's input from $$.Map.Item.Value and
// the state input; results come back in item order.
func TestMapState(t *testing.T) {
	def := `{"StartAt":"ProcessAllItems","States":{"ProcessAllItems":{"Type":"Map","ItemsPath":"$.detail.shipped","MaxConcurrency":2,
		"ItemSelector":{"parcel.$":"$$.Map.Item.Value","index.$":"$$.Map.Item.Index","courier.$":"$.detail.delivery-partner"},
		"ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"Validate","States":{"Validate":{"Type":"Task",
			"Resource":"arn:aws:lambda:us-east-1:123456789012:function:ship-val","End":true}}},
		"ResultPath":"$.detail.shipped","End":true}}}`
	input := `{"ship-date":"2016-03-14T01:59:00Z","detail":{"delivery-partner":"UQS","shipped":[
		{"prod":"R31","dest-code":9511,"quantity":1344},{"prod":"S39","dest-code":9511,"quantity":40},
		{"prod":"R31","dest-code":9833,"quantity":12},{"prod":"R40","dest-code":9860,"quantity":887}]}}`
	var inFlight, peak atomic.Int32
	var mu sync.Mutex
	release := make(chan struct{})
	go func() { time.Sleep(20 * time.Millisecond); close(release) }()
	res := ResourcesFunc(func(_ context.Context, _ string, p json.RawMessage) (json.RawMessage, error) {
		n := inFlight.Add(1)
		mu.Lock()
		peak.Store(max(peak.Load(), n))
		mu.Unlock()
		<-release
		inFlight.Add(-1)
		var in struct {
			Parcel  struct{ Prod string }
			Index   int
			Courier string
		}
		_ = json.Unmarshal(p, &in)
		return json.Marshal(fmt.Sprintf("%d:%s:%s", in.Index, in.Parcel.Prod, in.Courier))
	})
	out := mustSucceed(t, def, input, res)
	assertJSON(t, out, `{"ship-date":"2016-03-14T01:59:00Z","detail":{"delivery-partner":"UQS","shipped":["0:R31:UQS","1:S39:UQS","2:R31:UQS","3:R40:UQS"]}}`)
	if p := peak.Load(); p > 2 {
		t.Errorf("%d iterations ran at once, MaxConcurrency is 2", p)
	}
	// One failing iteration fails the Map with its error.
	failing := ResourcesFunc(func(_ context.Context, _ string, p json.RawMessage) (json.RawMessage, error) {
		if strings.Contains(string(p), "S39") {
			return nil, &TaskError{Name: "Ship.Refused", Cause: "S39"}
		}
		return json.RawMessage(`1`), nil
	})
	if n, c := mustFail(t, def, input, failing); n != "Ship.Refused" || c != "S39" {
		t.Errorf("failing iteration: %q %q", n, c)
	}
}

func TestParallelState(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Parallel","Parameters":{"v.$":"$.v"},"ResultSelector":{"both.$":"$"},"ResultPath":"$.out","End":true,
		"Branches":[
			{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"a.$":"States.MathAdd($.v, 1)"},"End":true}}},
			{"StartAt":"B","States":{"B":{"Type":"Wait","Seconds":5,"Next":"B2"},"B2":{"Type":"Pass","Result":"b","End":true}}}]}}}`
	assertJSON(t, mustSucceed(t, def, `{"v":1}`, nil), `{"v":1,"out":{"both":[{"a":2},"b"]}}`)
	failing := `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,
		"Catch":[{"ErrorEquals":["Branch.Broke"],"ResultPath":"$.err","Next":"Caught"}],
		"Branches":[{"StartAt":"A","States":{"A":{"Type":"Pass","End":true}}},
			{"StartAt":"B","States":{"B":{"Type":"Fail","Error":"Branch.Broke","Cause":"b"}}}]},
		"Caught":{"Type":"Pass","End":true}}}`
	assertJSON(t, mustSucceed(t, failing, `{"x":1}`, nil), `{"x":1,"err":{"Error":"Branch.Broke","Cause":"b"}}`)
}

// flaky fails with the given errors in turn, then succeeds; it records the
// virtual time of each call.
type flaky struct {
	mu    sync.Mutex
	errs  []error
	clk   *VirtualClock
	calls []time.Time
}

func (f *flaky) Invoke(context.Context, string, json.RawMessage) (json.RawMessage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, f.clk.Now())
	if len(f.calls) <= len(f.errs) {
		return nil, f.errs[len(f.calls)-1]
	}
	return json.RawMessage(`"ok"`), nil
}

func retryMachine(t *testing.T, retry, catch string, errs ...error) (*flaky, Description, []Event) {
	t.Helper()
	if catch == `[]` { // keep Caught reachable
		catch = `[{"ErrorEquals":["Never.Happens"],"Next":"Caught"}]`
	}
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},
		"ResultSelector":{"p.$":"$.Payload","retries.$":"$$.State.RetryCount"},"Retry":` + retry + `,"Catch":` + catch + `,"End":true},
		"Caught":{"Type":"Pass","End":true}}}`
	m, err := Parse([]byte(def), nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := NewVirtualClock(testStart)
	f := &flaky{errs: errs, clk: clk}
	m.Clock, m.Resources = clk, f
	d, h := runOn(t, m, "r", `{}`)
	return f, d, h
}

func gaps(calls []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(calls); i++ {
		out = append(out, calls[i].Sub(calls[i-1]))
	}
	return out
}

// Retry delays are IntervalSeconds × BackoffRate^(n-1): the developer
// guide's example (3 s, rate 1.5) waits 3 s, then 4.5 s. MaxDelaySeconds
// caps the delay; $$.State.RetryCount counts the retries.
func TestRetryBackoff(t *testing.T) {
	svc := &TaskError{Name: ErrLambdaServiceException, Cause: "busy"}
	f, d, _ := retryMachine(t, `[{"ErrorEquals":["Lambda.ServiceException"],"IntervalSeconds":3,"MaxAttempts":2,"BackoffRate":1.5}]`, `[]`, svc, svc)
	if d.Status != StatusSucceeded {
		t.Fatalf("status %s %s", d.Status, d.Error)
	}
	if got, want := gaps(f.calls), []time.Duration{3 * time.Second, 4500 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("delays %v, want %v", got, want)
	}
	assertJSON(t, string(d.Output), `{"p":"ok","retries":2}`)

	f, d, _ = retryMachine(t, `[{"ErrorEquals":["States.ALL"],"IntervalSeconds":1,"MaxAttempts":5,"BackoffRate":2,"MaxDelaySeconds":3}]`, `[]`, svc, svc, svc, svc, svc)
	if got, want := gaps(f.calls), []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second}; !slices.Equal(got, want) {
		t.Errorf("capped delays %v, want %v (status %s)", got, want, d.Status)
	}

	// Defaults: 1 s, 3 attempts, rate 2.0.
	f, d, _ = retryMachine(t, `[{"ErrorEquals":["States.TaskFailed"]}]`, `[]`, errors.New("a"), errors.New("b"), errors.New("c"), errors.New("d"))
	if got, want := gaps(f.calls), []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}; !slices.Equal(got, want) || d.Status != StatusFailed || d.Error != ErrTaskFailed || d.Cause != "d" {
		t.Errorf("default retrier: delays %v (want %v), status %s %s %s", got, want, d.Status, d.Error, d.Cause)
	}

	// FULL jitter draws each delay from [0, nominal].
	f, _, _ = retryMachine(t, `[{"ErrorEquals":["States.ALL"],"IntervalSeconds":10,"MaxAttempts":4,"BackoffRate":2,"JitterStrategy":"FULL"}]`, `[]`, svc, svc, svc, svc)
	nominal := []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second}
	got := gaps(f.calls)
	if len(got) != 4 || slices.Equal(got, nominal) {
		t.Errorf("jittered delays %v: want 4 delays that differ from %v", got, nominal)
	}
	for i := range got {
		if got[i] < 0 || got[i] > nominal[i] {
			t.Errorf("jittered delay %d = %s, outside [0, %s]", i, got[i], nominal[i])
		}
	}
}

// The first retrier whose ErrorEquals matches applies; when its attempts
// are used up the catchers decide, and MaxAttempts 0 means no retry.
func TestRetryThenCatch(t *testing.T) {
	custom := &TaskError{Name: "Validation.BadDataset", Cause: "data.jsonl:3: not JSON"}
	f, d, _ := retryMachine(t,
		`[{"ErrorEquals":["Validation.BadDataset"],"MaxAttempts":0},{"ErrorEquals":["States.ALL"],"MaxAttempts":5}]`,
		`[{"ErrorEquals":["Validation.BadDataset"],"ResultPath":"$.error","Next":"Caught"}]`, custom, custom)
	if len(f.calls) != 1 {
		t.Errorf("%d calls, want 1 (MaxAttempts 0)", len(f.calls))
	}
	assertJSON(t, string(d.Output), `{"error":{"Error":"Validation.BadDataset","Cause":"data.jsonl:3: not JSON"}}`)

	// States.TaskFailed does not match States.Timeout; States.ALL does.
	to := &TaskError{Name: ErrTimeout, Cause: "slow"}
	_, d, _ = retryMachine(t, `[]`, `[{"ErrorEquals":["States.TaskFailed"],"Next":"Caught"}]`, to)
	if d.Status != StatusFailed || d.Error != ErrTimeout {
		t.Errorf("TaskFailed caught a timeout: %s %s", d.Status, d.Error)
	}
	_, d, _ = retryMachine(t, `[]`, `[{"ErrorEquals":["States.ALL"],"Next":"Caught"}]`, to)
	assertJSON(t, string(d.Output), `{"Error":"States.Timeout","Cause":"slow"}`)
}

// TimeoutSeconds fails a task that runs too long with States.Timeout; the
// handler here stands for a slow call by sleeping on the virtual clock.
func TestTaskTimeoutAndHeartbeat(t *testing.T) {
	slow := func(steps ...time.Duration) func(clk *VirtualClock) Resources {
		return func(clk *VirtualClock) Resources {
			return ResourcesFunc(func(ctx context.Context, _ string, _ json.RawMessage) (json.RawMessage, error) {
				for _, d := range steps {
					if err := clk.Sleep(ctx, d); err != nil {
						return nil, err
					}
					SendHeartbeat(ctx)
				}
				return json.RawMessage(`"done"`), nil
			})
		}
	}
	cases := []struct {
		name, limits string
		res          func(*VirtualClock) Resources
		wantErr      string
	}{
		{"in time", `"TimeoutSeconds":10`, slow(9 * time.Second), ""},
		{"too slow", `"TimeoutSeconds":10`, slow(11 * time.Second), ErrTimeout},
		{"timeout from path", `"TimeoutSecondsPath":"$.limit"`, slow(6 * time.Second), ErrTimeout},
		{"heartbeats keep it alive", `"TimeoutSeconds":100,"HeartbeatSeconds":5`, slow(4*time.Second, 4*time.Second, 4*time.Second), ""},
		{"heartbeat missed", `"TimeoutSeconds":100,"HeartbeatSeconds":5`, slow(4*time.Second, 6*time.Second), ErrHeartbeatTimeout},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},` + c.limits + `,"OutputPath":"$.Payload","End":true}}}`
			m, err := Parse([]byte(def), nil)
			if err != nil {
				t.Fatal(err)
			}
			clk := NewVirtualClock(testStart)
			m.Clock, m.Resources = clk, c.res(clk)
			d, h := runOn(t, m, "t", `{"limit":5}`)
			if c.wantErr == "" {
				if d.Status != StatusSucceeded || string(d.Output) != `"done"` {
					t.Errorf("%s %s %s", d.Status, d.Error, d.Cause)
				}
				return
			}
			if d.Status != StatusFailed || d.Error != c.wantErr {
				t.Errorf("got %s %s, want FAILED %s", d.Status, d.Error, c.wantErr)
			}
			if !slices.Contains(eventTypes(h), "TaskTimedOut") {
				t.Errorf("no TaskTimedOut event in %v", eventTypes(h))
			}
		})
	}
}

// A top-level TimeoutSeconds ends the execution TIMED_OUT; Stop ends it
// ABORTED.
func TestExecutionTimeoutAndStop(t *testing.T) {
	def := `{"TimeoutSeconds":60,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":120,"End":true}}}`
	d, h := run(t, def, `{}`, nil)
	if d.Status != StatusTimedOut || d.Error != ErrTimeout || h[len(h)-1].Type != "ExecutionTimedOut" {
		t.Errorf("got %s %s, last event %s", d.Status, d.Error, h[len(h)-1].Type)
	}

	blocked := make(chan struct{})
	m, err := Parse([]byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},"End":true}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Resources = ResourcesFunc(func(ctx context.Context, _ string, _ json.RawMessage) (json.RawMessage, error) {
		close(blocked)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	e, err := m.Start(context.Background(), "stop-me", nil)
	if err != nil {
		t.Fatal(err)
	}
	<-blocked
	e.Stop("User.Abort", "changed my mind")
	d, _ = e.Wait(context.Background())
	if d.Status != StatusAborted || d.Error != "User.Abort" || d.Cause != "changed my mind" {
		t.Errorf("stopped execution: %s %s %s", d.Status, d.Error, d.Cause)
	}
}

// The history uses the service's event names: an optimized Lambda task is
// TaskStateEntered, TaskScheduled, TaskStarted, TaskSucceeded,
// TaskStateExited.
func TestHistoryEventNames(t *testing.T) {
	def := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.go","BooleanEquals":true,"Next":"T"}],"Default":"S"},
		"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},"Next":"B"},
		"B":{"Type":"Task","Resource":"arn:aws:states:::batch:submitJob.sync","Parameters":{"JobName":"j","JobQueue":"q","JobDefinition":"d"},"Next":"S"},
		"S":{"Type":"Succeed"}}}`
	d, h := run(t, def, `{"go":true}`, fixed(`{}`))
	if d.Status != StatusSucceeded {
		t.Fatal(d.Status, d.Error, d.Cause)
	}
	want := []string{"ExecutionStarted", "ChoiceStateEntered", "ChoiceStateExited",
		"TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited",
		"TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded", "TaskStateExited",
		"SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"}
	if got := eventTypes(h); !slices.Equal(got, want) {
		t.Errorf("events\n%v\nwant\n%v", got, want)
	}
	for i, e := range h {
		if e.ID != int64(i+1) || e.PreviousEventID != int64(i) {
			t.Errorf("event %d has id %d, previous %d", i, e.ID, e.PreviousEventID)
		}
	}
}

// A Standard execution fails when its history would pass 25,000 events.
func TestHistoryCap(t *testing.T) {
	loop := `{"StartAt":"Count","States":{
		"Count":{"Type":"Pass","Parameters":{"n.$":"States.MathAdd($.n, 1)"},"Next":"More"},
		"More":{"Type":"Choice","Choices":[{"Variable":"$.n","NumericLessThan":100000,"Next":"Count"}],"Default":"Done"},
		"Done":{"Type":"Succeed"}}}`
	d, h := run(t, loop, `{"n":0}`, nil)
	if d.Status != StatusFailed || d.Error != ErrRuntime || !strings.Contains(d.Cause, "25000") {
		t.Fatalf("got %s %s %q, want FAILED at the history cap", d.Status, d.Error, d.Cause)
	}
	if len(h) != MaxHistoryEvents+1 || h[len(h)-1].Type != "ExecutionFailed" {
		t.Errorf("history has %d events ending in %s, want %d then ExecutionFailed", len(h), h[len(h)-1].Type, MaxHistoryEvents)
	}
	// 1 + 4 per loop: a loop that ends before the cap succeeds.
	d, _ = run(t, loop, `{"n":93760}`, nil)
	if d.Status != StatusSucceeded {
		t.Errorf("short loop: %s %s", d.Status, d.Cause)
	}
}

func TestExecutionNames(t *testing.T) {
	good := []string{"a", strings.Repeat("x", 80), "01JD3ZQ-s1", "run_2.retry-1", "Ünïcode"}
	bad := []string{"", strings.Repeat("x", 81), "a b", "a\tb", "a:b", "a/b", "a#b", "a%b", "a$b", "a{b", "a[b", "a?b", "a*b", `a"b`,
		"a\\b", "a^b", "a|b", "a~b", "a`b", "a&b", "a,b", "a;b", "a<b", "a\x01b", "a\x7fb", "a\u0085b", "a\u0099b"}
	for _, n := range good {
		if err := ValidateExecutionName(n); err != nil {
			t.Errorf("%q: %v", n, err)
		}
	}
	for _, n := range bad {
		var api *APIError
		if err := ValidateExecutionName(n); !errors.As(err, &api) || api.Code != ErrInvalidName {
			t.Errorf("%q: %v, want InvalidName", n, err)
		}
	}
}

// StartExecution name reuse: same name and input while running returns the
// running execution; a different input, or any input after it closed, is
// ExecutionAlreadyExists, until the 90-day retention has passed.
func TestStartDedupe(t *testing.T) {
	m, err := Parse([]byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},"End":true}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := NewVirtualClock(testStart)
	release := make(chan struct{})
	var calls atomic.Int32
	m.Clock = clk
	m.Resources = ResourcesFunc(func(ctx context.Context, _ string, _ json.RawMessage) (json.RawMessage, error) {
		calls.Add(1)
		<-release
		return json.RawMessage(`1`), nil
	})
	ctx := context.Background()
	e1, err := m.Start(ctx, "run-1", json.RawMessage(`{"a":1, "b":2}`))
	if err != nil {
		t.Fatal(err)
	}
	e2, err := m.Start(ctx, "run-1", json.RawMessage(`{"b":2,"a":1}`))
	if err != nil || e2 != e1 {
		t.Errorf("same name and input while running: %v, same execution %v", err, e2 == e1)
	}
	exists := func(err error) bool {
		var api *APIError
		return errors.As(err, &api) && api.Code == ErrExecutionAlreadyExists
	}
	if _, err := m.Start(ctx, "run-1", json.RawMessage(`{"a":2}`)); !exists(err) {
		t.Errorf("different input while running: %v", err)
	}
	close(release)
	if d, _ := e1.Wait(ctx); d.Status != StatusSucceeded {
		t.Fatal(d.Status)
	}
	if _, err := m.Start(ctx, "run-1", json.RawMessage(`{"a":1,"b":2}`)); !exists(err) {
		t.Errorf("same input after it closed: %v", err)
	}
	clk.Advance(91 * 24 * time.Hour)
	e3, err := m.Start(ctx, "run-1", json.RawMessage(`{"a":1,"b":2}`))
	if err != nil || e3 == e1 {
		t.Fatalf("after retention: %v", err)
	}
	e3.Wait(ctx)
	if calls.Load() != 2 {
		t.Errorf("%d task calls, want 2", calls.Load())
	}
	if _, err := m.Start(ctx, "bad name", nil); err == nil {
		t.Error("Start accepted a name with a space")
	}
	e4, err := m.Start(ctx, "", nil)
	if err != nil || len(e4.Name()) != 36 {
		t.Errorf("unnamed execution: %v, name %q, want a UUID", err, e4.Name())
	}
	e4.Wait(ctx)
}

// startExecution on the machine's own ARN starts a child execution; .sync
// waits and returns its output as a JSON string, .sync:2 parsed. Other
// state machines, like every other integration, go to Resources.
func TestStartExecutionIntegration(t *testing.T) {
	def := func(resource string) string {
		return `{"StartAt":"Child?","States":{
		"Child?":{"Type":"Choice","Choices":[{"Variable":"$.child","IsPresent":true,"Next":"Work"}],"Default":"Spawn"},
		"Work":{"Type":"Pass","Parameters":{"doubled.$":"States.MathAdd($.child, $.child)"},"End":true},
		"Spawn":{"Type":"Task","Resource":"` + resource + `","Parameters":{"StateMachineArn.$":"$$.StateMachine.Id","Name":"kid","Input":{"child.$":"$.n"}},"End":true}}}`
	}
	out := mustSucceed(t, def(resStartExecSync2), `{"n":21}`, nil)
	var got map[string]any
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got["Output"]) != "map[doubled:42]" || got["Status"] != "SUCCEEDED" || got["Name"] != "kid" {
		t.Errorf(".sync:2 result %s", out)
	}
	out = mustSucceed(t, def(resStartExecSync), `{"n":21}`, nil)
	if !strings.Contains(out, `"Output":"{\"doubled\":42}"`) {
		t.Errorf(".sync result %s, want Output as a JSON string", out)
	}
	out = mustSucceed(t, def(resStartExec), `{"n":21}`, nil)
	if !strings.Contains(out, `"ExecutionArn":"arn:aws:states:us-east-1:123456789012:execution:lorafn-tune:kid"`) {
		t.Errorf("startExecution result %s", out)
	}

	other := `{"StartAt":"S","States":{"S":{"Type":"Task","Resource":"arn:aws:states:::states:startExecution","Parameters":{"StateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:other","Input":{"a":1}},"Next":"N"},
		"N":{"Type":"Task","Resource":"arn:aws:states:::sns:publish","Parameters":{"TopicArn":"t","Message.$":"$.ExecutionArn"},"End":true}}}`
	var seen []string
	res := ResourcesFunc(func(_ context.Context, r string, p json.RawMessage) (json.RawMessage, error) {
		seen = append(seen, r+" "+string(p))
		if r == resStartExec {
			return json.RawMessage(`{"ExecutionArn":"arn:x","StartDate":1}`), nil
		}
		return json.RawMessage(`{"MessageId":"m-1"}`), nil
	})
	assertJSON(t, mustSucceed(t, other, `{}`, res), `{"MessageId":"m-1"}`)
	want := []string{
		`arn:aws:states:::states:startExecution {"Input":{"a":1},"StateMachineArn":"arn:aws:states:us-east-1:123456789012:stateMachine:other"}`,
		`arn:aws:states:::sns:publish {"Message":"arn:x","TopicArn":"t"}`,
	}
	if !slices.Equal(seen, want) {
		t.Errorf("Resources saw\n%v\nwant\n%v", seen, want)
	}
}

// A Resources error without a name is States.TaskFailed; a panic is too,
// and does not escape the interpreter; a Lambda response over 6 MB is a
// Lambda error.
func TestTaskErrorsNamed(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},"End":true}}}`
	plain := ResourcesFunc(func(context.Context, string, json.RawMessage) (json.RawMessage, error) {
		return nil, errors.New("disk full")
	})
	if n, c := mustFail(t, def, `{}`, plain); n != ErrTaskFailed || c != "disk full" {
		t.Errorf("plain error: %q %q", n, c)
	}
	panicky := ResourcesFunc(func(context.Context, string, json.RawMessage) (json.RawMessage, error) { panic("boom") })
	if n, c := mustFail(t, def, `{}`, panicky); n != ErrTaskFailed || !strings.Contains(c, "boom") {
		t.Errorf("panic: %q %q", n, c)
	}
	huge := fixed(`"` + strings.Repeat("x", lambdaMaxResponseBytes) + `"`)
	if n, _ := mustFail(t, def, `{}`, huge); n != ErrLambdaResponseTooLarge {
		t.Errorf("huge response: %q", n)
	}
	if n, c := mustFail(t, def, `{}`, nil); n != ErrTaskFailed || !strings.Contains(c, "no Resources") {
		t.Errorf("no Resources: %q %q", n, c)
	}
}

// The older Map spelling, Iterator with Parameters, means ItemProcessor
// with ItemSelector.
func TestMapLegacyFields(t *testing.T) {
	def := `{"StartAt":"M","States":{"M":{"Type":"Map","InputPath":"$.in","ItemsPath":"$.xs",
		"Parameters":{"x.$":"$$.Map.Item.Value","k.$":"$.k"},
		"Iterator":{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"y.$":"States.Format('{}{}', $.k, $.x)"},"OutputPath":"$.y","End":true}}},
		"ResultSelector":{"ys.$":"$"},"End":true}}}`
	assertJSON(t, mustSucceed(t, def, `{"in":{"k":"v","xs":[1,2,3]}}`, nil), `{"ys":["v1","v2","v3"]}`)
	if name, _ := mustFail(t, def, `{"in":{"k":"v","xs":"nope"}}`, nil); name != ErrRuntime {
		t.Errorf("ItemsPath on a string: %q, want States.Runtime", name)
	}
}

// Many executions of one Machine may run at once.
func TestConcurrentExecutions(t *testing.T) {
	m, err := Parse([]byte(`{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","Payload.$":"$"},"OutputPath":"$.Payload","Next":"W"},"W":{"Type":"Wait","Seconds":1,"End":true}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Clock, m.Resources = NewVirtualClock(testStart), echo
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			in := fmt.Sprintf(`{"i":%d}`, i)
			_, d, err := m.Run(context.Background(), fmt.Sprintf("c-%d", i), json.RawMessage(in))
			if err != nil || d.Status != StatusSucceeded || string(d.Output) != in {
				t.Errorf("execution %d: %v %s %s", i, err, d.Status, d.Output)
			}
		}(i)
	}
	wg.Wait()
	if n := len(m.Executions()); n != 20 {
		t.Errorf("%d executions recorded, want 20", n)
	}
}
