package twin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lorafn/lorafn/statemachine"
)

// machine is a created state machine.
type machine struct {
	Name       string    `json:"name"`
	ARN        string    `json:"arn"`
	Definition string    `json:"definition"`
	RoleARN    string    `json:"roleArn"`
	Type       string    `json:"type"`
	Created    time.Time `json:"created"`

	m *statemachine.Machine
}

// execRecord is what the twin keeps of an execution: the interpreter's
// execution while it lives, its description and history once stored.
type execRecord struct {
	Machine     string                   `json:"machine"`
	Description statemachine.Description `json:"description"`
	History     []statemachine.Event     `json:"history"`

	live *statemachine.Execution
}

func (rec *execRecord) describe() statemachine.Description {
	if rec.live != nil {
		return rec.live.Describe()
	}
	return rec.Description
}

func (rec *execRecord) history() []statemachine.Event {
	if rec.live != nil {
		return rec.live.History()
	}
	return rec.History
}

// compile parses a machine's definition and wires it to the twin.
func (t *Twin) compile(m *machine) error {
	sm, err := statemachine.Parse([]byte(m.Definition), nil)
	if err != nil {
		return err
	}
	sm.Name, sm.ARN = m.Name, m.ARN
	sm.Resources = &resources{t: t}
	m.m = sm
	return nil
}

func (t *Twin) serveStates(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
	var out any
	var err error
	switch op {
	case "CreateStateMachine":
		out, err = t.createStateMachine(r)
	case "DescribeStateMachine":
		out, err = t.describeStateMachine(r)
	case "ListStateMachines":
		out, err = t.listStateMachines()
	case "StartExecution":
		out, err = t.startExecutionAPI(r)
	case "DescribeExecution":
		out, err = t.describeExecution(r)
	case "ListExecutions":
		out, err = t.listExecutions(r)
	case "GetExecutionHistory":
		out, err = t.getExecutionHistory(r)
	case "StopExecution":
		out, err = t.stopExecution(r)
	default:
		err = badRequest("UnknownOperationException", "Step Functions operation %q is not supported by lorafn local", op)
	}
	if err != nil {
		writeError(w, awsJSON, err)
		return
	}
	writeJSON(w, awsJSON, http.StatusOK, out)
}

func (t *Twin) createStateMachine(r *http.Request) (any, error) {
	var in struct {
		Name       string `json:"name"`
		Definition string `json:"definition"`
		RoleARN    string `json:"roleArn"`
		Type       string `json:"type"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if in.Type == "" {
		in.Type = "STANDARD"
	}
	if in.Type != "STANDARD" {
		return nil, badRequest("ValidationException", "type %s: lorafn local runs STANDARD state machines only", in.Type)
	}
	if err := statemachine.ValidateExecutionName(in.Name); err != nil {
		return nil, badRequest("InvalidName", "state machine name %q: %v", in.Name, err)
	}
	m := &machine{Name: in.Name, ARN: t.arn("states", "stateMachine:"+in.Name), Definition: in.Definition, RoleARN: in.RoleARN, Type: in.Type, Created: time.Now().UTC()}
	if err := t.compile(m); err != nil {
		return nil, badRequest("InvalidDefinition", "%v", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.machines[in.Name]; ok {
		if old.Definition != in.Definition || old.RoleARN != in.RoleARN {
			return nil, badRequest("StateMachineAlreadyExists", "state machine %s already exists with another definition", in.Name)
		}
		return map[string]any{"stateMachineArn": old.ARN, "creationDate": epoch(old.Created)}, nil
	}
	t.machines[in.Name] = m
	if err := t.save(); err != nil {
		return nil, err
	}
	t.logf("state machine %s created", m.ARN)
	return map[string]any{"stateMachineArn": m.ARN, "creationDate": epoch(m.Created)}, nil
}

// machineByARN finds a state machine by ARN or name.
func (t *Twin) machineByARN(arn string) (*machine, error) {
	name := arn
	if i := strings.LastIndex(arn, ":stateMachine:"); i >= 0 {
		name = arn[i+len(":stateMachine:"):]
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	m, ok := t.machines[name]
	if !ok {
		return nil, badRequest("StateMachineDoesNotExist", "state machine %s does not exist", arn)
	}
	return m, nil
}

func (t *Twin) describeStateMachine(r *http.Request) (any, error) {
	var in struct {
		ARN string `json:"stateMachineArn"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	m, err := t.machineByARN(in.ARN)
	if err != nil {
		return nil, err
	}
	return map[string]any{
		"stateMachineArn": m.ARN, "name": m.Name, "status": "ACTIVE", "definition": m.Definition,
		"roleArn": m.RoleARN, "type": m.Type, "creationDate": epoch(m.Created),
	}, nil
}

func (t *Twin) listStateMachines() (any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := []map[string]any{}
	for _, m := range t.machines {
		list = append(list, map[string]any{"stateMachineArn": m.ARN, "name": m.Name, "type": m.Type, "creationDate": epoch(m.Created)})
	}
	sort.Slice(list, func(i, j int) bool { return list[i]["name"].(string) < list[j]["name"].(string) })
	return map[string]any{"stateMachines": list}, nil
}

// StartExecution starts an execution of the state machine arn (as the
// EventBridge and Scheduler targets do) and returns its ARN.
func (t *Twin) StartExecution(arn, name string, input json.RawMessage) (string, error) {
	m, err := t.machineByARN(arn)
	if err != nil {
		return "", err
	}
	if name != "" {
		// A name stays taken across restarts, as for 90 days in the service.
		t.mu.Lock()
		rec, ok := t.records[strings.Replace(m.ARN, ":stateMachine:", ":execution:", 1)+":"+name]
		t.mu.Unlock()
		if ok && rec.live == nil {
			return "", badRequest("ExecutionAlreadyExists", "execution %s already exists (%s)", name, rec.Description.Status)
		}
	}
	e, err := m.m.Start(t.ctx, name, input)
	var api *statemachine.APIError
	if errors.As(err, &api) {
		return "", badRequest(api.Code, "%s", api.Message)
	}
	if err != nil {
		return "", err
	}
	t.track(m, e)
	return e.ARN(), nil
}

// track records an execution and the ones it starts by continue-as-new,
// and stores each when it ends.
func (t *Twin) track(m *machine, e *statemachine.Execution) {
	t.mu.Lock()
	if _, ok := t.records[e.ARN()]; ok {
		t.mu.Unlock()
		return
	}
	rec := &execRecord{Machine: m.Name, live: e}
	t.records[e.ARN()] = rec
	t.mu.Unlock()
	t.logf("execution %s started", e.ARN())
	if err := t.storeRecord(rec, e.Describe(), nil); err != nil {
		t.logf("storing execution %s: %v", e.ARN(), err)
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		<-e.Done()
		d := e.Describe()
		t.logf("execution %s %s %s", e.ARN(), d.Status, d.Error)
		if err := t.storeRecord(rec, d, e.History()); err != nil {
			t.logf("storing execution %s: %v", e.ARN(), err)
		}
		// Executions this one started (continue-as-new) are tracked too.
		for _, child := range m.m.Executions() {
			t.track(m, child)
		}
	}()
}

func (t *Twin) recordPath(d statemachine.Description) string {
	name := strings.NewReplacer(":", "_", "/", "_").Replace(d.ExecutionArn)
	return filepath.Join(t.opts.Dir, "executions", name+".json")
}

func (t *Twin) storeRecord(rec *execRecord, d statemachine.Description, history []statemachine.Event) error {
	if t.opts.Dir == "" {
		return nil
	}
	stored := execRecord{Machine: rec.Machine, Description: d, History: history}
	data, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	return writeAtomic(t.recordPath(d), data)
}

// loadRecords reads the stored executions. Running ones were cut short by
// a stop of the twin.
func (t *Twin) loadRecords() error {
	dir := filepath.Join(t.opts.Dir, "executions")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("twin: %w", err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return fmt.Errorf("twin: %w", err)
		}
		rec := &execRecord{}
		if err := json.Unmarshal(data, rec); err != nil {
			return fmt.Errorf("twin: %s: %w", e.Name(), err)
		}
		if rec.Description.Status == statemachine.StatusRunning {
			rec.Description.Status = statemachine.StatusAborted
			rec.Description.Error, rec.Description.Cause = "States.Runtime", "lorafn local stopped while the execution ran"
			rec.Description.StopDate = time.Now().UTC()
		}
		t.records[rec.Description.ExecutionArn] = rec
	}
	return nil
}

func (t *Twin) startExecutionAPI(r *http.Request) (any, error) {
	var in struct {
		ARN   string `json:"stateMachineArn"`
		Name  string `json:"name"`
		Input string `json:"input"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	arn, err := t.StartExecution(in.ARN, in.Name, json.RawMessage(in.Input))
	if err != nil {
		return nil, err
	}
	rec, _ := t.record(arn)
	return map[string]any{"executionArn": arn, "startDate": epoch(rec.describe().StartDate)}, nil
}

func (t *Twin) record(arn string) (*execRecord, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	rec, ok := t.records[arn]
	if !ok {
		return nil, badRequest("ExecutionDoesNotExist", "execution %s does not exist", arn)
	}
	return rec, nil
}

func describeJSON(d statemachine.Description) map[string]any {
	out := map[string]any{
		"executionArn": d.ExecutionArn, "stateMachineArn": d.StateMachineArn, "name": d.Name,
		"status": d.Status, "startDate": epoch(d.StartDate), "input": string(d.Input),
	}
	if !d.StopDate.IsZero() {
		out["stopDate"] = epoch(d.StopDate)
	}
	if d.Output != nil {
		out["output"] = string(d.Output)
	}
	if d.Error != "" {
		out["error"] = d.Error
	}
	if d.Cause != "" {
		out["cause"] = d.Cause
	}
	return out
}

func (t *Twin) describeExecution(r *http.Request) (any, error) {
	var in struct {
		ARN string `json:"executionArn"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	rec, err := t.record(in.ARN)
	if err != nil {
		return nil, err
	}
	return describeJSON(rec.describe()), nil
}

func (t *Twin) listExecutions(r *http.Request) (any, error) {
	var in struct {
		ARN    string `json:"stateMachineArn"`
		Status string `json:"statusFilter"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	m, err := t.machineByARN(in.ARN)
	if err != nil {
		return nil, err
	}
	// Continue-as-new executions may not be tracked yet.
	for _, e := range m.m.Executions() {
		t.track(m, e)
	}
	t.mu.Lock()
	var ds []statemachine.Description
	for _, rec := range t.records {
		if rec.Machine == m.Name {
			ds = append(ds, rec.describe())
		}
	}
	t.mu.Unlock()
	sort.Slice(ds, func(i, j int) bool { return ds[i].StartDate.After(ds[j].StartDate) })
	list := []map[string]any{}
	for _, d := range ds {
		if in.Status != "" && string(d.Status) != in.Status {
			continue
		}
		item := map[string]any{"executionArn": d.ExecutionArn, "stateMachineArn": d.StateMachineArn, "name": d.Name, "status": d.Status, "startDate": epoch(d.StartDate)}
		if !d.StopDate.IsZero() {
			item["stopDate"] = epoch(d.StopDate)
		}
		list = append(list, item)
	}
	return map[string]any{"executions": list}, nil
}

func (t *Twin) getExecutionHistory(r *http.Request) (any, error) {
	var in struct {
		ARN     string `json:"executionArn"`
		Reverse bool   `json:"reverseOrder"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	rec, err := t.record(in.ARN)
	if err != nil {
		return nil, err
	}
	events := []map[string]any{}
	for _, ev := range rec.history() {
		events = append(events, historyJSON(ev))
	}
	if in.Reverse {
		for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
			events[i], events[j] = events[j], events[i]
		}
	}
	return map[string]any{"events": events}, nil
}

// historyJSON renders an event in GetExecutionHistory's shape: common
// fields plus a "<type>EventDetails" member.
func historyJSON(ev statemachine.Event) map[string]any {
	out := map[string]any{"id": ev.ID, "previousEventId": ev.PreviousEventID, "timestamp": epoch(ev.Timestamp), "type": ev.Type}
	details := map[string]any{}
	if ev.StateName != "" {
		details["name"] = ev.StateName
	}
	if ev.Resource != "" {
		details["resource"] = ev.Resource
	}
	if ev.Input != nil {
		details["input"] = string(ev.Input)
	}
	if ev.Output != nil {
		details["output"] = string(ev.Output)
	}
	if ev.Error != "" {
		details["error"] = ev.Error
	}
	if ev.Cause != "" {
		details["cause"] = ev.Cause
	}
	key := strings.ToLower(ev.Type[:1]) + ev.Type[1:] + "EventDetails"
	switch {
	case strings.HasSuffix(ev.Type, "StateEntered"):
		key = "stateEnteredEventDetails"
	case strings.HasSuffix(ev.Type, "StateExited"):
		key = "stateExitedEventDetails"
	}
	if len(details) > 0 {
		out[key] = details
	}
	return out
}

func (t *Twin) stopExecution(r *http.Request) (any, error) {
	var in struct {
		ARN   string `json:"executionArn"`
		Error string `json:"error"`
		Cause string `json:"cause"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	rec, err := t.record(in.ARN)
	if err != nil {
		return nil, err
	}
	if rec.live != nil {
		rec.live.Stop(in.Error, in.Cause)
		<-rec.live.Done()
	}
	return map[string]any{"stopDate": epoch(rec.describe().StopDate)}, nil
}

// resources runs the Task states of every state machine: Lambda functions
// created in the twin and Batch jobs.
type resources struct{ t *Twin }

func (res *resources) Invoke(ctx context.Context, resource string, params json.RawMessage) (json.RawMessage, error) {
	switch {
	case strings.HasPrefix(resource, "arn:aws:states:::batch:submitJob"):
		return res.t.batchTask(ctx, params, strings.HasSuffix(resource, ".sync"))
	case strings.HasPrefix(resource, "arn:aws:states:::"):
		return nil, &statemachine.TaskError{Name: "States.Runtime", Cause: "lorafn local does not run " + resource}
	}
	out, fnErr, err := res.t.invoke(ctx, resource, params)
	if err != nil {
		var ae *apiError
		if errors.As(err, &ae) {
			return nil, &statemachine.TaskError{Name: "Lambda." + ae.code, Cause: ae.message}
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, &statemachine.TaskError{Name: "Lambda.Unknown", Cause: err.Error()}
		}
		return nil, &statemachine.TaskError{Name: "Lambda.ServiceException", Cause: err.Error()}
	}
	if fnErr {
		var e struct {
			Type string `json:"errorType"`
		}
		json.Unmarshal(out, &e)
		if e.Type == "" || e.Type == "Sandbox.Timedout" {
			// What the Lambda integration reports for a function killed at
			// its timeout; the workflow retries it.
			e.Type = "Lambda.Unknown"
		}
		return nil, &statemachine.TaskError{Name: e.Type, Cause: string(out)}
	}
	return out, nil
}
