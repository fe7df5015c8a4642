package statemachine

import (
	"fmt"
	"testing"
)

// choose runs a Choice state with one rule and reports whether it matched.
func choose(t *testing.T, rule, input string) (bool, error) {
	t.Helper()
	def := fmt.Sprintf(`{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[%s],"Default":"No"},
		"Yes":{"Type":"Pass","Result":"yes","End":true},"No":{"Type":"Pass","Result":"no","End":true}}}`, rule)
	d, _ := run(t, def, input, nil)
	switch {
	case d.Status != StatusSucceeded:
		return false, &TaskError{Name: d.Error, Cause: d.Cause}
	case string(d.Output) == `"yes"`:
		return true, nil
	}
	return false, nil
}

func TestChoiceOperators(t *testing.T) {
	input := `{"s":"MyStringABD","n":22,"f":1.5,"b":true,"t":"2001-01-01T12:00:00Z","z":null,"o":{},
		"s2":"MyStringABD","n2":30,"t2":"2001-01-01T13:00:00+01:00","log":"ABC.log","big":"\uffff","astral":"\ud83d\ude00"}`
	cases := []struct {
		rule string
		want bool
	}{
		{`"Variable":"$.s","StringEquals":"MyStringABD"`, true},
		{`"Variable":"$.s","StringGreaterThan":"MyStringABC"`, true},
		{`"Variable":"$.s","StringLessThan":"MyStringABC"`, false},
		{`"Variable":"$.s","StringLessThanEquals":"MyStringABD"`, true},
		{`"Variable":"$.s","StringGreaterThanEquals":"MyStringABE"`, false},
		{`"Variable":"$.s","StringEqualsPath":"$.s2"`, true},
		// Java's compareTo orders by UTF-16 unit: U+FFFF sorts after an
		// astral character (a surrogate pair starting 0xD83D), unlike UTF-8.
		{`"Variable":"$.big","StringGreaterThanPath":"$.astral"`, true},
		{`"Variable":"$.n","NumericEquals":22`, true},
		{`"Variable":"$.n","NumericEquals":22.0`, true},
		{`"Variable":"$.n","NumericGreaterThanEquals":20`, true},
		{`"Variable":"$.n","NumericLessThan":22`, false},
		{`"Variable":"$.n","NumericLessThanEquals":22`, true},
		{`"Variable":"$.n","NumericGreaterThan":21.9`, true},
		{`"Variable":"$.n","NumericLessThanPath":"$.n2"`, true},
		{`"Variable":"$.f","NumericEquals":1.5`, true},
		// Mismatched types compare false rather than failing.
		{`"Variable":"$.s","NumericEquals":22`, false},
		{`"Variable":"$.n","StringEquals":"22"`, false},
		{`"Variable":"$.b","BooleanEquals":true`, true},
		{`"Variable":"$.b","BooleanEqualsPath":"$.b"`, true},
		{`"Variable":"$.t","TimestampEquals":"2001-01-01T12:00:00Z"`, true},
		// Offsets are honoured: 13:00+01:00 is 12:00Z.
		{`"Variable":"$.t","TimestampEqualsPath":"$.t2"`, true},
		{`"Variable":"$.t","TimestampLessThan":"2001-01-01T12:00:01Z"`, true},
		{`"Variable":"$.t","TimestampGreaterThan":"2001-01-01T12:00:01Z"`, false},
		{`"Variable":"$.t","TimestampGreaterThanEquals":"2001-01-01T12:00:00Z"`, true},
		{`"Variable":"$.t","TimestampLessThanEquals":"2000-12-31T23:59:59Z"`, false},
		{`"Variable":"$.s","TimestampEquals":"2001-01-01T12:00:00Z"`, false},
		{`"Variable":"$.t","StringEquals":"2001-01-01T12:00:00Z"`, true},
		{`"Variable":"$.s","IsPresent":true`, true},
		{`"Variable":"$.nope","IsPresent":true`, false},
		{`"Variable":"$.nope","IsPresent":false`, true},
		{`"Variable":"$.z","IsNull":true`, true},
		{`"Variable":"$.s","IsNull":false`, true},
		{`"Variable":"$.n","IsNumeric":true`, true},
		{`"Variable":"$.s","IsNumeric":true`, false},
		{`"Variable":"$.s","IsString":true`, true},
		{`"Variable":"$.b","IsBoolean":true`, true},
		{`"Variable":"$.t","IsTimestamp":true`, true},
		{`"Variable":"$.s","IsTimestamp":true`, false},
		{`"Variable":"$.log","StringMatches":"*.log"`, true},
		{`"Variable":"$.log","StringMatches":"A*C.*"`, true},
		{`"Variable":"$.log","StringMatches":"*.txt"`, false},
		{`"Variable":"$.log","StringMatches":"ABC\\*"`, false},
		{`"And":[{"Variable":"$.n","NumericGreaterThanEquals":20},{"Variable":"$.n","NumericLessThan":30}]`, true},
		{`"And":[{"Variable":"$.n","NumericGreaterThanEquals":20},{"Variable":"$.n","NumericLessThan":21}]`, false},
		{`"Or":[{"Variable":"$.n","NumericEquals":1},{"Variable":"$.s","StringEquals":"MyStringABD"}]`, true},
		{`"Not":{"Variable":"$.s","StringEquals":"Private"}`, true},
		// And stops at the first false rule, so a missing variable guarded
		// by IsPresent is never read.
		{`"And":[{"Variable":"$.nope","IsPresent":true},{"Variable":"$.nope","NumericEquals":1}]`, false},
		{`"Or":[{"Variable":"$.b","BooleanEquals":true},{"Variable":"$.nope","NumericEquals":1}]`, true},
	}
	for _, c := range cases {
		got, err := choose(t, `{`+c.rule+`,"Next":"Yes"}`, input)
		if err != nil {
			t.Errorf("%s: %v", c.rule, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s = %v, want %v", c.rule, got, c.want)
		}
	}
}

// The developer guide's Choice example: {"type": "Private", "value": 22}
// goes to ValueInTwenties. A missing Variable fails the execution; no
// match without Default is States.NoChoiceMatched.
func TestChoiceExampleAndErrors(t *testing.T) {
	def := `{"StartAt":"ChoiceStateX","States":{"ChoiceStateX":{"Type":"Choice","Choices":[
		{"Not":{"Variable":"$.type","StringEquals":"Private"},"Next":"Public"},
		{"Variable":"$.value","NumericEquals":0,"Next":"ValueIsZero"},
		{"And":[{"Variable":"$.value","NumericGreaterThanEquals":20},{"Variable":"$.value","NumericLessThan":30}],"Next":"ValueInTwenties"}],
		"Default":"DefaultState"},
		"Public":{"Type":"Pass","Result":"Public","End":true},
		"ValueIsZero":{"Type":"Pass","Result":"ValueIsZero","End":true},
		"ValueInTwenties":{"Type":"Pass","Result":"ValueInTwenties","End":true},
		"DefaultState":{"Type":"Fail","Cause":"No Matches!"}}}`
	if out := mustSucceed(t, def, `{"type":"Private","value":22}`, nil); out != `"ValueInTwenties"` {
		t.Errorf("output %s, want \"ValueInTwenties\"", out)
	}
	if _, cause := mustFail(t, def, `{"type":"Private","value":50}`, nil); cause != "No Matches!" {
		t.Errorf("cause %q, want the Fail state's", cause)
	}
	if name, _ := mustFail(t, def, `{"value":22}`, nil); name != ErrRuntime {
		t.Errorf("missing $.type: error %q, want States.Runtime", name)
	}
	noDefault := `{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"Variable":"$.a","IsPresent":true,"Next":"D"}]},"D":{"Type":"Succeed"}}}`
	if name, _ := mustFail(t, noDefault, `{}`, nil); name != ErrNoChoiceMatched {
		t.Errorf("no match: error %q, want States.NoChoiceMatched", name)
	}
	// Choice passes its (InputPath-, OutputPath-filtered) input through.
	pass := `{"StartAt":"C","States":{"C":{"Type":"Choice","InputPath":"$.in","OutputPath":"$.keep","Choices":[{"Variable":"$.go","BooleanEquals":true,"Next":"D"}]},"D":{"Type":"Succeed"}}}`
	assertJSON(t, mustSucceed(t, pass, `{"in":{"go":true,"keep":{"k":1}},"other":2}`, nil), `{"k":1}`)
}

func TestStringMatches(t *testing.T) {
	for _, c := range []struct {
		s, pat string
		want   bool
	}{
		{"log.txt", "*.txt", true}, {"a", "*", true}, {"", "*", true}, {"", "", true}, {"abc", "a*c", true},
		{"abc", "a*b", false}, {"a*b", `a\*b`, true}, {"axb", `a\*b`, false}, {`a\b`, `a\\b`, true},
		{"mississippi", "*iss*ppi", true}, {"mississippi", "m*x*", false},
	} {
		if got := stringMatches(c.s, c.pat); got != c.want {
			t.Errorf("stringMatches(%q, %q) = %v, want %v", c.s, c.pat, got, c.want)
		}
	}
}
