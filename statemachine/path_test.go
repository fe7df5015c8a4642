package statemachine

import (
	"errors"
	"testing"
)

func TestPathGet(t *testing.T) {
	doc := `{"a":{"b":[10,{"c":"x"},30],"d e":1,"k":{"x":1,"y":2}},"list":[{"n":1},{"n":2},{"m":3}],"n":0}`
	v, err := decodeJSON([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ path, want string }{
		{"$", doc},
		{"$.a.b[0]", `10`},
		{"$.a.b[1].c", `"x"`},
		{"$.a.b[-1]", `30`},
		{"$['a']['d e']", `1`},
		{`$["a"].b[2]`, `30`},
		{"$.n", `0`},
		// Indefinite paths return arrays of their matches (Jayway).
		{"$.list[*].n", `[1,2]`},
		{"$.a.k.*", `[1,2]`},
		{"$..n", `[0,1,2]`},
		{"$.a.b[0:2]", `[10,{"c":"x"}]`},
		{"$.a.b[1:]", `[{"c":"x"},30]`},
		{"$.a.b[0,2]", `[10,30]`},
		{"$.list[*].zzz", `[]`},
	}
	for _, c := range cases {
		p, err := parsePath(c.path)
		if err != nil {
			t.Errorf("parsePath(%q): %v", c.path, err)
			continue
		}
		got, err := p.get(v)
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if canon(t, string(mustEncode(got))) != canon(t, c.want) {
			t.Errorf("%s = %s, want %s", c.path, mustEncode(got), c.want)
		}
	}
	for _, missing := range []string{"$.zz", "$.a.b[3]", "$.a.b.c", "$.n.x", "$.a.b[-4]"} {
		p, _ := parsePath(missing)
		if _, err := p.get(v); !errors.Is(err, errPathNotFound) {
			t.Errorf("%s: err %v, want errPathNotFound", missing, err)
		}
	}
}

func TestPathParseErrors(t *testing.T) {
	for _, bad := range []string{"", "a.b", "$.", "$..[bad", "$[", "$[abc]", "$[?(@.a==1)]", "$.a[1:2:3]", "$['x]"} {
		if _, err := parsePath(bad); err == nil {
			t.Errorf("parsePath(%q) succeeded, want an error", bad)
		}
	}
	for _, bad := range []string{"$.a[*]", "$..a", "$.a[0:1]", "$.a.*"} {
		if _, err := parseReferencePath(bad); err == nil {
			t.Errorf("parseReferencePath(%q) succeeded, want an error", bad)
		}
	}
}

func TestPathSetCopiesAndCreates(t *testing.T) {
	orig, _ := decodeJSON([]byte(`{"a":{"b":1},"l":[1,2]}`))
	for _, c := range []struct{ path, want string }{
		{"$.a.c", `{"a":{"b":1,"c":"v"},"l":[1,2]}`},
		{"$.x.y.z", `{"a":{"b":1},"l":[1,2],"x":{"y":{"z":"v"}}}`},
		{"$.l[1]", `{"a":{"b":1},"l":[1,"v"]}`},
		{"$", `"v"`},
	} {
		p, err := parseReferencePath(c.path)
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.set(orig, "v")
		if err != nil {
			t.Fatalf("set %s: %v", c.path, err)
		}
		if string(mustEncode(got)) != canon(t, c.want) {
			t.Errorf("set %s = %s, want %s", c.path, mustEncode(got), c.want)
		}
	}
	if string(mustEncode(orig)) != `{"a":{"b":1},"l":[1,2]}` {
		t.Errorf("set modified its input: %s", mustEncode(orig))
	}
	for _, bad := range []string{"$.a.b.c", "$.l[5]", "$.l.x"} {
		p, _ := parseReferencePath(bad)
		if _, err := p.set(orig, 1); err == nil {
			t.Errorf("set %s succeeded, want an error", bad)
		}
	}
}
