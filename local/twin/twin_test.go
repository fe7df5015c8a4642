package twin

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// awsJSONCall sends an AWS JSON request (Step Functions, EventBridge).
func awsJSONCall(t *testing.T, endpoint, target string, body any) (int, map[string]any) {
	t.Helper()
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader(data))
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	return do(t, req)
}

func restCall(t *testing.T, method, url string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, url, r)
	req.Header.Set("Content-Type", "application/json")
	return do(t, req)
}

func do(t *testing.T, req *http.Request) (int, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	data, _ := io.ReadAll(resp.Body)
	json.Unmarshal(data, &out)
	if out == nil {
		out = map[string]any{}
	}
	out["_header"] = resp.Header
	return resp.StatusCode, out
}

const waitMachine = `{"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Done"}, "Done": {"Type": "Pass", "Result": {"ok": true}, "End": true}}}`

func createMachine(t *testing.T, endpoint, name string) string {
	t.Helper()
	code, out := awsJSONCall(t, endpoint, "AWSStepFunctions.CreateStateMachine", map[string]any{"name": name, "definition": waitMachine, "roleArn": "arn:aws:iam::000000000000:role/x"})
	if code != http.StatusOK {
		t.Fatalf("CreateStateMachine: %d %v", code, out)
	}
	return out["stateMachineArn"].(string)
}

func waitStatus(t *testing.T, endpoint, arn, want string) map[string]any {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, d := awsJSONCall(t, endpoint, "AWSStepFunctions.DescribeExecution", map[string]string{"executionArn": arn})
		if d["status"] == want {
			return d
		}
		if d["status"] != "RUNNING" {
			t.Fatalf("execution %s: %v, want %s", arn, d, want)
		}
	}
	t.Fatalf("execution %s never reached %s", arn, want)
	return nil
}

func TestStepFunctionsErrorsAreTyped(t *testing.T) {
	_, endpoint := startTwin(t, Options{Lambda: LambdaInProcess})
	code, out := awsJSONCall(t, endpoint, "AWSStepFunctions.StartExecution", map[string]string{"stateMachineArn": "arn:aws:states:us-east-1:000000000000:stateMachine:none"})
	if code != http.StatusBadRequest || out["__type"] != "StateMachineDoesNotExist" {
		t.Fatalf("%d %v", code, out)
	}
	code, out = awsJSONCall(t, endpoint, "AWSStepFunctions.CreateStateMachine", map[string]any{"name": "bad", "definition": `{"StartAt": "X", "States": {}}`})
	if code != http.StatusBadRequest || out["__type"] != "InvalidDefinition" {
		t.Fatalf("%d %v", code, out)
	}
	arn := createMachine(t, endpoint, "m")
	start := map[string]string{"stateMachineArn": arn, "name": "once", "input": `{"wait": 0}`}
	_, out = awsJSONCall(t, endpoint, "AWSStepFunctions.StartExecution", start)
	waitStatus(t, endpoint, out["executionArn"].(string), "SUCCEEDED")
	code, out = awsJSONCall(t, endpoint, "AWSStepFunctions.StartExecution", start)
	if code != http.StatusBadRequest || out["__type"] != "ExecutionAlreadyExists" {
		t.Fatalf("reused name: %d %v", code, out)
	}
}

// TestStateSurvivesRestart stops a twin with a data directory and starts
// another on it: what was created is still there, finished executions keep
// their results and a running one is reported aborted.
func TestStateSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	tw, endpoint := startTwin(t, Options{Dir: dir, Lambda: LambdaInProcess})
	arn := createMachine(t, endpoint, "keep")
	_, out := awsJSONCall(t, endpoint, "AWSStepFunctions.StartExecution", map[string]string{"stateMachineArn": arn, "name": "done", "input": `{"wait": 0}`})
	finished := out["executionArn"].(string)
	waitStatus(t, endpoint, finished, "SUCCEEDED")
	_, out = awsJSONCall(t, endpoint, "AWSStepFunctions.StartExecution", map[string]string{"stateMachineArn": arn, "name": "cut", "input": `{"wait": 3600}`})
	cut := out["executionArn"].(string)
	if code, out := restCall(t, http.MethodPost, endpoint+"/2015-03-31/functions", functionRequest("fn", "validate")); code != http.StatusCreated {
		t.Fatalf("CreateFunction: %d %v", code, out)
	}
	awsJSONCall(t, endpoint, "AWSEvents.PutRule", map[string]string{"Name": "r", "EventPattern": `{"source": ["aws.s3"]}`})
	restCall(t, http.MethodPost, endpoint+"/schedules/s", map[string]any{"ScheduleExpression": "rate(1 day)", "Target": map[string]string{"Arn": arn}, "FlexibleTimeWindow": map[string]string{"Mode": "OFF"}})
	restCall(t, http.MethodPut, endpoint+"/lorafn", nil)
	if code, _ := restCall(t, http.MethodPut, endpoint+"/lorafn/hello.txt", "hi"); code != http.StatusOK {
		t.Fatalf("PutObject: %d", code)
	}
	tw.Close()

	_, endpoint = startTwin(t, Options{Dir: dir, Lambda: LambdaInProcess})
	_, d := awsJSONCall(t, endpoint, "AWSStepFunctions.DescribeExecution", map[string]string{"executionArn": finished})
	if d["status"] != "SUCCEEDED" || d["output"] != `{"ok":true}` {
		t.Fatalf("finished execution after restart: %v", d)
	}
	_, d = awsJSONCall(t, endpoint, "AWSStepFunctions.DescribeExecution", map[string]string{"executionArn": cut})
	if d["status"] != "ABORTED" {
		t.Fatalf("running execution after restart: %v", d)
	}
	_, h := awsJSONCall(t, endpoint, "AWSStepFunctions.GetExecutionHistory", map[string]string{"executionArn": finished})
	if events, _ := h["events"].([]any); len(events) < 4 {
		t.Fatalf("history after restart: %v", h)
	}
	_, list := awsJSONCall(t, endpoint, "AWSStepFunctions.ListExecutions", map[string]string{"stateMachineArn": arn})
	if execs, _ := list["executions"].([]any); len(execs) != 2 {
		t.Fatalf("executions after restart: %v", list)
	}
	if code, out := restCall(t, http.MethodGet, endpoint+"/2015-03-31/functions/fn", nil); code != http.StatusOK {
		t.Fatalf("GetFunction after restart: %d %v", code, out)
	}
	if code, out := awsJSONCall(t, endpoint, "AWSEvents.DescribeRule", map[string]string{"Name": "r"}); code != http.StatusOK {
		t.Fatalf("DescribeRule after restart: %d %v", code, out)
	}
	if code, out := restCall(t, http.MethodGet, endpoint+"/schedules/s", nil); code != http.StatusOK || out["ScheduleExpression"] != "rate(1 day)" {
		t.Fatalf("GetSchedule after restart: %d %v", code, out)
	}
	resp, err := http.Get(endpoint + "/lorafn/hello.txt")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("object after restart: %v %v", resp, err)
	}
	resp.Body.Close()
	// The name of an execution from before the restart stays taken.
	code, out := awsJSONCall(t, endpoint, "AWSStepFunctions.StartExecution", map[string]string{"stateMachineArn": arn, "name": "done", "input": `{"wait": 0}`})
	if code != http.StatusBadRequest || out["__type"] != "ExecutionAlreadyExists" {
		t.Fatalf("reused name after restart: %d %v", code, out)
	}
}

// functionRequest is a CreateFunction body with a zip holding a bootstrap
// file.
func functionRequest(name, handler string) map[string]any {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("bootstrap")
	w.Write([]byte("#!/bin/sh\n"))
	zw.Close()
	return map[string]any{
		"FunctionName": name, "Runtime": "provided.al2023", "Handler": handler, "Role": "arn:aws:iam::000000000000:role/x",
		"Timeout": 30, "Environment": map[string]any{"Variables": map[string]string{"LORAFN_BUCKET": "lorafn"}},
		"Code": map[string]string{"ZipFile": base64.StdEncoding.EncodeToString(buf.Bytes())},
	}
}

func TestLambdaInvokeFlagsFunctionErrors(t *testing.T) {
	_, endpoint := startTwin(t, Options{Lambda: LambdaInProcess})
	restCall(t, http.MethodPost, endpoint+"/2015-03-31/functions", functionRequest("v", "validate"))
	// validate decodes its payload strictly: an unknown field is the
	// function's error, reported the way Lambda reports it.
	code, out := restCall(t, http.MethodPost, endpoint+"/2015-03-31/functions/v/invocations", map[string]any{"nonsense": 1})
	if code != http.StatusOK || out["_header"].(http.Header).Get("X-Amz-Function-Error") != "Unhandled" || !strings.Contains(out["errorMessage"].(string), "nonsense") {
		t.Fatalf("%d %v", code, out)
	}
	code, out = restCall(t, http.MethodPost, endpoint+"/2015-03-31/functions/missing/invocations", map[string]any{})
	if code != http.StatusNotFound || out["_header"].(http.Header).Get("x-amzn-ErrorType") != "ResourceNotFoundException" {
		t.Fatalf("%d %v", code, out)
	}
	code, out = restCall(t, http.MethodPost, endpoint+"/2015-03-31/functions", map[string]any{"FunctionName": "z", "Runtime": "python3.13", "Code": map[string]string{"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="}})
	if code != http.StatusBadRequest || !strings.Contains(out["message"].(string), "provided.al2023") {
		t.Fatalf("%d %v", code, out)
	}
}

func TestBootstrapArchitectureIsChecked(t *testing.T) {
	f := &function{Config: functionConfig{FunctionName: "f"}}
	exe, err := os.Executable() // this test binary: built for this machine
	if err != nil {
		t.Fatal(err)
	}
	if err := checkArch(f, exe); err != nil {
		t.Fatalf("this machine's binary: %v", err)
	}
	script := filepath.Join(t.TempDir(), "bootstrap")
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	if err := checkArch(f, script); err == nil || !strings.Contains(err.Error(), "not a Linux executable") {
		t.Fatalf("a script: %v", err)
	}
}

// TestSchedulesFireOnTime creates a one-time schedule a second ahead and
// sees its execution start with the scheduled time in its input.
func TestSchedulesFireOnTime(t *testing.T) {
	tw, endpoint := startTwin(t, Options{Lambda: LambdaInProcess, SchedulerTick: 50 * time.Millisecond})
	arn := createMachine(t, endpoint, "sched")
	at := time.Now().UTC().Add(1500 * time.Millisecond).Truncate(time.Second)
	code, out := restCall(t, http.MethodPost, endpoint+"/schedules/once", map[string]any{
		"ScheduleExpression": "at(" + at.Format("2006-01-02T15:04:05") + ")", "FlexibleTimeWindow": map[string]string{"Mode": "OFF"},
		"Target": map[string]string{"Arn": arn, "RoleArn": "arn:aws:iam::000000000000:role/x", "Input": `{"wait": 0, "at": "<aws.scheduler.scheduled-time>"}`},
	})
	if code != http.StatusOK {
		t.Fatalf("CreateSchedule: %d %v", code, out)
	}
	before := tw.executionARNs()
	execARN := newExecution(t, tw, before)
	d := waitStatus(t, endpoint, execARN, "SUCCEEDED")
	if !strings.Contains(d["input"].(string), at.Format(time.RFC3339)) {
		t.Fatalf("input %v, want the scheduled time %s", d["input"], at.Format(time.RFC3339))
	}
	if time.Now().Before(at) {
		t.Fatalf("fired before %s", at)
	}
	// A one-time schedule does not fire again; a disabled one not at all.
	time.Sleep(200 * time.Millisecond)
	if n := len(tw.executionARNs()); n != 1 {
		t.Fatalf("%d executions", n)
	}
	code, _ = restCall(t, http.MethodPost, endpoint+"/schedules/bad", map[string]any{"ScheduleExpression": "cron(0 3 * * * *)", "Target": map[string]string{"Arn": arn}})
	if code != http.StatusBadRequest {
		t.Fatalf("cron with neither day field ?: %d", code)
	}
}

func TestScheduleExpressions(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC) // a Monday
	for _, c := range []struct{ expr, want string }{
		{"cron(0 3 ? * SUN *)", "2026-12-06T03:00:00Z"},
		{"cron(15 10 * * ? 2027)", "2027-01-01T10:15:00Z"},
		{"cron(*/20 * * * ? *)", "2026-11-30T09:20:00Z"},
		{"cron(0 9 1 JAN,JUL ? *)", "2027-01-01T09:00:00Z"},
		{"cron(30 8 ? * MON-FRI *)", "2026-12-01T08:30:00Z"},
		{"rate(5 minutes)", "2026-11-30T09:05:00Z"},
		{"rate(1 day)", "2026-12-01T09:00:00Z"},
		{"at(2026-12-24T18:00:00)", "2026-12-24T18:00:00Z"},
		{"at(2026-01-01T00:00:00)", "0001-01-01T00:00:00Z"}, // past: never
	} {
		e, err := parseExpression(c.expr, time.UTC)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		if got := e.next(now).UTC().Format(time.RFC3339); got != c.want {
			t.Errorf("%s after %s: %s, want %s", c.expr, now.Format(time.RFC3339), got, c.want)
		}
	}
	// Time zones: 03:00 in Berlin is 02:00 UTC in winter.
	berlin, _ := time.LoadLocation("Europe/Berlin")
	e, _ := parseExpression("cron(0 3 * * ? *)", berlin)
	if got := e.next(now).UTC().Format(time.RFC3339); got != "2026-12-01T02:00:00Z" {
		t.Errorf("Berlin: %s", got)
	}
	for _, bad := range []string{"rate(0 minutes)", "rate(5 weeks)", "cron(0 3 * * *)", "cron(0 3 L * ? *)", "cron(61 * * * ? *)", "at(tomorrow)", "every day"} {
		if _, err := parseExpression(bad, time.UTC); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func TestEventPatterns(t *testing.T) {
	event := map[string]any{
		"source": "aws.s3", "detail-type": "Object Created",
		"detail": map[string]any{"bucket": map[string]any{"name": "lorafn"}, "object": map[string]any{"key": "datasets/a/b/train.jsonl", "size": 10.0}},
	}
	for _, c := range []struct {
		pattern string
		match   bool
	}{
		{`{"source": ["aws.s3"]}`, true},
		{`{"source": ["aws.ec2"]}`, false},
		{`{"detail": {"object": {"key": [{"prefix": "datasets/"}]}}}`, true},
		{`{"detail": {"object": {"key": [{"prefix": "runs/"}]}}}`, false},
		{`{"detail": {"object": {"key": [{"wildcard": "datasets/*.jsonl"}]}}}`, true},
		{`{"detail": {"object": {"key": [{"wildcard": "datasets/*.csv"}, {"suffix": ".jsonl"}]}}}`, true},
		{`{"detail": {"object": {"key": [{"wildcard": "datasets/*/lorafn.json"}]}}}`, false},
		{`{"detail": {"object": {"size": [10]}}}`, true},
		{`{"detail": {"object": {"version-id": [{"exists": false}]}}}`, true},
		{`{"detail": {"object": {"version-id": [{"exists": true}]}}}`, false},
		{`{"detail-type": [{"anything-but": ["Object Deleted"]}]}`, true},
		{`{"detail": {"bucket": {"name": ["other"]}}}`, false},
	} {
		p, err := parsePattern(c.pattern)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		if got := p.matches(event); got != c.match {
			t.Errorf("%s: match %v, want %v", c.pattern, got, c.match)
		}
	}
	for _, bad := range []string{``, `[]`, `{"source": "aws.s3"}`, `{"source": [{"numeric": [">", 1]}]}`} {
		if _, err := parsePattern(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestInputTransformer(t *testing.T) {
	event := json.RawMessage(`{"detail": {"bucket": {"name": "lorafn"}, "object": {"key": "datasets/a \"q\".jsonl", "size": 12}}}`)
	it := &inputTransformer{
		InputPathsMap: map[string]string{"bucket": "$.detail.bucket.name", "key": "$.detail.object.key", "size": "$.detail.object.size", "missing": "$.detail.nothing"},
		InputTemplate: `{"bucket": <bucket>, "key": <key>, "source": "s3", "note": "<bucket>/<key> is <size> bytes", "size": <size>, "m": <missing>, "lit": "<not-a-name>"}`,
	}
	out, err := transform(it, event, false)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	want := map[string]any{"bucket": "lorafn", "key": `datasets/a "q".jsonl`, "source": "s3", "note": `lorafn/datasets/a "q".jsonl is 12 bytes`, "size": 12.0, "m": nil, "lit": "<not-a-name>"}
	if !jsonEqual(got, want) {
		t.Fatalf("got %s", out)
	}
	if _, err := transform(&inputTransformer{InputPathsMap: map[string]string{"a": "detail.x"}, InputTemplate: "<a>"}, event, true); err == nil {
		t.Fatal("a path without $ was accepted")
	}
}

func TestBatchJobsReportFailures(t *testing.T) {
	_, endpoint := startTwin(t, Options{Lambda: LambdaInProcess})
	code, out := restCall(t, http.MethodPost, endpoint+"/v1/submitjob", map[string]any{"jobName": "j", "jobQueue": "q", "jobDefinition": "d"})
	if code != http.StatusOK || out["jobId"] == nil {
		t.Fatalf("SubmitJob: %d %v", code, out)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, d := restCall(t, http.MethodPost, endpoint+"/v1/describejobs", map[string]any{"jobs": []any{out["jobId"]}})
		jobs, _ := d["jobs"].([]any)
		if len(jobs) != 1 {
			t.Fatalf("DescribeJobs: %v", d)
		}
		j := jobs[0].(map[string]any)
		if j["status"] == "FAILED" {
			if !strings.Contains(j["statusReason"].(string), "runId") {
				t.Fatalf("reason %v", j["statusReason"])
			}
			return
		}
	}
	t.Fatal("the job without a run never failed")
}
