package statemachine

import (
	"errors"
	"fmt"
	"strings"
)

// A payload template is the value of Parameters, ResultSelector or
// ItemSelector (developer guide, "Parameters"): a JSON value in which every
// object key ending in ".$" has a path or an intrinsic invocation as its
// value, replaced at run time by what it selects, under the key without the
// ".$". Templates nest through objects and arrays.
type template struct {
	lit    any             // a literal leaf: copied as is
	object []templateField // an object: fields in definition order
	array  []*template     // an array
	kind   templateKind
}

type templateKind int

const (
	tmplLiteral templateKind = iota
	tmplObject
	tmplArray
)

type templateField struct {
	key   string // without ".$"
	value *template
	path  *path          // for "key.$": a path...
	call  *intrinsicCall // ...or an intrinsic invocation
}

// compileTemplate checks and compiles a decoded template. where names the
// field for error messages ("Parameters").
func compileTemplate(v any, where string) (*template, error) {
	switch t := v.(type) {
	case map[string]any:
		tm := &template{kind: tmplObject}
		seen := map[string]bool{}
		for _, k := range sortedKeys(t) {
			f := templateField{key: k}
			if strings.HasSuffix(k, ".$") {
				f.key = strings.TrimSuffix(k, ".$")
				s, ok := t[k].(string)
				if !ok {
					return nil, fmt.Errorf("%s.%s: the value of a key ending in .$ must be a string, got a %s", where, k, jsonType(t[k]))
				}
				if isIntrinsic(s) {
					call, err := parseIntrinsic(s)
					if err != nil {
						return nil, fmt.Errorf("%s.%s: %w", where, k, err)
					}
					f.call = call
				} else {
					p, err := parsePath(s)
					if err != nil {
						return nil, fmt.Errorf("%s.%s: %w", where, k, err)
					}
					f.path = p
				}
			} else {
				sub, err := compileTemplate(t[k], where+"."+k)
				if err != nil {
					return nil, err
				}
				f.value = sub
			}
			if seen[f.key] {
				return nil, fmt.Errorf("%s: field %q is given twice (with and without .$)", where, f.key)
			}
			seen[f.key] = true
			tm.object = append(tm.object, f)
		}
		return tm, nil
	case []any:
		tm := &template{kind: tmplArray}
		for i, x := range t {
			sub, err := compileTemplate(x, fmt.Sprintf("%s[%d]", where, i))
			if err != nil {
				return nil, err
			}
			tm.array = append(tm.array, sub)
		}
		return tm, nil
	}
	return &template{lit: v}, nil
}

// templatePathError is a path in a template that selected nothing; the
// caller turns it into the state's error name (States.ParameterPathFailure
// for Parameters).
type templatePathError struct{ msg string }

func (e *templatePathError) Error() string { return e.msg }

func isTemplatePathError(err error) bool {
	var te *templatePathError
	return errors.As(err, &te)
}

// apply builds the payload from the template against env.
func (tm *template) apply(env *evalEnv) (any, error) {
	switch tm.kind {
	case tmplObject:
		out := make(map[string]any, len(tm.object))
		for _, f := range tm.object {
			switch {
			case f.path != nil:
				doc := env.input
				if f.path.context {
					doc = env.context
				}
				v, err := f.path.get(doc)
				if err != nil {
					return nil, &templatePathError{fmt.Sprintf("the JSONPath '%s' specified for the field '%s.$' could not be found in the input", f.path, f.key)}
				}
				out[f.key] = v
			case f.call != nil:
				v, err := f.call.eval(env)
				if err != nil {
					return nil, err
				}
				out[f.key] = v
			default:
				v, err := f.value.apply(env)
				if err != nil {
					return nil, err
				}
				out[f.key] = v
			}
		}
		return out, nil
	case tmplArray:
		out := make([]any, len(tm.array))
		for i, sub := range tm.array {
			v, err := sub.apply(env)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	return tm.lit, nil
}
