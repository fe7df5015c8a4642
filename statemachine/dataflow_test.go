package statemachine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// The developer guide's "InputPath, ResultPath and OutputPath example":
// InputPath selects $.lambda for the task, ResultPath writes the result
// into the state's *raw* input at $.data.lambdaresult, and OutputPath
// keeps $.data.
func TestInputResultOutputPathExample(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task",
		"Resource":"arn:aws:lambda:us-east-1:123456789012:function:HelloFunction",
		"InputPath":"$.lambda","ResultPath":"$.data.lambdaresult","OutputPath":"$.data","End":true}}}`
	input := `{"comment":"An input comment.","data":{"val1":23,"val2":17},"extra":"foo","lambda":{"who":"AWS Step Functions"}}`
	var got string
	res := ResourcesFunc(func(_ context.Context, fn string, p json.RawMessage) (json.RawMessage, error) {
		got = string(p)
		var in struct{ Who string }
		_ = json.Unmarshal(p, &in)
		return json.Marshal("Hello, " + in.Who + "!")
	})
	out := mustSucceed(t, def, input, res)
	assertJSON(t, got, `{"who":"AWS Step Functions"}`)
	assertJSON(t, out, `{"val1":23,"val2":17,"lambdaresult":"Hello, AWS Step Functions!"}`)
}

// The developer guide's Parameters example: static fields are copied,
// "key.$" fields are replaced by what their path selects.
func TestParametersExample(t *testing.T) {
	def := `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{
		"comment":"Selecting what I care about.",
		"MyDetails":{"size.$":"$.product.details.size","exists.$":"$.product.availability","StaticValue":"foo"}},"End":true}}}`
	input := `{"comment":"Example for Parameters.","product":{"details":{"color":"blue","size":"small","material":"cotton"},"availability":"in stock","sku":"2317","cost":"$23"}}`
	out := mustSucceed(t, def, input, nil)
	assertJSON(t, out, `{"comment":"Selecting what I care about.","MyDetails":{"size":"small","exists":"in stock","StaticValue":"foo"}}`)
}

// ResultSelector shapes the task result before ResultPath places it (the
// guide's EMR example, reduced).
func TestResultSelector(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
		"Parameters":{"FunctionName":"f"},
		"ResultSelector":{"ClusterId.$":"$.Payload.output.ClusterId","ResourceType.$":"$.Payload.resourceType","Static":1},
		"ResultPath":"$.EMROutput","End":true}}}`
	out := mustSucceed(t, def, `{"x":1}`, fixed(`{"resourceType":"elasticmapreduce","resource":"createCluster","output":{"SdkHttpMetadata":{},"ClusterId":"AKIAIOSFODNN7EXAMPLE"}}`))
	assertJSON(t, out, `{"x":1,"EMROutput":{"ClusterId":"AKIAIOSFODNN7EXAMPLE","ResourceType":"elasticmapreduce","Static":1}}`)
}

// "ResultPath": null discards the result and passes the state's input
// through; "OutputPath": null and "InputPath": null give {} (developer
// guide, "ResultPath" and "InputPath and OutputPath").
func TestNullPaths(t *testing.T) {
	cases := []struct{ name, fields, want string }{
		{"ResultPath null", `"ResultPath":null`, `{"a":1}`},
		{"ResultPath $ default", ``, `{"r":true}`},
		{"OutputPath null", `"OutputPath":null`, `{}`},
		{"InputPath null", `"InputPath":null,"ResultPath":"$.got"`, `{"a":1,"got":{"in":{}}}`},
		{"ResultPath into new nested object", `"ResultPath":"$.x.y"`, `{"a":1,"x":{"y":{"r":true}}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fields := c.fields
			if fields != "" {
				fields += ","
			}
			def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",` + fields + `"End":true}}}`
			res := ResourcesFunc(func(_ context.Context, _ string, p json.RawMessage) (json.RawMessage, error) {
				if string(p) == "{}" {
					return json.RawMessage(`{"in":{}}`), nil
				}
				return json.RawMessage(`{"r":true}`), nil
			})
			assertJSON(t, mustSucceed(t, def, `{"a":1}`, res), c.want)
		})
	}
}

// Pass: Result replaces the input at ResultPath; without Result the
// (Parameters-shaped) input is the result.
func TestPassState(t *testing.T) {
	def := `{"StartAt":"A","States":{
		"A":{"Type":"Pass","Result":{"x-datum":0.381018,"y-datum":622.2269926397355},"ResultPath":"$.coords","Next":"B"},
		"B":{"Type":"Pass","Parameters":{"sum.$":"States.MathAdd($.n, 2)"},"ResultPath":"$.calc","Next":"C"},
		"C":{"Type":"Pass","InputPath":"$.calc","End":true}}}`
	assertJSON(t, mustSucceed(t, def, `{"n":40}`, nil), `{"sum":42}`)
	def2 := `{"StartAt":"A","States":{"A":{"Type":"Pass","Result":{"x-datum":0.381018,"y-datum":622.2269926397355},"ResultPath":"$.coords","End":true}}}`
	// The guide's Pass example output.
	assertJSON(t, mustSucceed(t, def2, `{"georefOf":"Home"}`, nil), `{"georefOf":"Home","coords":{"x-datum":0.381018,"y-datum":622.2269926397355}}`)
}

// The context object ($$) as the developer guide lists it.
func TestContextObject(t *testing.T) {
	def := `{"StartAt":"Ctx","States":{"Ctx":{"Type":"Pass","Parameters":{
		"id.$":"$$.Execution.Id","name.$":"$$.Execution.Name","input.$":"$$.Execution.Input",
		"start.$":"$$.Execution.StartTime","state.$":"$$.State.Name","entered.$":"$$.State.EnteredTime",
		"retries.$":"$$.State.RetryCount","sm.$":"$$.StateMachine.Id","smName.$":"$$.StateMachine.Name"},"End":true}}}`
	m, err := Parse([]byte(def), nil)
	if err != nil {
		t.Fatal(err)
	}
	m.Name = "tune"
	m.Clock = NewVirtualClock(testStart)
	_, d, err := m.Run(context.Background(), "run-1", json.RawMessage(`{"k":"v"}`))
	if err != nil {
		t.Fatal(err)
	}
	assertJSON(t, string(d.Output), `{
		"id":"arn:aws:states:us-east-1:123456789012:execution:tune:run-1","name":"run-1","input":{"k":"v"},
		"start":"2026-01-02T03:04:05.000Z","state":"Ctx","entered":"2026-01-02T03:04:05.000Z","retries":0,
		"sm":"arn:aws:states:us-east-1:123456789012:stateMachine:tune","smName":"tune"}`)
}

// The lambda:invoke integration wraps the function response; OutputPath
// $.Payload unwraps it.
func TestLambdaInvokeEnvelope(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
		"Parameters":{"FunctionName":"arn:aws:lambda:us-east-1:123456789012:function:f","Qualifier":"live","Payload":{"x.$":"$.x"}},"End":true}}}`
	var fn, payload string
	res := ResourcesFunc(func(_ context.Context, f string, p json.RawMessage) (json.RawMessage, error) {
		fn, payload = f, string(p)
		return json.RawMessage(`{"ok":true}`), nil
	})
	out := mustSucceed(t, def, `{"x":5}`, res)
	if fn != "arn:aws:lambda:us-east-1:123456789012:function:f:live" {
		t.Errorf("function %q, want the ARN with its qualifier", fn)
	}
	assertJSON(t, payload, `{"x":5}`)
	var env map[string]any
	if err := json.Unmarshal([]byte(out), &env); err != nil {
		t.Fatal(err)
	}
	if env["StatusCode"] != 200.0 || env["ExecutedVersion"] != "$LATEST" {
		t.Errorf("envelope %s lacks StatusCode 200 / ExecutedVersion", out)
	}
	assertJSON(t, string(mustEncode(env["Payload"])), `{"ok":true}`)
}

// A path in Parameters that selects nothing is States.ParameterPathFailure;
// a ResultPath into a non-object is States.ResultPathMatchFailure; both can
// be caught. A bad InputPath is States.Runtime and cannot.
func TestDataFlowErrors(t *testing.T) {
	catchAll := `"Catch":[{"ErrorEquals":["States.ALL"],"ResultPath":"$.err","Next":"Caught"}]`
	tail := `,"Caught":{"Type":"Pass","End":true}}}`
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f","Payload":{"v.$":"$.missing"}},` + catchAll + `,"End":true}` + tail
	out := mustSucceed(t, def, `{"a":1}`, echo)
	if !strings.Contains(out, `"Error":"States.ParameterPathFailure"`) {
		t.Errorf("caught %s, want States.ParameterPathFailure", out)
	}
	def = `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","ResultPath":"$.a.b",` + catchAll + `,"End":true}` + tail
	out = mustSucceed(t, def, `{"a":"not an object"}`, fixed(`1`))
	if !strings.Contains(out, `"Error":"States.ResultPathMatchFailure"`) {
		t.Errorf("caught %s, want States.ResultPathMatchFailure", out)
	}
	def = `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","InputPath":"$.nope",` + catchAll + `,"End":true}` + tail
	if name, _ := mustFail(t, def, `{"a":1}`, echo); name != ErrRuntime {
		t.Errorf("error %q, want States.Runtime", name)
	}
}

// Every state input, output and task result is limited to 256 KiB; the
// error is States.DataLimitExceeded, which States.ALL does not catch.
func TestPayloadLimit(t *testing.T) {
	big := `"` + strings.Repeat("x", MaxPayloadBytes) + `"`
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f",
		"Catch":[{"ErrorEquals":["States.ALL"],"Next":"Caught"}],"End":true},"Caught":{"Type":"Pass","End":true}}}`
	name, cause := mustFail(t, def, `{}`, fixed(big))
	if name != ErrDataLimitExceeded || !strings.Contains(cause, "262144") {
		t.Errorf("error %q (%s), want States.DataLimitExceeded", name, cause)
	}
	// Just under the limit passes: a 262,144-byte output is allowed.
	exact := `"` + strings.Repeat("x", MaxPayloadBytes-2) + `"`
	def = `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:f","End":true}}}`
	if out := mustSucceed(t, def, `{}`, fixed(exact)); len(out) != MaxPayloadBytes {
		t.Errorf("output is %d bytes, want %d", len(out), MaxPayloadBytes)
	}
	// A large execution input is rejected by StartExecution itself.
	m, err := Parse([]byte(def), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(context.Background(), "big", json.RawMessage(big)); err == nil || !strings.Contains(err.Error(), ErrInvalidExecutionInput) {
		t.Errorf("Start with a too large input: %v, want InvalidExecutionInput", err)
	}
}
