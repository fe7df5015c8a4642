package statemachine

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Intrinsic functions of the JSONPath dialect (AWS Step Functions developer
// guide, "Intrinsic functions"). An invocation is parsed once, at Parse
// time, into an expression tree; evaluation failures are
// States.IntrinsicFailure.

// maxIntrinsicNesting is the service's limit on nested invocations in one
// field.
const maxIntrinsicNesting = 10

// maxIntrinsicString bounds Base64Encode/Decode inputs as the service does.
const maxIntrinsicString = 10000

type intrinsicArity struct{ min, max int } // max < 0: unbounded

var intrinsicFuncs = map[string]intrinsicArity{
	"States.Format":         {1, -1},
	"States.StringToJson":   {1, 1},
	"States.JsonToString":   {1, 1},
	"States.Array":          {0, -1},
	"States.ArrayPartition": {2, 2},
	"States.ArrayContains":  {2, 2},
	"States.ArrayRange":     {3, 3},
	"States.ArrayGetItem":   {2, 2},
	"States.ArrayLength":    {1, 1},
	"States.ArrayUnique":    {1, 1},
	"States.Base64Encode":   {1, 1},
	"States.Base64Decode":   {1, 1},
	"States.Hash":           {2, 2},
	"States.JsonMerge":      {3, 3},
	"States.MathRandom":     {2, 3},
	"States.MathAdd":        {2, 2},
	"States.StringSplit":    {2, 2},
	"States.UUID":           {0, 0},
}

// expr is one argument or invocation.
type expr struct {
	call *intrinsicCall
	path *path
	lit  any    // literal string, json.Number, bool or nil
	tmpl string // for string literals: the text with each unescaped {} as holeMark
}

// holeMark stands for an unescaped {} in a parsed string literal, so that
// States.Format can tell it from an escaped \{\}.
const holeMark = "\x00"

type intrinsicCall struct {
	name string
	args []expr
}

// isIntrinsic reports whether a ".$" value is an intrinsic invocation
// rather than a path.
func isIntrinsic(s string) bool { return strings.HasPrefix(s, "States.") }

// parseIntrinsic parses a whole field value such as
// "States.Format('{}-s{}', $.runId, States.MathAdd($.segment, 1))".
func parseIntrinsic(s string) (*intrinsicCall, error) {
	p := &intrinsicParser{src: s}
	e, err := p.parseExpr(0)
	if err != nil {
		return nil, fmt.Errorf("intrinsic %q: %w", s, err)
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("intrinsic %q: unexpected %q after the invocation", s, p.src[p.pos:])
	}
	if e.call == nil {
		return nil, fmt.Errorf("intrinsic %q: not a function invocation", s)
	}
	return e.call, nil
}

type intrinsicParser struct {
	src string
	pos int
}

func (p *intrinsicParser) skipSpace() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t') {
		p.pos++
	}
}

func (p *intrinsicParser) parseExpr(depth int) (expr, error) {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return expr{}, errors.New("unexpected end")
	}
	rest := p.src[p.pos:]
	switch {
	case rest[0] == '\'':
		return p.parseString()
	case rest[0] == '$':
		return p.parsePathArg()
	case strings.HasPrefix(rest, "States."):
		return p.parseCall(depth)
	case strings.HasPrefix(rest, "null"):
		p.pos += 4
		return expr{lit: nil}, nil
	case strings.HasPrefix(rest, "true"):
		p.pos += 4
		return expr{lit: true}, nil
	case strings.HasPrefix(rest, "false"):
		p.pos += 5
		return expr{lit: false}, nil
	case rest[0] == '-' || (rest[0] >= '0' && rest[0] <= '9'):
		i := 1
		for i < len(rest) && strings.IndexByte("0123456789.eE+-", rest[i]) >= 0 {
			i++
		}
		n := json.Number(rest[:i])
		if _, err := n.Float64(); err != nil || !json.Valid([]byte(n)) {
			return expr{}, fmt.Errorf("bad number %q", rest[:i])
		}
		p.pos += i
		return expr{lit: n}, nil
	}
	return expr{}, fmt.Errorf("unexpected %q", rest)
}

func (p *intrinsicParser) parseCall(depth int) (expr, error) {
	if depth >= maxIntrinsicNesting {
		return expr{}, fmt.Errorf("more than %d nested intrinsic functions", maxIntrinsicNesting)
	}
	open := strings.IndexByte(p.src[p.pos:], '(')
	if open < 0 {
		return expr{}, errors.New("missing (")
	}
	name := strings.TrimSpace(p.src[p.pos : p.pos+open])
	arity, ok := intrinsicFuncs[name]
	if !ok {
		return expr{}, fmt.Errorf("unknown intrinsic function %q", name)
	}
	p.pos += open + 1
	call := &intrinsicCall{name: name}
	p.skipSpace()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
	} else {
		for {
			arg, err := p.parseExpr(depth + 1)
			if err != nil {
				return expr{}, err
			}
			call.args = append(call.args, arg)
			p.skipSpace()
			if p.pos >= len(p.src) {
				return expr{}, fmt.Errorf("%s: missing )", name)
			}
			if p.src[p.pos] == ')' {
				p.pos++
				break
			}
			if p.src[p.pos] != ',' {
				return expr{}, fmt.Errorf("%s: expected , or ) at %q", name, p.src[p.pos:])
			}
			p.pos++
		}
	}
	if len(call.args) < arity.min || (arity.max >= 0 && len(call.args) > arity.max) {
		return expr{}, fmt.Errorf("%s takes %s, got %d", name, arityText(arity), len(call.args))
	}
	if name == "States.Format" && call.args[0].lit != nil {
		if _, ok := call.args[0].lit.(string); !ok {
			return expr{}, errors.New("States.Format: the template must be a string")
		}
		if n := strings.Count(call.args[0].tmpl, holeMark); n != len(call.args)-1 {
			return expr{}, fmt.Errorf("States.Format: the template has %d {} but %d values follow", n, len(call.args)-1)
		}
	}
	return expr{call: call}, nil
}

func arityText(a intrinsicArity) string {
	switch {
	case a.max < 0:
		return fmt.Sprintf("at least %d arguments", a.min)
	case a.min == a.max:
		return fmt.Sprintf("%d arguments", a.min)
	}
	return fmt.Sprintf("%d to %d arguments", a.min, a.max)
}

// parseString reads a single-quoted literal. \' \{ \} \\ are the only
// escapes; a lone backslash is an error (developer guide, "Reserved
// characters in intrinsic functions"). For States.Format the literal also
// keeps a template in which only unescaped {} pairs are placeholders.
func (p *intrinsicParser) parseString() (expr, error) {
	p.pos++ // opening quote
	var b, t strings.Builder
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '\'':
			p.pos++
			return expr{lit: b.String(), tmpl: t.String()}, nil
		case c == '\\':
			if p.pos+1 >= len(p.src) || strings.IndexByte(`'{}\`, p.src[p.pos+1]) < 0 {
				return expr{}, errors.New(`open escape \ in a string literal`)
			}
			b.WriteByte(p.src[p.pos+1])
			t.WriteByte(p.src[p.pos+1])
			p.pos += 2
		case c == '{' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '}':
			b.WriteString("{}")
			t.WriteString(holeMark)
			p.pos += 2
		default:
			b.WriteByte(c)
			t.WriteByte(c)
			p.pos++
		}
	}
	return expr{}, errors.New("unterminated string literal")
}

// parsePathArg reads a path argument: up to a top-level ',' or ')'.
func (p *intrinsicParser) parsePathArg() (expr, error) {
	start := p.pos
	depth := 0
	quote := byte(0)
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if quote != 0 {
			if c == quote {
				quote = 0
			}
			p.pos++
			continue
		}
		if c == '[' {
			depth++
		} else if c == ']' {
			depth--
		} else if (c == '\'' || c == '"') && depth > 0 {
			quote = c
		} else if depth == 0 && (c == ',' || c == ')' || c == ' ') {
			break
		}
		p.pos++
	}
	pp, err := parsePath(p.src[start:p.pos])
	if err != nil {
		return expr{}, err
	}
	return expr{path: pp}, nil
}

// evalEnv is what an intrinsic or a payload template can see.
type evalEnv struct {
	input   any
	context any
	rng     *rand.Rand // States.UUID and States.MathRandom
}

func (e expr) eval(env *evalEnv) (any, error) {
	switch {
	case e.call != nil:
		return e.call.eval(env)
	case e.path != nil:
		doc := env.input
		if e.path.context {
			doc = env.context
		}
		v, err := e.path.get(doc)
		if err != nil {
			return nil, failure(ErrIntrinsicFailure, "argument path %s: %v", e.path, err)
		}
		return v, nil
	}
	return e.lit, nil
}

func (c *intrinsicCall) eval(env *evalEnv) (any, error) {
	args := make([]any, len(c.args))
	for i, a := range c.args {
		v, err := a.eval(env)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	v, err := c.apply(args, env)
	if err != nil {
		var te *TaskError
		if errors.As(err, &te) {
			return nil, te
		}
		return nil, failure(ErrIntrinsicFailure, "%s: %v", c.name, err)
	}
	return v, nil
}

func (c *intrinsicCall) apply(args []any, env *evalEnv) (any, error) {
	switch c.name {
	case "States.Format":
		return intrinsicFormat(c.args[0], args)
	case "States.StringToJson":
		s, ok := args[0].(string)
		if !ok {
			return nil, fmt.Errorf("argument is a %s, not a string", jsonType(args[0]))
		}
		v, err := decodeJSON([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("not JSON: %v", err)
		}
		return v, nil
	case "States.JsonToString":
		b, err := encodeJSON(args[0])
		return string(b), err
	case "States.Array":
		return append([]any{}, args...), nil
	case "States.ArrayPartition":
		a, err := argArray(args[0])
		if err != nil {
			return nil, err
		}
		n, ok := toInt(args[1])
		if !ok || n <= 0 {
			return nil, errors.New("chunk size must be a positive integer")
		}
		out := []any{}
		for i := 0; i < len(a); i += int(n) {
			out = append(out, append([]any{}, a[i:min(len(a), i+int(n))]...))
		}
		return out, nil
	case "States.ArrayContains":
		a, err := argArray(args[0])
		if err != nil {
			return nil, err
		}
		for _, x := range a {
			if jsonEqual(x, args[1]) {
				return true, nil
			}
		}
		return false, nil
	case "States.ArrayRange":
		var n [3]int64
		for i := range n {
			v, ok := toInt(args[i])
			if !ok {
				return nil, fmt.Errorf("argument %d must be an integer", i+1)
			}
			n[i] = v
		}
		if n[2] == 0 {
			return nil, errors.New("step must not be 0")
		}
		out := []any{}
		for v := n[0]; (n[2] > 0 && v <= n[1]) || (n[2] < 0 && v >= n[1]); v += n[2] {
			if len(out) == 1000 {
				return nil, errors.New("the range has more than 1000 items")
			}
			out = append(out, number(v))
		}
		return out, nil
	case "States.ArrayGetItem":
		a, err := argArray(args[0])
		if err != nil {
			return nil, err
		}
		i, ok := toInt(args[1])
		if !ok || i < 0 || i >= int64(len(a)) {
			return nil, fmt.Errorf("index %s is outside an array of %d", mustEncode(args[1]), len(a))
		}
		return a[i], nil
	case "States.ArrayLength":
		a, err := argArray(args[0])
		if err != nil {
			return nil, err
		}
		return number(int64(len(a))), nil
	case "States.ArrayUnique":
		a, err := argArray(args[0])
		if err != nil {
			return nil, err
		}
		out := []any{}
	next:
		for _, x := range a {
			for _, y := range out {
				if jsonEqual(x, y) {
					continue next
				}
			}
			out = append(out, x)
		}
		return out, nil
	case "States.Base64Encode":
		s, err := argString(args[0])
		if err != nil {
			return nil, err
		}
		return base64.StdEncoding.EncodeToString([]byte(s)), nil
	case "States.Base64Decode":
		s, err := argString(args[0])
		if err != nil {
			return nil, err
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("not base64: %v", err)
		}
		return string(b), nil
	case "States.Hash":
		data, ok := args[0].(string)
		if !ok {
			data = string(mustEncode(args[0]))
		}
		alg, ok := args[1].(string)
		if !ok {
			return nil, errors.New("the algorithm must be a string")
		}
		var h hash.Hash
		switch alg {
		case "MD5":
			h = md5.New()
		case "SHA-1":
			h = sha1.New()
		case "SHA-256":
			h = sha256.New()
		case "SHA-384":
			h = sha512.New384()
		case "SHA-512":
			h = sha512.New()
		default:
			return nil, fmt.Errorf("algorithm %q is not one of MD5, SHA-1, SHA-256, SHA-384, SHA-512", alg)
		}
		h.Write([]byte(data))
		return hex.EncodeToString(h.Sum(nil)), nil
	case "States.JsonMerge":
		a, ok1 := args[0].(map[string]any)
		b, ok2 := args[1].(map[string]any)
		if !ok1 || !ok2 {
			return nil, errors.New("both values must be JSON objects")
		}
		if deep, ok := args[2].(bool); !ok || deep {
			return nil, errors.New("the third argument must be false: only shallow merges are supported")
		}
		out := make(map[string]any, len(a)+len(b))
		for k, v := range a {
			out[k] = v
		}
		for k, v := range b {
			out[k] = v
		}
		return out, nil
	case "States.MathRandom":
		lo, ok1 := toInt(args[0])
		hi, ok2 := toInt(args[1])
		if !ok1 || !ok2 || hi <= lo {
			return nil, errors.New("start and end must be integers with start < end")
		}
		r := env.rng
		if len(args) == 3 {
			seed, ok := toInt(args[2])
			if !ok {
				return nil, errors.New("the seed must be an integer")
			}
			r = rand.New(rand.NewPCG(uint64(seed), 0))
		}
		return number(lo + r.Int64N(hi-lo)), nil
	case "States.MathAdd":
		var sum int64
		for i, a := range args {
			v, ok := toInt(a)
			if !ok || v < -1<<31 || v > 1<<31-1 {
				return nil, fmt.Errorf("argument %d (%s) must be an integer in [-2147483648, 2147483647]", i+1, mustEncode(a))
			}
			sum += v
		}
		return number(sum), nil
	case "States.StringSplit":
		s, err := argString(args[0])
		if err != nil {
			return nil, err
		}
		seps, err := argString(args[1])
		if err != nil {
			return nil, err
		}
		out := []any{}
		for _, f := range strings.FieldsFunc(s, func(r rune) bool { return strings.ContainsRune(seps, r) }) {
			out = append(out, f)
		}
		return out, nil
	case "States.UUID":
		var b [16]byte
		for i := 0; i < 16; i += 8 {
			v := env.rng.Uint64()
			for j := 0; j < 8; j++ {
				b[i+j] = byte(v >> (8 * j))
			}
		}
		b[6] = b[6]&0x0f | 0x40 // version 4
		b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
		h := hex.EncodeToString(b[:])
		return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
	}
	return nil, fmt.Errorf("unknown intrinsic function %q", c.name)
}

func argArray(v any) ([]any, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("argument is a %s, not an array", jsonType(v))
	}
	return a, nil
}

func argString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("argument is a %s, not a string", jsonType(v))
	}
	if len(s) > maxIntrinsicString {
		return "", fmt.Errorf("string is longer than %d characters", maxIntrinsicString)
	}
	return s, nil
}

// intrinsicFormat fills the template's placeholders. Values may be strings
// (inserted as is), numbers, booleans or null (inserted as JSON text).
func intrinsicFormat(tmpl expr, args []any) (any, error) {
	t, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("the template is a %s, not a string", jsonType(args[0]))
	}
	if _, literal := tmpl.lit.(string); literal {
		t = tmpl.tmpl
	} else { // a template read from a path: every {} is a placeholder
		t = strings.ReplaceAll(t, "{}", holeMark)
	}
	if n := strings.Count(t, holeMark); n != len(args)-1 {
		return nil, fmt.Errorf("the template has %d {} but %d values follow", n, len(args)-1)
	}
	var b strings.Builder
	for i, piece := range strings.Split(t, holeMark) {
		if i > 0 {
			switch v := args[i].(type) {
			case string:
				b.WriteString(v)
			case json.Number:
				b.WriteString(v.String())
			case bool:
				b.WriteString(strconv.FormatBool(v))
			case nil:
				b.WriteString("null")
			default:
				return nil, fmt.Errorf("value %d is a %s; only strings, numbers, booleans and null can be formatted", i, jsonType(v))
			}
		}
		b.WriteString(piece)
	}
	return b.String(), nil
}
