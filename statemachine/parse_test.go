package statemachine

import (
	"errors"
	"strings"
	"testing"
)

// Definitions the service (and asl-validator) rejects are rejected at
// Parse with an error naming the state and the field.
func TestParseRejects(t *testing.T) {
	task := func(extra string) string {
		return `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"f"},` + extra + `}}}`
	}
	cases := []struct {
		name, def, code, state, field, msg string
	}{
		{"not JSON", `{`, ErrInvalidDefinition, "", "", "not a JSON object"},
		{"no StartAt", `{"States":{"A":{"Type":"Succeed"}}}`, ErrInvalidDefinition, "", "StartAt", "required"},
		{"StartAt missing state", `{"StartAt":"B","States":{"A":{"Type":"Succeed"}}}`, ErrInvalidDefinition, "", "StartAt", `"B"`},
		{"unknown type", `{"StartAt":"A","States":{"A":{"Type":"Sleep","End":true}}}`, ErrInvalidDefinition, "A", "Type", "Sleep"},
		{"misspelled field", task(`"Resouce":"x","End":true`), ErrInvalidDefinition, "T", "Resouce", "unknown field"},
		{"neither Next nor End", task(`"ResultPath":"$.x"`), ErrInvalidDefinition, "T", "Next", "exactly one of Next and End"},
		{"both Next and End", task(`"Next":"T","End":true`), ErrInvalidDefinition, "T", "Next", "exactly one"},
		{"Next to a missing state", task(`"Next":"Nowhere"`), ErrInvalidDefinition, "T", "Next", `"Nowhere"`},
		{"unreachable", `{"StartAt":"A","States":{"A":{"Type":"Succeed"},"B":{"Type":"Succeed"}}}`, ErrInvalidDefinition, "B", "", "unreachable"},
		{"bad JSONPath", task(`"InputPath":"$..[bad","End":true`), ErrInvalidDefinition, "T", "InputPath", "unclosed"},
		{"ResultPath wildcard", task(`"ResultPath":"$.a[*]","End":true`), ErrInvalidDefinition, "T", "ResultPath", "reference path"},
		{"InputPath from context", task(`"InputPath":"$$.Execution","End":true`), ErrInvalidDefinition, "T", "InputPath", "context"},
		{"ResultPath into context", task(`"ResultPath":"$$.Execution","End":true`), ErrInvalidDefinition, "T", "ResultPath", "context"},
		{"bad Parameters path", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"x.y"},"End":true}}}`, ErrInvalidDefinition, "P", "Parameters", "Parameters.a.$"},
		{"non-string .$ value", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":3},"End":true}}}`, ErrInvalidDefinition, "P", "Parameters", "must be a string"},
		{"key with and without .$", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"$","a":1},"End":true}}}`, ErrInvalidDefinition, "P", "Parameters", "twice"},
		{"unknown intrinsic", `{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"a.$":"States.Formatt('x')"},"End":true}}}`, ErrInvalidDefinition, "P", "Parameters", "States.Formatt"},
		{"BooleanEquals not boolean", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","BooleanEquals":"yes","Next":"D"}]},"D":{"Type":"Succeed"}}}`, ErrInvalidDefinition, "C", "Choices[0].BooleanEquals", "true or false"},
		{"Choice rule without Next", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true}],"Default":"D"},"D":{"Type":"Succeed"}}}`, ErrInvalidDefinition, "C", "Choices[0].Next", "required"},
		{"nested Next", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Not":{"Variable":"$.a","IsPresent":true,"Next":"D"},"Next":"D"}]},"D":{"Type":"Succeed"}}}`, ErrInvalidDefinition, "C", "Choices[0].Not.Next", "top-level"},
		{"two operators", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"IsNull":true,"Next":"D"}]},"D":{"Type":"Succeed"}}}`, ErrInvalidDefinition, "C", "Choices[0]", "exactly one operator"},
		{"bad timestamp", `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","TimestampEquals":"2001-01-01t12:00:00z","Next":"D"}]},"D":{"Type":"Succeed"}}}`, ErrInvalidDefinition, "C", "Choices[0].TimestampEquals", "RFC 3339"},
		{"Choice with End", `{"StartAt":"C","States":{"C":{"Type":"Choice","End":true,"Choices":[{"Variable":"$.a","IsPresent":true,"Next":"C"}]}}}`, ErrInvalidDefinition, "C", "End", "unknown field"},
		{"Wait with Seconds and Timestamp", `{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"Timestamp":"2016-03-14T01:59:00Z","End":true}}}`, ErrInvalidDefinition, "W", "Seconds", "exactly one"},
		{"Map without ItemProcessor", `{"StartAt":"M","States":{"M":{"Type":"Map","End":true}}}`, ErrInvalidDefinition, "M", "ItemProcessor", "required"},
		{"distributed Map", `{"StartAt":"M","States":{"M":{"Type":"Map","End":true,"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED"},"StartAt":"X","States":{"X":{"Type":"Succeed"}}}}}}`, ErrUnsupportedFeature, "M", "ItemProcessor.ProcessorConfig.Mode", "distributed"},
		{"Map processor Next escapes", `{"StartAt":"M","States":{"M":{"Type":"Map","Next":"Out","ItemProcessor":{"StartAt":"X","States":{"X":{"Type":"Pass","Next":"Out"}}}},"Out":{"Type":"Succeed"}}}`, ErrInvalidDefinition, "X", "Next", `"Out"`},
		{"duplicate state name in branch", `{"StartAt":"P","States":{"P":{"Type":"Parallel","End":true,"Branches":[{"StartAt":"P","States":{"P":{"Type":"Succeed"}}}]}}}`, ErrInvalidDefinition, "P", "", "more than once"},
		{"BackoffRate below 1", task(`"Retry":[{"ErrorEquals":["States.ALL"],"BackoffRate":0.5}],"End":true`), ErrInvalidDefinition, "T", "Retry[0].BackoffRate", ">= 1.0"},
		{"States.ALL not last", task(`"Retry":[{"ErrorEquals":["States.ALL"]},{"ErrorEquals":["X"]}],"End":true`), ErrInvalidDefinition, "T", "Retry[0].ErrorEquals", "States.ALL"},
		{"States.ALL not alone", task(`"Catch":[{"ErrorEquals":["States.ALL","X"],"Next":"T"}],"End":true`), ErrInvalidDefinition, "T", "Catch[0].ErrorEquals", "alone"},
		{"unknown States error", task(`"Retry":[{"ErrorEquals":["States.Timout"]}],"End":true`), ErrInvalidDefinition, "T", "Retry[0].ErrorEquals", "States.Timout"},
		{"bad JitterStrategy", task(`"Retry":[{"ErrorEquals":["X"],"JitterStrategy":"HALF"}],"End":true`), ErrInvalidDefinition, "T", "Retry[0].JitterStrategy", "FULL"},
		{"Catch without Next", task(`"Catch":[{"ErrorEquals":["X"]}],"End":true`), ErrInvalidDefinition, "T", "Catch[0].Next", "required"},
		{"integration typo", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invokee","End":true}}}`, ErrUnsupportedFeature, "T", "Resource", "lambda:invokee"},
		{"lambda:invoke without FunctionName", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","End":true}}}`, ErrInvalidDefinition, "T", "Parameters", "FunctionName"},
		{"callback task", `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke.waitForTaskToken","Parameters":{"FunctionName":"f"},"End":true}}}`, ErrUnsupportedFeature, "T", "Resource", "callback"},
		{"Heartbeat not below Timeout", task(`"TimeoutSeconds":10,"HeartbeatSeconds":10,"End":true`), ErrInvalidDefinition, "T", "HeartbeatSeconds", "smaller"},
		{"TimeoutSeconds zero", task(`"TimeoutSeconds":0,"End":true`), ErrInvalidDefinition, "T", "TimeoutSeconds", "positive"},
		{"Fail Error and ErrorPath", `{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"a","ErrorPath":"$.e"}}}`, ErrInvalidDefinition, "F", "Error", "mutually exclusive"},
		{"JSONata", `{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Succeed"}}}`, ErrUnsupportedFeature, "", "QueryLanguage", "JSONPath"},
		{"Assign", `{"StartAt":"A","States":{"A":{"Type":"Pass","Assign":{"x":1},"End":true}}}`, ErrUnsupportedFeature, "A", "Assign", "not supported"},
		{"bad Version", `{"Version":"2.0","StartAt":"A","States":{"A":{"Type":"Succeed"}}}`, ErrInvalidDefinition, "", "Version", "1.0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.def), nil)
			var de *DefinitionError
			if !errors.As(err, &de) {
				t.Fatalf("Parse: %v, want a *DefinitionError", err)
			}
			if de.Code != c.code || de.State != c.state || de.Field != c.field || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("got code %q state %q field %q: %v\nwant code %q state %q field %q containing %q", de.Code, de.State, de.Field, err, c.code, c.state, c.field, c.msg)
			}
		})
	}
}

func TestSubstitutions(t *testing.T) {
	def := `{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"${Fn}","Payload":{"q":"${Quote}"}},"End":true}}}`
	m, err := Parse([]byte(def), map[string]string{"Fn": "arn:aws:lambda:us-east-1:123456789012:function:validate", "Quote": `say "hi"`, "Unused": "x"})
	if err != nil {
		t.Fatal(err)
	}
	var fn, payload string
	m.Resources = ResourcesFunc(func(_ ctxT, f string, p rawT) (rawT, error) { fn, payload = f, string(p); return rawT(`{}`), nil })
	m.Clock = NewVirtualClock(testStart)
	if d, _ := runOn(t, m, "s", `{}`); d.Status != StatusSucceeded {
		t.Fatal(d.Status, d.Cause)
	}
	if fn != "arn:aws:lambda:us-east-1:123456789012:function:validate" || payload != `{"q":"say \"hi\""}` {
		t.Errorf("function %q payload %s", fn, payload)
	}
	_, err = Parse([]byte(def), map[string]string{"Quote": "x"})
	if err == nil || !strings.Contains(err.Error(), "${Fn}") {
		t.Errorf("missing substitution: %v, want an error naming ${Fn}", err)
	}
}
