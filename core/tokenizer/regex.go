package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// lookaheadAlt is the one lookahead construct tokenizer patterns use. RE2
// cannot express it, so it is emulated (see splitRegex.findAll).
const lookaheadAlt = `\s+(?!\S)`

// wsGroupName names the capture group standing in for lookaheadAlt.
const wsGroupName = "lorafnws"

// splitRegex finds the matches of a tokenizer.json (Oniguruma) pattern.
type splitRegex struct {
	re *regexp.Regexp
	// ws is the submatch index of the group replacing lookaheadAlt, or -1.
	ws int
	// rest matches, anchored, the alternatives after lookaheadAlt; nil when
	// there are none.
	rest *regexp.Regexp
}

// compilePattern translates an Oniguruma pattern to RE2 and compiles it.
func compilePattern(pattern string) (*splitRegex, error) {
	alts, err := splitAlternatives(pattern)
	if err != nil {
		return nil, err
	}
	k := -1
	for i, a := range alts {
		if a == lookaheadAlt {
			k = i
			break
		}
	}
	if k < 0 {
		src, err := translatePattern(pattern)
		if err != nil {
			return nil, err
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, fmt.Errorf("regex %q: %w", pattern, err)
		}
		return &splitRegex{re: re, ws: -1}, nil
	}
	if hasContextAnchor(pattern) {
		return nil, fmt.Errorf("regex %q: %s cannot be combined with ^, \\A, \\G, \\b or \\B", pattern, lookaheadAlt)
	}
	main := make([]string, len(alts))
	for i, a := range alts {
		if i == k {
			main[i] = `(?P<` + wsGroupName + `>\s+)`
			continue
		}
		main[i] = a
	}
	src, err := translatePattern(strings.Join(main, "|"))
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", pattern, err)
	}
	sr := &splitRegex{re: re, ws: re.SubexpIndex(wsGroupName)}
	if k+1 < len(alts) {
		restSrc, err := translatePattern(`\A(?:` + strings.Join(alts[k+1:], "|") + `)`)
		if err != nil {
			return nil, err
		}
		if sr.rest, err = regexp.Compile(restSrc); err != nil {
			return nil, fmt.Errorf("regex %q: %w", pattern, err)
		}
	}
	return sr, nil
}

// findAll appends the [start, end) byte ranges of the successive
// non-overlapping matches in s, with Oniguruma's find_iter semantics (an
// empty match right after the previous match is skipped).
func (r *splitRegex) findAll(s string, out [][2]int) [][2]int {
	if r.ws < 0 {
		for _, m := range r.re.FindAllStringIndex(s, -1) {
			out = append(out, [2]int{m[0], m[1]})
		}
		return out
	}
	pos, lastEnd := 0, -1
	for pos <= len(s) {
		loc := r.re.FindStringSubmatchIndex(s[pos:])
		if loc == nil {
			break
		}
		start, end := pos+loc[0], pos+loc[1]
		if loc[2*r.ws] >= 0 && end < len(s) {
			// The group matched a whole whitespace run followed by a
			// non-space character: \s+(?!\S) backtracks by one character.
			_, last := utf8.DecodeLastRuneInString(s[start:end])
			if end-last > start {
				end -= last
			} else if m := r.restAt(s, start); m >= 0 {
				end = m
			} else {
				// Nothing matches at start; search on from the next character.
				pos = start + last
				continue
			}
		}
		if start == end && start == lastEnd {
			if start >= len(s) {
				break
			}
			_, n := utf8.DecodeRuneInString(s[start:])
			pos = start + n
			continue
		}
		out = append(out, [2]int{start, end})
		lastEnd = end
		if end > start {
			pos = end
			continue
		}
		if end >= len(s) {
			break
		}
		_, n := utf8.DecodeRuneInString(s[end:])
		pos = end + n
	}
	return out
}

// restAt returns the end of the match of the alternatives after the
// lookahead one at byte offset start, or -1.
func (r *splitRegex) restAt(s string, start int) int {
	if r.rest == nil {
		return -1
	}
	m := r.rest.FindStringIndex(s[start:])
	if m == nil {
		return -1
	}
	return start + m[1]
}

// splitAlternatives splits a pattern at its top-level '|'.
func splitAlternatives(p string) ([]string, error) {
	var alts []string
	depth, inClass, last := 0, 0, 0
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\':
			i++
		case inClass > 0 && c == '[':
			inClass++
		case inClass > 0 && c == ']':
			inClass--
		case inClass > 0:
		case c == '[':
			inClass = 1
			// A ']' right after '[' or '[^' is a literal.
			if i+1 < len(p) && p[i+1] == '^' {
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				i++
			}
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("regex %q: unbalanced ')'", p)
			}
		case c == '|' && depth == 0:
			alts = append(alts, p[last:i])
			last = i + 1
		}
	}
	if depth != 0 || inClass != 0 {
		return nil, fmt.Errorf("regex %q: unbalanced group or class", p)
	}
	return append(alts, p[last:]), nil
}

// hasContextAnchor reports whether p uses an assertion that looks before
// the current position, which the restartable emulation cannot honour.
func hasContextAnchor(p string) bool {
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			if !inClass && strings.IndexByte("AGbB", p[i+1]) >= 0 {
				return true
			}
			i++
		case c == '[':
			inClass = true
		case c == ']':
			inClass = false
		case c == '^' && !inClass:
			return true
		}
	}
	return false
}
