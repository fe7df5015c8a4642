package tokenizer

import (
	"strings"
	"unicode"
)

// normalizer rewrites a segment of input text before pre-tokenization.
type normalizer interface {
	normalize(s string) string
}

// prependNorm prepends a string to non-empty text.
type prependNorm struct{ prefix string }

func (p prependNorm) normalize(s string) string {
	if s == "" {
		return s
	}
	return p.prefix + s
}

// replaceNorm replaces every match of a literal or regex pattern.
type replaceNorm struct {
	re      *splitRegex // nil for a literal pattern
	literal string
	content string
}

func (r *replaceNorm) normalize(s string) string {
	if r.re == nil {
		if r.literal == "" {
			return s
		}
		return strings.ReplaceAll(s, r.literal, r.content)
	}
	return r.replaceRegex(s)
}

func (r *replaceNorm) replaceRegex(s string) string {
	matches := r.re.findAll(s, nil)
	if len(matches) == 0 {
		return s
	}
	var sb strings.Builder
	prev := 0
	for _, m := range matches {
		sb.WriteString(s[prev:m[0]])
		sb.WriteString(r.content)
		prev = m[1]
	}
	sb.WriteString(s[prev:])
	return sb.String()
}

// stripNorm removes white space on the left and/or right.
type stripNorm struct{ left, right bool }

func (n stripNorm) normalize(s string) string {
	if n.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if n.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

// lowercaseNorm lower-cases character by character like Rust's
// char::to_lowercase: the simple mapping, except that U+0130 (İ) becomes
// "i\u0307", its one unconditional multi-character lowercase form. There
// is no context-dependent rule such as Greek final sigma.
type lowercaseNorm struct{}

func (lowercaseNorm) normalize(s string) string {
	if !strings.ContainsRune(s, '\u0130') {
		return strings.ToLower(s)
	}
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	for _, r := range s {
		if r == '\u0130' {
			sb.WriteString("i\u0307")
			continue
		}
		sb.WriteRune(unicode.ToLower(r))
	}
	return sb.String()
}

// sequenceNorm applies normalizers in order.
type sequenceNorm []normalizer

func (q sequenceNorm) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}
