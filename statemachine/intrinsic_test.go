package statemachine

import (
	"errors"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func evalIntrinsic(t *testing.T, src, input string) (any, error) {
	t.Helper()
	call, err := parseIntrinsic(src)
	if err != nil {
		t.Fatalf("parseIntrinsic(%s): %v", src, err)
	}
	in, err := decodeJSON([]byte(input))
	if err != nil {
		t.Fatal(err)
	}
	ctx := map[string]any{"Execution": map[string]any{"Name": "exec-1"}}
	return call.eval(&evalEnv{input: in, context: ctx, rng: rand.New(rand.NewPCG(1, 2))})
}

// Expected values are the examples of the developer guide's "Intrinsic
// functions" page, unless a comment says otherwise.
func TestIntrinsics(t *testing.T) {
	cases := []struct{ src, input, want string }{
		{`States.Format('Hello, my name is {}.', $.name)`, `{"name":"Arnav"}`, `"Hello, my name is Arnav."`},
		{`States.Format($.template, $.name)`, `{"name":"Arnav","template":"Hello, my name is {}."}`, `"Hello, my name is Arnav."`},
		// Numbers, booleans and null are formatted as JSON text; escaped
		// braces and quotes are literal.
		{`States.Format('{}-s{} {} {} \{\} \'q\' \\', $.id, $.n, $.b, $.z)`, `{"id":"r","n":7,"b":true,"z":null}`, `"r-s7 true null {} 'q' \\"`},
		{`States.Format('{}', $$.Execution.Name)`, `{}`, `"exec-1"`},
		{`States.StringToJson($.escapedJsonString)`, `{"escapedJsonString":"{\"foo\": \"bar\"}"}`, `{"foo":"bar"}`},
		{`States.JsonToString($.unescapedJson)`, `{"unescapedJson":{"foo":"bar"}}`, `"{\"foo\":\"bar\"}"`},
		{`States.Array($.Id)`, `{"Id":123456}`, `[123456]`},
		{`States.Array('a', 1, null, true)`, `{}`, `["a",1,null,true]`},
		{`States.ArrayPartition($.inputArray, 4)`, `{"inputArray":[1,2,3,4,5,6,7,8,9]}`, `[[1,2,3,4],[5,6,7,8],[9]]`},
		{`States.ArrayContains($.inputArray, $.lookingFor)`, `{"inputArray":[1,2,3,4,5,6,7,8,9],"lookingFor":5}`, `true`},
		{`States.ArrayContains($.a, $.v)`, `{"a":[1,{"k":[true,null,"s"]}],"v":{"k":[true,null,"s"]}}`, `true`},
		{`States.ArrayContains($.a, $.v)`, `{"a":[1,{"k":[true,null,"s"]}],"v":{"k":[true,null]}}`, `false`},
		{`States.ArrayContains($.a, 1.0)`, `{"a":[1]}`, `true`},
		{`States.ArrayUnique($.a)`, `{"a":[{"x":1},{"x":1},{"x":2},"s","s",false,false]}`, `[{"x":1},{"x":2},"s",false]`},
		{`States.ArrayRange(1, 9, 2)`, `{}`, `[1,3,5,7,9]`},
		{`States.ArrayRange(5, 1, -2)`, `{}`, `[5,3,1]`},
		{`States.ArrayGetItem($.inputArray, $.index)`, `{"inputArray":[1,2,3,4,5,6,7,8,9],"index":5}`, `6`},
		{`States.ArrayLength($.inputArray)`, `{"inputArray":[1,2,3,4,5,6,7,8,9]}`, `9`},
		{`States.ArrayUnique($.inputArray)`, `{"inputArray":[1,2,3,3,3,3,3,3,4]}`, `[1,2,3,4]`},
		{`States.Base64Encode($.input)`, `{"input":"Data to encode"}`, `"RGF0YSB0byBlbmNvZGU="`},
		{`States.Base64Decode($.base64)`, `{"base64":"RGF0YSB0byBlbmNvZGU="}`, `"Data to encode"`},
		{`States.Hash($.Data, $.Algorithm)`, `{"Data":"input data","Algorithm":"SHA-1"}`, `"aaff4a450a104cd177d28d18d74485e8cae074b7"`},
		{`States.JsonMerge($.json1, $.json2, false)`, `{"json1":{"a":{"a1":1,"a2":2},"b":2},"json2":{"a":{"a3":1,"a4":2},"c":3}}`, `{"a":{"a3":1,"a4":2},"b":2,"c":3}`},
		{`States.MathAdd($.value1, $.step)`, `{"value1":111,"step":-1}`, `110`},
		{`States.MathAdd(States.ArrayLength($.a), 1)`, `{"a":[1,2]}`, `3`},
		{`States.StringSplit($.inputString, $.splitter)`, `{"inputString":"1,2,3,4,5","splitter":","}`, `["1","2","3","4","5"]`},
		{`States.StringSplit($.inputString, $.splitter)`, `{"inputString":"This.is+a,test=string","splitter":".+,="}`, `["This","is","a","test","string"]`},
	}
	for _, c := range cases {
		got, err := evalIntrinsic(t, c.src, c.input)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if string(mustEncode(got)) != canon(t, c.want) {
			t.Errorf("%s = %s, want %s", c.src, mustEncode(got), c.want)
		}
	}
}

func TestIntrinsicRandomAndUUID(t *testing.T) {
	v, err := evalIntrinsic(t, `States.UUID()`, `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(v.(string)) {
		t.Errorf("UUID %q is not a version 4 UUID", v)
	}
	for i := 0; i < 50; i++ {
		v, err := evalIntrinsic(t, `States.MathRandom($.start, $.end)`, `{"start":1,"end":999}`)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := toInt(v)
		if n < 1 || n >= 999 {
			t.Fatalf("MathRandom(1, 999) = %d, outside [1, 999)", n)
		}
	}
	a, _ := evalIntrinsic(t, `States.MathRandom(1, 1000000, 7)`, `{}`)
	b, _ := evalIntrinsic(t, `States.MathRandom(1, 1000000, 7)`, `{}`)
	if string(mustEncode(a)) != string(mustEncode(b)) {
		t.Errorf("MathRandom with a seed is not repeatable: %v then %v", a, b)
	}
}

func TestIntrinsicFailures(t *testing.T) {
	for _, c := range []struct{ src, input string }{
		{`States.MathAdd($.a, 1)`, `{"a":1.5}`},
		{`States.MathAdd($.a, 1)`, `{"a":3000000000}`},
		{`States.JsonMerge($.a, $.a, true)`, `{"a":{}}`},
		{`States.ArrayGetItem($.a, 3)`, `{"a":[1]}`},
		{`States.StringToJson($.s)`, `{"s":"{nope"}`},
		{`States.Format('{}', $.o)`, `{"o":{"x":1}}`},
		{`States.Format($.t, 1)`, `{"t":"no placeholders"}`},
		{`States.Hash($.s, 'SHA-3')`, `{"s":"x"}`},
		{`States.ArrayLength($.s)`, `{"s":"x"}`},
		{`States.Array($.missing)`, `{}`},
		{`States.ArrayRange(1, 5000, 1)`, `{}`},
	} {
		_, err := evalIntrinsic(t, c.src, c.input)
		var te *TaskError
		if !errors.As(err, &te) || te.Name != ErrIntrinsicFailure {
			t.Errorf("%s on %s: %v, want States.IntrinsicFailure", c.src, c.input, err)
		}
	}
	nested := "$.x"
	for i := 0; i < 11; i++ {
		nested = "States.Array(" + nested + ")"
	}
	for _, bad := range []string{
		`States.Formatt('x')`, `States.Format('{} {}', $.a)`, `States.ArrayLength()`,
		`States.UUID(1)`, `States.Format('a\b')`, `States.Array(1`, `States.Array(1) x`, `States.Format('x`, nested,
	} {
		if _, err := parseIntrinsic(bad); err == nil {
			t.Errorf("parseIntrinsic(%s) succeeded, want an error", bad)
		} else if strings.Contains(bad, "Formatt") && !strings.Contains(err.Error(), "States.Formatt") {
			t.Errorf("error %q does not name the unknown function", err)
		}
	}
}
