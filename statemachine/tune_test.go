package statemachine

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// tuneSubstitutions are the DefinitionSubstitutions tune.asl.json needs;
// the Lambda ARNs double as handler names in fakeWorkflow.
var tuneSubstitutions = map[string]string{
	"ValidateFunctionArn":   "arn:aws:lambda:us-east-1:123456789012:function:lorafn-validate",
	"PrepFunctionArn":       "arn:aws:lambda:us-east-1:123456789012:function:lorafn-prep",
	"TrainFunctionArn":      "arn:aws:lambda:us-east-1:123456789012:function:lorafn-train",
	"EvaluateFunctionArn":   "arn:aws:lambda:us-east-1:123456789012:function:lorafn-evaluate",
	"PromoteFunctionArn":    "arn:aws:lambda:us-east-1:123456789012:function:lorafn-promote",
	"MarkFailedFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:lorafn-markfailed",
	"BatchJobQueueArn":      "arn:aws:batch:us-east-1:123456789012:job-queue/lorafn-gpu",
	"BatchJobDefinitionArn": "arn:aws:batch:us-east-1:123456789012:job-definition/lorafn-train:1",
}

// fakeWorkflow stands in for the Lambda functions and the Batch job,
// following the contracts in README.md: each run trains totalSteps steps,
// stepsPerChunk per TrainChunk invocation, and remembers what happened.
type fakeWorkflow struct {
	mu            sync.Mutex
	totalSteps    int
	stepsPerChunk int
	maxChunks     int // maxChunksPerSegment returned by validate
	backend       string
	passGate      bool
	trainErrs     []error // returned by the first train calls, in turn
	runs          map[string]*fakeRun
	calls         []string // handler names in call order
	markFailed    []map[string]any
	promoteIn     []map[string]any
	batchParams   []map[string]any
}

type fakeRun struct {
	step     int
	finished bool
	chunks   []string // "segment/chunk" per train call
}

func newFakeWorkflow(totalSteps, stepsPerChunk, maxChunks int) *fakeWorkflow {
	return &fakeWorkflow{totalSteps: totalSteps, stepsPerChunk: stepsPerChunk, maxChunks: maxChunks,
		backend: "lambda", passGate: true, runs: map[string]*fakeRun{}}
}

func (w *fakeWorkflow) Invoke(_ context.Context, resource string, params json.RawMessage) (json.RawMessage, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var in map[string]any
	if err := json.Unmarshal(params, &in); err != nil {
		return nil, err
	}
	handler := resource[strings.LastIndex(resource, "lorafn-")+len("lorafn-"):]
	if resource == resBatchSubmitSync {
		handler = "batch"
	}
	w.calls = append(w.calls, handler)
	reply := func(v any) (json.RawMessage, error) { return json.Marshal(v) }
	switch handler {
	case "validate":
		req := in["request"].(map[string]any)
		if req["resume"] == true {
			return reply(map[string]any{"runId": req["runId"], "duplicate": false, "resume": true, "segment": req["segment"], "maxChunksPerSegment": w.maxChunks})
		}
		runID := "run-" + fmt.Sprint(req["dataset"])
		if _, claimed := w.runs[runID]; claimed {
			return reply(map[string]any{"runId": runID, "duplicate": true, "resume": false, "segment": 0, "maxChunksPerSegment": w.maxChunks})
		}
		w.runs[runID] = &fakeRun{}
		return reply(map[string]any{"runId": runID, "duplicate": false, "resume": false, "segment": 0, "maxChunksPerSegment": w.maxChunks})
	case "prep":
		return reply(map[string]any{"backend": w.backend, "totalSteps": w.totalSteps, "reason": "configured"})
	case "train":
		if len(w.trainErrs) > 0 {
			err := w.trainErrs[0]
			w.trainErrs = w.trainErrs[1:]
			return nil, err
		}
		r := w.runs[in["runId"].(string)]
		r.step = min(w.totalSteps, r.step+w.stepsPerChunk)
		r.chunks = append(r.chunks, fmt.Sprintf("%v/%v", in["segment"], in["chunk"]))
		return reply(map[string]any{"done": r.step >= w.totalSteps, "step": r.step})
	case "batch":
		w.batchParams = append(w.batchParams, in)
		r := w.runs[in["Parameters"].(map[string]any)["runId"].(string)]
		r.step = w.totalSteps
		return reply(map[string]any{"JobId": "job-1", "JobName": in["JobName"], "Status": "SUCCEEDED", "StatusReason": "Essential container in task exited"})
	case "evaluate":
		return reply(map[string]any{"pass": w.passGate, "reasons": []string{"validation loss 1.2 < base 1.9"},
			"valLoss": 1.2, "baseValLoss": 1.9, "report": "reports/" + in["runId"].(string) + "/"})
	case "promote":
		w.promoteIn = append(w.promoteIn, in)
		w.runs[in["runId"].(string)].finished = true
		pass := in["evaluation"].(map[string]any)["pass"] == true
		return reply(map[string]any{"promoted": pass, "version": in["runId"], "path": "adapters/demo/" + in["runId"].(string) + "/", "reason": "gate"})
	case "markfailed":
		w.markFailed = append(w.markFailed, in)
		return reply(map[string]any{})
	}
	return nil, fmt.Errorf("no handler for %s", resource)
}

func loadTune(t *testing.T, w *fakeWorkflow) (*Machine, *VirtualClock) {
	t.Helper()
	def, err := os.ReadFile("tune.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Parse(def, tuneSubstitutions)
	if err != nil {
		t.Fatalf("Parse(tune.asl.json): %v", err)
	}
	clk := NewVirtualClock(testStart)
	m.Name, m.Clock, m.Resources = "lorafn-tune", clk, w
	return m, clk
}

// waitAll waits for every execution of m to end, including the ones
// started by continue-as-new while waiting.
func waitAll(t *testing.T, m *Machine) []*Execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		all := m.Executions()
		for _, e := range all {
			if _, err := e.Wait(ctx); err != nil {
				t.Fatalf("waiting for %s: %v", e.Name(), err)
			}
		}
		if len(m.Executions()) == len(all) {
			return all
		}
	}
}

// The whole workflow on the Lambda path: with 10 steps, one step per chunk
// and at most 3 chunks per execution, the run continues as new executions
// <runId>-s1, -s2, -s3; every chunk runs exactly once and in order, and
// the last segment evaluates and promotes.
func TestTuneEndToEndContinueAsNew(t *testing.T) {
	w := newFakeWorkflow(10, 1, 3)
	m, _ := loadTune(t, w)
	d, _ := runOn(t, m, "upload-1", `{"dataset":"demo","bucket":"b","key":"datasets/demo/_READY","source":"s3"}`)
	if d.Status != StatusSucceeded {
		t.Fatalf("first segment: %s %s %s", d.Status, d.Error, d.Cause)
	}
	execs := waitAll(t, m)
	var names []string
	for _, e := range execs {
		names = append(names, e.Name())
		if d := e.Describe(); d.Status != StatusSucceeded {
			t.Errorf("%s: %s %s %s", e.Name(), d.Status, d.Error, d.Cause)
		}
	}
	if want := []string{"upload-1", "run-demo-s1", "run-demo-s2", "run-demo-s3"}; !slices.Equal(names, want) {
		t.Fatalf("executions %v, want %v", names, want)
	}
	r := w.runs["run-demo"]
	wantChunks := []string{"0/0", "0/1", "0/2", "1/0", "1/1", "1/2", "2/0", "2/1", "2/2", "3/0"}
	if !slices.Equal(r.chunks, wantChunks) || r.step != 10 || !r.finished {
		t.Errorf("chunks %v (want %v), step %d, promoted %v", r.chunks, wantChunks, r.step, r.finished)
	}
	// Each continuation gets exactly {runId, segment, resume}: validate
	// decodes requests strictly.
	s1, _ := m.Execution("run-demo-s1")
	if got := string(s1.Describe().Input); got != `{"resume":true,"runId":"run-demo","segment":1}` {
		t.Errorf("continuation input %s", got)
	}
	last, _ := m.Execution("run-demo-s3")
	var out map[string]any
	if err := json.Unmarshal(last.Describe().Output, &out); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out["promote"]) != "map[path:adapters/demo/run-demo/ promoted:true reason:gate version:run-demo]" ||
		fmt.Sprint(out["evaluation"]) != "map[verdict:map[baseValLoss:1.9 pass:true reasons:[validation loss 1.2 < base 1.9] report:reports/run-demo/ valLoss:1.2]]" {
		t.Errorf("final output %v", out)
	}
	// Promote gets the whole verdict.
	if fmt.Sprint(w.promoteIn) != "[map[evaluation:map[baseValLoss:1.9 pass:true reasons:[validation loss 1.2 < base 1.9] report:reports/run-demo/ valLoss:1.2] runId:run-demo]]" {
		t.Errorf("promote input %v", w.promoteIn)
	}
	// Segments that hand over end in HandedOver; the last in Finished.
	for i, e := range execs {
		h := e.History()
		lastState := ""
		for _, ev := range h {
			if strings.HasSuffix(ev.Type, "StateEntered") {
				lastState = ev.StateName
			}
		}
		want := "HandedOver"
		if i == len(execs)-1 {
			want = "Finished"
		}
		if lastState != want {
			t.Errorf("%s ended in %s, want %s", e.Name(), lastState, want)
		}
	}

	// A duplicate trigger for the same dataset ends at once, without work.
	calls := len(w.calls)
	d, _ = runOn(t, m, "upload-2", `{"dataset":"demo","bucket":"b","key":"datasets/demo/_READY","source":"s3"}`)
	if d.Status != StatusSucceeded || !slices.Equal(w.calls[calls:], []string{"validate"}) {
		t.Errorf("duplicate trigger: %s, calls %v", d.Status, w.calls[calls:])
	}
}

// With the default 500 chunks per segment an execution's history stays
// far below the 25,000-event cap; without continue-as-new the same loop
// reaches it.
func TestTuneHistoryStaysUnderCap(t *testing.T) {
	w := newFakeWorkflow(1200, 1, 500)
	m, _ := loadTune(t, w)
	if d, _ := runOn(t, m, "big", `{"dataset":"big"}`); d.Status != StatusSucceeded {
		t.Fatalf("%s %s %s", d.Status, d.Error, d.Cause)
	}
	execs := waitAll(t, m)
	if len(execs) != 3 {
		t.Fatalf("%d executions, want 3 (500 + 500 + 200 chunks)", len(execs))
	}
	longest := 0
	for _, e := range execs {
		longest = max(longest, len(e.History()))
		if d := e.Describe(); d.Status != StatusSucceeded {
			t.Errorf("%s: %s %s", e.Name(), d.Status, d.Cause)
		}
	}
	// Task (5) + CountChunk (2) + MoreChunks (2) = 9 events per chunk.
	if longest < 500*9 || longest > 500*9+40 {
		t.Errorf("longest history has %d events, want about %d", longest, 500*9)
	}
	if len(w.runs["run-big"].chunks) != 1200 {
		t.Errorf("%d chunks, want 1200", len(w.runs["run-big"].chunks))
	}

	// The same run with no continuation (N above the run's chunk count)
	// and a cap scaled down 100x fails at the cap.
	w = newFakeWorkflow(1200, 1, 100000)
	m, _ = loadTune(t, w)
	m.HistoryLimit = 250
	d, h := runOn(t, m, "capped", `{"dataset":"capped"}`)
	if d.Status != StatusFailed || d.Error != ErrRuntime || !strings.Contains(d.Cause, "maximum number of history events") || len(h) != 251 {
		t.Errorf("capped run: %s %s %q, %d events", d.Status, d.Error, d.Cause, len(h))
	}
}

func TestTuneBatchBranch(t *testing.T) {
	w := newFakeWorkflow(10, 1, 3)
	w.backend = "batch"
	m, _ := loadTune(t, w)
	d, h := runOn(t, m, "gpu", `{"dataset":"large"}`)
	if d.Status != StatusSucceeded {
		t.Fatalf("%s %s %s", d.Status, d.Error, d.Cause)
	}
	if want := []string{"validate", "prep", "batch", "evaluate", "promote"}; !slices.Equal(w.calls, want) {
		t.Errorf("calls %v, want %v", w.calls, want)
	}
	p := w.batchParams[0]
	if p["JobName"] != "lorafn-run-large" || p["JobQueue"] != tuneSubstitutions["BatchJobQueueArn"] || p["JobDefinition"] != tuneSubstitutions["BatchJobDefinitionArn"] ||
		fmt.Sprint(p["ContainerOverrides"]) != "map[Environment:[map[Name:LORAFN_RUN_ID Value:run-large]]]" {
		t.Errorf("submitJob parameters %v", p)
	}
	if !slices.Contains(eventTypes(h), "TaskSubmitted") {
		t.Error("no TaskSubmitted event for the .sync job")
	}
	var out map[string]any
	_ = json.Unmarshal(d.Output, &out)
	if fmt.Sprint(out["batch"]) != "map[jobId:job-1 status:SUCCEEDED]" {
		t.Errorf("batch result %v", out["batch"])
	}
}

// Transient Lambda errors are retried with backoff; a task error is caught,
// MarkFailed records the reason, and the execution fails with that error.
func TestTuneRetryAndFailure(t *testing.T) {
	w := newFakeWorkflow(2, 1, 10)
	w.trainErrs = []error{
		&TaskError{Name: ErrLambdaTooManyRequests, Cause: "Rate exceeded"},
		&TaskError{Name: ErrLambdaServiceException, Cause: "internal"},
	}
	m, clk := loadTune(t, w)
	d, _ := runOn(t, m, "flaky", `{"dataset":"flaky"}`)
	if d.Status != StatusSucceeded || len(w.runs["run-flaky"].chunks) != 2 {
		t.Fatalf("%s %s %s, chunks %v", d.Status, d.Error, d.Cause, w.runs["run-flaky"].chunks)
	}
	// Two retries: jittered delays within [0, 2 s] and [0, 4 s].
	if s := clk.Slept(); s <= 0 || s > 6*time.Second {
		t.Errorf("slept %s for two retries, want (0, 6s]", s)
	}

	w = newFakeWorkflow(5, 1, 10)
	w.trainErrs = []error{&TaskError{Name: "Train.BadDataset", Cause: "data.jsonl:7: missing \"text\""}}
	m, _ = loadTune(t, w)
	d, _ = runOn(t, m, "bad", `{"dataset":"bad"}`)
	if d.Status != StatusFailed || d.Error != "Train.BadDataset" || d.Cause != `data.jsonl:7: missing "text"` {
		t.Errorf("got %s %s %q", d.Status, d.Error, d.Cause)
	}
	if fmt.Sprint(w.markFailed) != `[map[error:map[Cause:data.jsonl:7: missing "text" Error:Train.BadDataset] runId:run-bad]]` {
		t.Errorf("MarkFailed got %v", w.markFailed)
	}
	if slices.Contains(w.calls, "promote") || slices.Contains(w.calls, "evaluate") {
		t.Errorf("a failed run went on: %v", w.calls)
	}

	// A chunk that outlives TimeoutSeconds is retried (it restarts from
	// LATEST), then succeeds.
	w = newFakeWorkflow(1, 1, 10)
	m, clk = loadTune(t, w)
	slowOnce := true
	m.Resources = ResourcesFunc(func(ctx context.Context, res string, p json.RawMessage) (json.RawMessage, error) {
		if strings.HasSuffix(res, "lorafn-train") && slowOnce {
			slowOnce = false
			if err := clk.Sleep(ctx, time.Hour); err != nil {
				return nil, err
			}
		}
		return w.Invoke(ctx, res, p)
	})
	if d, _ := runOn(t, m, "slow", `{"dataset":"slow"}`); d.Status != StatusSucceeded {
		t.Errorf("after a timed-out chunk: %s %s %s", d.Status, d.Error, d.Cause)
	}

	// A quality gate that fails goes through RecordRejection (the promote
	// function, which records the verdict and finishes the run) to
	// NotPromoted.
	w = newFakeWorkflow(1, 1, 10)
	w.passGate = false
	m, _ = loadTune(t, w)
	d, h := runOn(t, m, "meh", `{"dataset":"meh"}`)
	var entered []string
	for _, ev := range h {
		if strings.HasSuffix(ev.Type, "StateEntered") {
			entered = append(entered, ev.StateName)
		}
	}
	if d.Status != StatusSucceeded || !slices.Equal(entered[len(entered)-3:], []string{"Gate", "RecordRejection", "NotPromoted"}) ||
		!strings.Contains(string(d.Output), `"promoted":false`) {
		t.Errorf("gate rejected: %s, states %v, output %s", d.Status, entered, d.Output)
	}
}

// Every ${Name} in tune.asl.json has a substitution here, and every
// substitution is used, so the deployment template can be checked against
// the same list.
func TestTuneSubstitutionsComplete(t *testing.T) {
	def, err := os.ReadFile("tune.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for _, m := range regexp.MustCompile(`\$\{([A-Za-z0-9]+)\}`).FindAllStringSubmatch(string(def), -1) {
		used[m[1]] = true
	}
	var missing, unused []string
	for k := range used {
		if _, ok := tuneSubstitutions[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range tuneSubstitutions {
		if !used[k] {
			unused = append(unused, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(unused)
	if len(missing)+len(unused) > 0 {
		t.Errorf("substitutions missing %v, unused %v", missing, unused)
	}
}
