package statemachine

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"
)

// FuzzParse feeds arbitrary definitions to Parse: it must return a
// machine or an error, never panic. Definitions that parse are also run
// briefly on a virtual clock with an echoing resource.
func FuzzParse(f *testing.F) {
	if def, err := os.ReadFile("tune.asl.json"); err == nil {
		f.Add(string(def))
	}
	for _, s := range []string{
		`{"StartAt":"A","States":{"A":{"Type":"Pass","Result":{"a":1},"ResultPath":"$.r","Next":"B"},"B":{"Type":"Succeed"}}}`,
		`{"StartAt":"C","States":{"C":{"Type":"Choice","Choices":[{"And":[{"Variable":"$.a","IsPresent":true},{"Variable":"$.a","NumericLessThan":3}],"Next":"D"}],"Default":"D"},"D":{"Type":"Fail","ErrorPath":"$.e"}}}`,
		`{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.l","ItemSelector":{"v.$":"$$.Map.Item.Value"},"ItemProcessor":{"StartAt":"X","States":{"X":{"Type":"Pass","End":true}}},"End":true}}}`,
		`{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"f.$":"States.Format('{}-{}', $.a, States.MathAdd($.b, 1))"},"End":true}}}`,
		`{"StartAt":"W","States":{"W":{"Type":"Wait","SecondsPath":"$.s","Next":"T"},"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"${F}"},"Retry":[{"ErrorEquals":["States.ALL"]}],"End":true}}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, def string) {
		m, err := Parse([]byte(def), map[string]string{"F": "f"})
		if err != nil {
			return
		}
		m.Clock = NewVirtualClock(testStart)
		m.HistoryLimit = 200
		m.Resources = echo
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		e, err := m.Start(ctx, "fuzz", json.RawMessage(`{"a":1,"b":2,"l":[1,2],"s":1,"e":"E"}`))
		if err != nil {
			t.Fatalf("Start: %v", err)
		}
		d, _ := e.Wait(ctx)
		if d.Status == StatusSucceeded && !json.Valid(d.Output) {
			t.Fatalf("output is not JSON: %q", d.Output)
		}
	})
}

// FuzzIntrinsic parses and evaluates arbitrary intrinsic invocations.
func FuzzIntrinsic(f *testing.F) {
	for _, s := range []string{
		`States.Format('{} \{\} {}', $.a, 'x')`, `States.Array(1, 'b', null, true, $.l[0])`,
		`States.JsonMerge($.o, $.o, false)`, `States.StringSplit($.s, ',')`, `States.Hash($.s, 'SHA-256')`,
		`States.ArrayRange(1, 9, 2)`, `States.StringToJson($.s)`, `States.MathRandom(1, 9, 3)`,
	} {
		f.Add(s)
	}
	in, _ := decodeJSON([]byte(`{"a":1,"l":[1,2],"o":{"k":"v"},"s":"a,b"}`))
	f.Fuzz(func(t *testing.T, src string) {
		call, err := parseIntrinsic(src)
		if err != nil {
			return
		}
		v, err := call.eval(&evalEnv{input: in, context: map[string]any{}, rng: newTestRand()})
		if err == nil {
			if _, err := encodeJSON(v); err != nil {
				t.Fatalf("%s produced an unencodable value: %v", src, err)
			}
		}
	})
}
