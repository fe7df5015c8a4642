package statemachine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// This file implements the JSONPath dialect of the Amazon States Language.
//
// Two kinds of path exist (ASL spec, "Paths" and "Reference Paths"):
//
//   - A Path may select several nodes: wildcards ($.a[*], $.a.*), deep
//     scans ($..name), slices ($.a[1:3]) and index unions ($.a[0,2]). AWS
//     evaluates these with Jayway JSONPath, which returns a JSON array of the
//     matches for such an "indefinite" path and the single value otherwise.
//   - A Reference Path (ResultPath, Choice Variable, ItemsPath, SecondsPath,
//     ...) must identify exactly one node: only names and indexes.
//
// Paths starting with "$$" address the context object instead of the input.
// Filter expressions ([?(...)]) are rejected at parse time rather than
// silently mis-evaluated.

// errPathNotFound is returned when a definite path names a node that the
// document lacks.
var errPathNotFound = errors.New("path matches nothing")

type segKind int

const (
	segName      segKind = iota // .name or ['name']
	segIndex                    // [3] or [-1]
	segWildcard                 // .* or [*]
	segDeepName                 // ..name
	segDeepWild                 // ..* or ..[*]
	segSlice                    // [a:b]
	segUnion                    // [0,2,5]
	segNameUnion                // ['a','b']
)

type pathSeg struct {
	kind     segKind
	name     string
	index    int
	lo, hi   *int
	indexes  []int
	names    []string
	rawPiece string
}

// path is a parsed JSONPath. The zero value is not valid; use parsePath.
type path struct {
	raw     string
	context bool // starts with $$: evaluated against the context object
	segs    []pathSeg
}

// definite reports whether the path selects at most one node.
func (p *path) definite() bool {
	for _, s := range p.segs {
		if s.kind != segName && s.kind != segIndex {
			return false
		}
	}
	return true
}

func (p *path) String() string { return p.raw }

// parsePath parses a Path. Reference paths are further checked with
// parseReferencePath.
func parsePath(s string) (*path, error) {
	p := &path{raw: s}
	rest := s
	switch {
	case strings.HasPrefix(rest, "$$"):
		p.context = true
		rest = rest[2:]
	case strings.HasPrefix(rest, "$"):
		rest = rest[1:]
	default:
		return nil, fmt.Errorf("path %q must start with $", s)
	}
	for rest != "" {
		var seg pathSeg
		var err error
		seg, rest, err = parseSeg(rest)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", s, err)
		}
		p.segs = append(p.segs, seg)
	}
	return p, nil
}

// parseReferencePath parses a path that must select exactly one node.
func parseReferencePath(s string) (*path, error) {
	p, err := parsePath(s)
	if err != nil {
		return nil, err
	}
	if !p.definite() {
		return nil, fmt.Errorf("reference path %q may use only names and indexes (no wildcards, slices, unions or deep scans)", s)
	}
	return p, nil
}

func parseSeg(s string) (pathSeg, string, error) {
	switch {
	case strings.HasPrefix(s, ".."):
		rest := s[2:]
		if strings.HasPrefix(rest, "*") {
			return pathSeg{kind: segDeepWild}, rest[1:], nil
		}
		if strings.HasPrefix(rest, "[*]") {
			return pathSeg{kind: segDeepWild}, rest[3:], nil
		}
		if strings.HasPrefix(rest, "[") {
			seg, r, err := parseBracket(rest)
			if err != nil {
				return seg, r, err
			}
			if seg.kind != segName {
				return seg, r, errors.New("deep scan supports only a name or *")
			}
			seg.kind = segDeepName
			return seg, r, nil
		}
		name, r := scanName(rest)
		if name == "" {
			return pathSeg{}, s, errors.New("empty name after ..")
		}
		return pathSeg{kind: segDeepName, name: name}, r, nil
	case strings.HasPrefix(s, "."):
		rest := s[1:]
		if strings.HasPrefix(rest, "*") {
			return pathSeg{kind: segWildcard}, rest[1:], nil
		}
		name, r := scanName(rest)
		if name == "" {
			return pathSeg{}, s, errors.New("empty name after .")
		}
		return pathSeg{kind: segName, name: name}, r, nil
	case strings.HasPrefix(s, "["):
		return parseBracket(s)
	}
	return pathSeg{}, s, fmt.Errorf("unexpected %q", s)
}

// scanName reads a dot-notation member name: everything up to the next
// '.', '[' or a character Jayway does not accept there.
func scanName(s string) (string, string) {
	i := 0
	for i < len(s) {
		c := s[i]
		if c == '.' || c == '[' || c == ']' || c == ' ' || c == '\'' || c == '"' || c == '(' || c == ')' || c == '?' || c == '@' || c == ',' || c == '*' {
			break
		}
		i++
	}
	return s[:i], s[i:]
}

func parseBracket(s string) (pathSeg, string, error) {
	end := -1
	inQuote := byte(0)
	for i := 1; i < len(s); i++ {
		c := s[i]
		if inQuote != 0 {
			if c == '\\' {
				i++
				continue
			}
			if c == inQuote {
				inQuote = 0
			}
			continue
		}
		if c == '\'' || c == '"' {
			inQuote = c
			continue
		}
		if c == ']' {
			end = i
			break
		}
	}
	if end < 0 {
		return pathSeg{}, s, errors.New("unclosed [")
	}
	body := strings.TrimSpace(s[1:end])
	rest := s[end+1:]
	switch {
	case body == "*":
		return pathSeg{kind: segWildcard}, rest, nil
	case body == "":
		return pathSeg{}, s, errors.New("empty []")
	case strings.HasPrefix(body, "?") || strings.HasPrefix(body, "("):
		return pathSeg{}, s, fmt.Errorf("filter and script expressions %q are not supported", "["+body+"]")
	case body[0] == '\'' || body[0] == '"':
		names, err := splitQuoted(body)
		if err != nil {
			return pathSeg{}, s, err
		}
		if len(names) == 1 {
			return pathSeg{kind: segName, name: names[0]}, rest, nil
		}
		return pathSeg{kind: segNameUnion, names: names}, rest, nil
	case strings.Contains(body, ":"):
		parts := strings.Split(body, ":")
		if len(parts) != 2 {
			return pathSeg{}, s, fmt.Errorf("slice %q: steps are not supported", body)
		}
		seg := pathSeg{kind: segSlice}
		for i, part := range parts {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			n, err := strconv.Atoi(part)
			if err != nil {
				return pathSeg{}, s, fmt.Errorf("slice bound %q is not an integer", part)
			}
			if i == 0 {
				seg.lo = &n
			} else {
				seg.hi = &n
			}
		}
		return seg, rest, nil
	case strings.Contains(body, ","):
		seg := pathSeg{kind: segUnion}
		for _, part := range strings.Split(body, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(part))
			if err != nil {
				return pathSeg{}, s, fmt.Errorf("index %q is not an integer", part)
			}
			seg.indexes = append(seg.indexes, n)
		}
		return seg, rest, nil
	}
	n, err := strconv.Atoi(body)
	if err != nil {
		return pathSeg{}, s, fmt.Errorf("index %q is not an integer", body)
	}
	return pathSeg{kind: segIndex, index: n}, rest, nil
}

// splitQuoted splits 'a','b' into its unquoted names.
func splitQuoted(body string) ([]string, error) {
	var names []string
	for {
		body = strings.TrimSpace(body)
		if body == "" || (body[0] != '\'' && body[0] != '"') {
			return nil, fmt.Errorf("expected a quoted name in [%s]", body)
		}
		q := body[0]
		var b strings.Builder
		i := 1
		for ; i < len(body) && body[i] != q; i++ {
			if body[i] == '\\' && i+1 < len(body) {
				i++
			}
			b.WriteByte(body[i])
		}
		if i >= len(body) {
			return nil, errors.New("unterminated quoted name")
		}
		names = append(names, b.String())
		body = strings.TrimSpace(body[i+1:])
		if body == "" {
			return names, nil
		}
		if body[0] != ',' {
			return nil, fmt.Errorf("unexpected %q after quoted name", body)
		}
		body = body[1:]
	}
}

// get evaluates p against doc. A definite path returns the one value it
// names or errPathNotFound; an indefinite path returns a []any of its
// matches, possibly empty (Jayway's behaviour, which AWS inherits).
func (p *path) get(doc any) (any, error) {
	if p.definite() {
		cur := doc
		for _, s := range p.segs {
			next, ok := step(cur, s)
			if !ok {
				return nil, errPathNotFound
			}
			cur = next
		}
		return cur, nil
	}
	nodes := []any{doc}
	for _, s := range p.segs {
		var out []any
		for _, n := range nodes {
			out = append(out, selectAll(n, s)...)
		}
		nodes = out
	}
	if nodes == nil {
		nodes = []any{}
	}
	return nodes, nil
}

// step follows one name or index segment.
func step(v any, s pathSeg) (any, bool) {
	switch s.kind {
	case segName:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		x, ok := m[s.name]
		return x, ok
	case segIndex:
		a, ok := v.([]any)
		if !ok {
			return nil, false
		}
		i := s.index
		if i < 0 {
			i += len(a)
		}
		if i < 0 || i >= len(a) {
			return nil, false
		}
		return a[i], true
	}
	return nil, false
}

func selectAll(v any, s pathSeg) []any {
	switch s.kind {
	case segName, segIndex:
		if x, ok := step(v, s); ok {
			return []any{x}
		}
		return nil
	case segWildcard:
		return children(v)
	case segNameUnion:
		var out []any
		if m, ok := v.(map[string]any); ok {
			for _, n := range s.names {
				if x, ok := m[n]; ok {
					out = append(out, x)
				}
			}
		}
		return out
	case segUnion:
		var out []any
		for _, i := range s.indexes {
			if x, ok := step(v, pathSeg{kind: segIndex, index: i}); ok {
				out = append(out, x)
			}
		}
		return out
	case segSlice:
		a, ok := v.([]any)
		if !ok {
			return nil
		}
		lo, hi := 0, len(a)
		if s.lo != nil {
			lo = clampIndex(*s.lo, len(a))
		}
		if s.hi != nil {
			hi = clampIndex(*s.hi, len(a))
		}
		if lo >= hi {
			return nil
		}
		return append([]any(nil), a[lo:hi]...)
	case segDeepName, segDeepWild:
		var out []any
		var walk func(x any)
		walk = func(x any) {
			if s.kind == segDeepName {
				if m, ok := x.(map[string]any); ok {
					if y, ok := m[s.name]; ok {
						out = append(out, y)
					}
				}
			} else {
				out = append(out, children(x)...)
			}
			for _, c := range children(x) {
				walk(c)
			}
		}
		walk(v)
		return out
	}
	return nil
}

func clampIndex(i, n int) int {
	if i < 0 {
		i += n
	}
	return max(0, min(i, n))
}

// children lists an array's elements, or an object's values in key order
// so that results are deterministic.
func children(v any) []any {
	switch t := v.(type) {
	case []any:
		return t
	case map[string]any:
		keys := sortedKeys(t)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = t[k]
		}
		return out
	}
	return nil
}

// set returns doc with the node named by the reference path p replaced by
// v. doc itself is not modified: objects and arrays along the path are
// copied, so values shared with other states stay intact. Missing objects
// on the way are created, as the service does for ResultPath; stepping into
// a non-object (or a missing array element) is an error.
func (p *path) set(doc any, v any) (any, error) {
	return setAt(doc, p.segs, v)
}

func setAt(cur any, segs []pathSeg, v any) (any, error) {
	if len(segs) == 0 {
		return v, nil
	}
	s := segs[0]
	switch s.kind {
	case segName:
		var m map[string]any
		switch t := cur.(type) {
		case map[string]any:
			m = make(map[string]any, len(t)+1)
			for k, x := range t {
				m[k] = x
			}
		case nil:
			m = map[string]any{}
		default:
			return nil, fmt.Errorf("cannot set field %q in a %s", s.name, jsonType(cur))
		}
		child, err := setAt(m[s.name], segs[1:], v)
		if err != nil {
			return nil, err
		}
		m[s.name] = child
		return m, nil
	case segIndex:
		a, ok := cur.([]any)
		if !ok {
			return nil, fmt.Errorf("cannot set index %d in a %s", s.index, jsonType(cur))
		}
		i := s.index
		if i < 0 {
			i += len(a)
		}
		if i < 0 || i >= len(a) {
			return nil, fmt.Errorf("index %d is outside an array of %d", s.index, len(a))
		}
		b := append([]any(nil), a...)
		child, err := setAt(b[i], segs[1:], v)
		if err != nil {
			return nil, err
		}
		b[i] = child
		return b, nil
	}
	return nil, errors.New("reference path required")
}
