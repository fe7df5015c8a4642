package statemachine

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// Choice rules (ASL spec, "Choice Rules"; developer guide, "Choice").
//
// Semantics kept from the service:
//   - Rules are tried in order; the first true top-level rule's Next wins,
//     else Default, else the state fails with States.NoChoiceMatched.
//   - A comparison whose Variable is of the wrong type is false: "Step
//     Functions doesn't attempt to match a numeric field to a string value".
//   - A Variable path that does not exist fails the execution
//     (States.Runtime), except under IsPresent, which exists to test for it.
//   - String comparisons order strings like Java's compareTo; timestamps
//     must use uppercase T and Z.
//   - And/Or evaluate left to right and stop at the first deciding rule, so
//     {"And": [IsPresent x, x == 1]} is safe.

type choiceRule struct {
	next string

	and, or []*choiceRule
	not     *choiceRule

	variable  *path
	op        string // comparison operator without the Path suffix
	byPath    bool   // the operator's ...Path form
	value     any    // literal operand
	valuePath *path  // operand path for ...Path operators
}

var comparisonOps = []string{
	"StringEquals", "StringLessThan", "StringGreaterThan", "StringLessThanEquals", "StringGreaterThanEquals",
	"NumericEquals", "NumericLessThan", "NumericGreaterThan", "NumericLessThanEquals", "NumericGreaterThanEquals",
	"BooleanEquals",
	"TimestampEquals", "TimestampLessThan", "TimestampGreaterThan", "TimestampLessThanEquals", "TimestampGreaterThanEquals",
}

var typeTestOps = []string{"IsPresent", "IsNull", "IsNumeric", "IsString", "IsBoolean", "IsTimestamp"}

func (p *parser) parseChoice(s *state, f map[string]json.RawMessage) error {
	var rules []json.RawMessage
	if err := json.Unmarshal(f["Choices"], &rules); err != nil || len(rules) == 0 {
		return defErr(s.name, "Choices", "required: a non-empty array of Choice Rules")
	}
	for i, raw := range rules {
		r, err := parseRule(s.name, fmt.Sprintf("Choices[%d]", i), raw, true)
		if err != nil {
			return err
		}
		s.choices = append(s.choices, r)
	}
	if raw, ok := f["Default"]; ok {
		if err := json.Unmarshal(raw, &s.dflt); err != nil || s.dflt == "" {
			return defErr(s.name, "Default", "must be a state name")
		}
	}
	return nil
}

func parseRule(state, field string, raw json.RawMessage, top bool) (*choiceRule, error) {
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, defErr(state, field, "a Choice Rule must be an object")
	}
	r := &choiceRule{}
	if v, ok := f["Next"]; ok {
		if !top {
			return nil, defErr(state, field+".Next", "only top-level Choice Rules may have Next")
		}
		if err := json.Unmarshal(v, &r.next); err != nil || r.next == "" {
			return nil, defErr(state, field+".Next", "must be a state name")
		}
	} else if top {
		return nil, defErr(state, field+".Next", "required in a top-level Choice Rule")
	}
	var ops []string
	for _, k := range sortedRawKeys(f) {
		switch {
		case k == "Next" || k == "Comment" || k == "Variable":
		case k == "And" || k == "Or" || k == "Not" || k == "StringMatches":
			ops = append(ops, k)
		case slices.Contains(comparisonOps, k) || slices.Contains(typeTestOps, k):
			ops = append(ops, k)
		case strings.HasSuffix(k, "Path") && slices.Contains(comparisonOps, strings.TrimSuffix(k, "Path")):
			ops = append(ops, k)
		case k == "Condition" || k == "Assign" || k == "Output":
			return nil, unsupported(state, field+"."+k, "JSONata fields are not supported")
		default:
			return nil, defErr(state, field+"."+k, "unknown Choice Rule field")
		}
	}
	if len(ops) != 1 {
		return nil, defErr(state, field, "a Choice Rule needs exactly one operator, found %d (%s)", len(ops), strings.Join(ops, ", "))
	}
	op := ops[0]
	switch op {
	case "And", "Or":
		if _, ok := f["Variable"]; ok {
			return nil, defErr(state, field+".Variable", "not allowed with %s", op)
		}
		var subs []json.RawMessage
		if err := json.Unmarshal(f[op], &subs); err != nil || len(subs) == 0 {
			return nil, defErr(state, field+"."+op, "must be a non-empty array of Choice Rules")
		}
		for i, sub := range subs {
			sr, err := parseRule(state, fmt.Sprintf("%s.%s[%d]", field, op, i), sub, false)
			if err != nil {
				return nil, err
			}
			if op == "And" {
				r.and = append(r.and, sr)
			} else {
				r.or = append(r.or, sr)
			}
		}
		return r, nil
	case "Not":
		if _, ok := f["Variable"]; ok {
			return nil, defErr(state, field+".Variable", "not allowed with Not")
		}
		sr, err := parseRule(state, field+".Not", f["Not"], false)
		if err != nil {
			return nil, err
		}
		r.not = sr
		return r, nil
	}
	rawVar, ok := f["Variable"]
	if !ok {
		return nil, defErr(state, field+".Variable", "required with %s", op)
	}
	var err error
	if r.variable, err = parseRefPathField(state, field+".Variable", rawVar); err != nil {
		return nil, err
	}
	val := f[op]
	switch {
	case slices.Contains(typeTestOps, op):
		var b bool
		if err := json.Unmarshal(val, &b); err != nil {
			return nil, defErr(state, field+"."+op, "must be true or false, got %s", val)
		}
		r.op, r.value = op, b
	case strings.HasSuffix(op, "Path"):
		r.op, r.byPath = strings.TrimSuffix(op, "Path"), true
		if r.valuePath, err = parseRefPathField(state, field+"."+op, val); err != nil {
			return nil, err
		}
	default:
		r.op = op
		v, err := decodeJSON(val)
		if err != nil {
			return nil, defErr(state, field+"."+op, "%v", err)
		}
		if err := checkOperand(op, v); err != nil {
			return nil, defErr(state, field+"."+op, "%v", err)
		}
		r.value = v
	}
	return r, nil
}

// checkOperand validates a literal operand's type against its operator.
func checkOperand(op string, v any) error {
	switch {
	case op == "StringMatches" || strings.HasPrefix(op, "String"):
		if _, ok := v.(string); !ok {
			return fmt.Errorf("must be a string, got %s", mustEncode(v))
		}
	case strings.HasPrefix(op, "Numeric"):
		if _, ok := toFloat(v); !ok {
			return fmt.Errorf("must be a number, got %s", mustEncode(v))
		}
	case op == "BooleanEquals":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("must be true or false, got %s", mustEncode(v))
		}
	case strings.HasPrefix(op, "Timestamp"):
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("must be a timestamp string, got %s", mustEncode(v))
		}
		if _, ok := parseTimestamp(s); !ok {
			return fmt.Errorf("%q is not an RFC 3339 timestamp with uppercase T and Z", s)
		}
	}
	return nil
}

// eval decides a rule against the Choice state's effective input.
func (r *choiceRule) eval(input, ctx any) (bool, error) {
	switch {
	case r.and != nil:
		for _, sub := range r.and {
			ok, err := sub.eval(input, ctx)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.or != nil:
		for _, sub := range r.or {
			ok, err := sub.eval(input, ctx)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.not != nil:
		ok, err := r.not.eval(input, ctx)
		return !ok, err
	}
	doc := input
	if r.variable.context {
		doc = ctx
	}
	v, err := r.variable.get(doc)
	if r.op == "IsPresent" {
		return (err == nil) == r.value.(bool), nil
	}
	if err != nil {
		return false, failure(ErrRuntime, "Invalid path '%s': The choice state's condition path references an invalid value.", r.variable)
	}
	if slices.Contains(typeTestOps, r.op) {
		var is bool
		switch r.op {
		case "IsNull":
			is = v == nil
		case "IsNumeric":
			_, is = toFloat(v)
		case "IsString":
			_, is = v.(string)
		case "IsBoolean":
			_, is = v.(bool)
		case "IsTimestamp":
			s, ok := v.(string)
			_, is = parseTimestamp(s)
			is = is && ok
		}
		return is == r.value.(bool), nil
	}
	operand := r.value
	if r.byPath {
		odoc := input
		if r.valuePath.context {
			odoc = ctx
		}
		operand, err = r.valuePath.get(odoc)
		if err != nil {
			return false, failure(ErrRuntime, "Invalid path '%s': The choice state's condition path references an invalid value.", r.valuePath)
		}
	}
	return compare(r.op, v, operand), nil
}

// compare applies a comparison operator; mismatched types compare false.
func compare(op string, v, operand any) bool {
	var c int
	switch {
	case op == "StringMatches":
		s, ok1 := v.(string)
		pat, ok2 := operand.(string)
		return ok1 && ok2 && stringMatches(s, pat)
	case strings.HasPrefix(op, "String"):
		a, ok1 := v.(string)
		b, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false
		}
		c = compareJava(a, b)
	case strings.HasPrefix(op, "Numeric"):
		a, ok1 := toFloat(v)
		b, ok2 := toFloat(operand)
		if !ok1 || !ok2 {
			return false
		}
		c = cmpFloat(a, b)
	case op == "BooleanEquals":
		a, ok1 := v.(bool)
		b, ok2 := operand.(bool)
		return ok1 && ok2 && a == b
	case strings.HasPrefix(op, "Timestamp"):
		as, ok1 := v.(string)
		bs, ok2 := operand.(string)
		if !ok1 || !ok2 {
			return false
		}
		a, ok1 := parseTimestamp(as)
		b, ok2 := parseTimestamp(bs)
		if !ok1 || !ok2 {
			return false
		}
		c = a.Compare(b)
	default:
		return false
	}
	switch {
	case strings.HasSuffix(op, "GreaterThanEquals"):
		return c >= 0
	case strings.HasSuffix(op, "LessThanEquals"):
		return c <= 0
	case strings.HasSuffix(op, "GreaterThan"):
		return c > 0
	case strings.HasSuffix(op, "LessThan"):
		return c < 0
	}
	return c == 0 // ...Equals
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// stringMatches implements StringMatches: * matches any run of characters;
// \* is a literal star and \\ a literal backslash.
func stringMatches(s, pattern string) bool {
	type tok struct {
		star bool
		r    rune
	}
	var toks []tok
	pr := []rune(pattern)
	for i := 0; i < len(pr); i++ {
		switch {
		case pr[i] == '\\' && i+1 < len(pr):
			i++
			toks = append(toks, tok{r: pr[i]})
		case pr[i] == '*':
			toks = append(toks, tok{star: true})
		default:
			toks = append(toks, tok{r: pr[i]})
		}
	}
	sr := []rune(s)
	// Classic wildcard matching with backtracking to the last star.
	si, ti, starT, starS := 0, 0, -1, 0
	for si < len(sr) {
		switch {
		case ti < len(toks) && !toks[ti].star && toks[ti].r == sr[si]:
			si++
			ti++
		case ti < len(toks) && toks[ti].star:
			starT, starS = ti, si
			ti++
		case starT >= 0:
			starS++
			si, ti = starS, starT+1
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
