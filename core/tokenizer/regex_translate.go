package tokenizer

import (
	"fmt"
	"strings"
	"unicode"
)

// Oniguruma's Unicode classes written for RE2, whose \s, \d and \w are
// ASCII-only. Oniguruma: \w is Letter|Mark|Number|Connector_Punctuation,
// \d is Decimal_Number, \s is White_Space.
const (
	wordBody  = `\p{L}\p{M}\p{N}\p{Pc}`
	digitBody = `\p{Nd}`
	hexBody   = `0-9a-fA-F`
)

// translatePattern rewrites an Oniguruma (Ruby syntax) pattern, as found in
// tokenizer.json, into an equivalent RE2 pattern, or fails for constructs
// RE2 lacks.
func translatePattern(p string) (string, error) {
	tr := translator{src: p}
	if err := tr.run(); err != nil {
		return "", fmt.Errorf("regex %q: %w", p, err)
	}
	return tr.out.String(), nil
}

type translator struct {
	src     string
	i       int
	out     strings.Builder
	inClass bool
}

func (t *translator) run() error {
	for t.i < len(t.src) {
		c := t.src[t.i]
		var err error
		switch {
		case c == '\\':
			err = t.escape()
		case t.inClass:
			err = t.classChar(c)
		case c == '[':
			t.openClass()
		case c == '(':
			err = t.group()
		case c == '^':
			t.out.WriteString(`(?m:^)`)
			t.i++
		case c == '$':
			t.out.WriteString(`(?m:$)`)
			t.i++
		case c == '+' || c == '*' || c == '?' || c == '}':
			t.out.WriteByte(c)
			t.i++
			if t.i < len(t.src) && t.src[t.i] == '+' && c != '}' {
				return fmt.Errorf("possessive quantifier %q is not supported", t.src[t.i-1:t.i+1])
			}
		default:
			t.out.WriteByte(c)
			t.i++
		}
		if err != nil {
			return err
		}
	}
	if t.inClass {
		return fmt.Errorf("unterminated character class")
	}
	return nil
}

func (t *translator) openClass() {
	t.inClass = true
	t.out.WriteByte('[')
	t.i++
	if t.i < len(t.src) && t.src[t.i] == '^' {
		t.out.WriteByte('^')
		t.i++
	}
	if t.i < len(t.src) && t.src[t.i] == ']' {
		t.out.WriteString(`\]`)
		t.i++
	}
}

func (t *translator) classChar(c byte) error {
	switch {
	case c == ']':
		t.inClass = false
	case c == '[':
		return fmt.Errorf("nested character classes and POSIX brackets are not supported")
	case c == '&' && strings.HasPrefix(t.src[t.i:], "&&"):
		return fmt.Errorf("character class intersection is not supported")
	}
	t.out.WriteByte(c)
	t.i++
	return nil
}

// group copies a '(' construct, rejecting lookarounds, atomic groups and
// options RE2 does not share with Oniguruma.
func (t *translator) group() error {
	rest := t.src[t.i:]
	switch {
	case !strings.HasPrefix(rest, "(?"):
		t.out.WriteByte('(')
		t.i++
		return nil
	case strings.HasPrefix(rest, "(?="), strings.HasPrefix(rest, "(?!"),
		strings.HasPrefix(rest, "(?<="), strings.HasPrefix(rest, "(?<!"):
		return fmt.Errorf("lookaround %q is not supported (only a top-level %s alternative is emulated)", prefixTo(rest, ')'), lookaheadAlt)
	case strings.HasPrefix(rest, "(?>"):
		return fmt.Errorf("atomic group is not supported")
	case strings.HasPrefix(rest, "(?#"):
		return fmt.Errorf("comment group is not supported")
	case strings.HasPrefix(rest, "(?<"), strings.HasPrefix(rest, "(?P<"):
		t.out.WriteString("(?P<")
		t.i += strings.IndexByte(rest, '<') + 1
		return nil
	}
	// Option group: (?imx-imx) or (?imx-imx:...). Ruby's m is RE2's s.
	j := 2
	t.out.WriteString("(?")
	for ; j < len(rest); j++ {
		switch c := rest[j]; c {
		case 'i', '-':
			t.out.WriteByte(c)
		case 'm':
			t.out.WriteByte('s')
		case ':', ')':
			t.out.WriteByte(c)
			t.i += j + 1
			return nil
		default:
			return fmt.Errorf("group option %q is not supported", string(c))
		}
	}
	return fmt.Errorf("unterminated group")
}

// escape translates a backslash sequence, inside or outside a class.
func (t *translator) escape() error {
	if t.i+1 >= len(t.src) {
		return fmt.Errorf("trailing backslash")
	}
	c := t.src[t.i+1]
	t.i += 2
	w := &t.out
	switch c {
	case 's':
		w.WriteString(t.wrap(rangeBody(unicode.White_Space, false)))
	case 'S':
		if t.inClass {
			w.WriteString(rangeBody(unicode.White_Space, true))
		} else {
			w.WriteString("[^" + rangeBody(unicode.White_Space, false) + "]")
		}
	case 'd':
		w.WriteString(digitBody)
	case 'D':
		w.WriteString(`\P{Nd}`)
	case 'w':
		w.WriteString(t.wrap(wordBody))
	case 'W':
		if t.inClass {
			return fmt.Errorf(`\W inside a character class is not supported`)
		}
		w.WriteString("[^" + wordBody + "]")
	case 'h':
		w.WriteString(t.wrap(hexBody))
	case 'H':
		if t.inClass {
			return fmt.Errorf(`\H inside a character class is not supported`)
		}
		w.WriteString("[^" + hexBody + "]")
	case 'u':
		if t.i+4 > len(t.src) || !isHex(t.src[t.i:t.i+4]) {
			return fmt.Errorf(`\u needs four hex digits`)
		}
		w.WriteString(`\x{` + t.src[t.i:t.i+4] + `}`)
		t.i += 4
	case 'e':
		w.WriteString(`\x1B`)
	case 'p', 'P':
		end := t.i
		if end < len(t.src) && t.src[end] == '{' {
			k := strings.IndexByte(t.src[end:], '}')
			if k < 0 {
				return fmt.Errorf(`unterminated \%c{`, c)
			}
			end += k + 1
		} else {
			end++
		}
		if end > len(t.src) {
			return fmt.Errorf(`incomplete \%c`, c)
		}
		w.WriteString(`\` + string(c) + t.src[t.i:end])
		t.i = end
	case 'b', 'B', 'G', 'Z', 'K', 'R', 'X', 'k', 'g', 'y', 'Y', 'O', 'N':
		return fmt.Errorf(`escape \%c is not supported`, c)
	default:
		if c >= '1' && c <= '9' {
			return fmt.Errorf(`backreference \%c is not supported`, c)
		}
		w.WriteByte('\\')
		w.WriteByte(c)
	}
	return nil
}

// wrap puts a class body in brackets unless already inside a class.
func (t *translator) wrap(body string) string {
	if t.inClass {
		return body
	}
	return "[" + body + "]"
}

// rangeBody writes the code points of tab (or, when negate, of its
// complement) as an RE2 class body.
func rangeBody(tab *unicode.RangeTable, negate bool) string {
	var ranges [][2]rune
	for _, r := range tab.R16 {
		for lo := rune(r.Lo); lo <= rune(r.Hi); lo += rune(r.Stride) {
			hi := lo
			if r.Stride == 1 {
				hi = rune(r.Hi)
			}
			ranges = appendRange(ranges, lo, hi)
			if r.Stride == 1 {
				break
			}
		}
	}
	for _, r := range tab.R32 {
		for lo := rune(r.Lo); lo <= rune(r.Hi); lo += rune(r.Stride) {
			hi := lo
			if r.Stride == 1 {
				hi = rune(r.Hi)
			}
			ranges = appendRange(ranges, lo, hi)
			if r.Stride == 1 {
				break
			}
		}
	}
	if negate {
		var comp [][2]rune
		next := rune(0)
		for _, r := range ranges {
			if r[0] > next {
				comp = append(comp, [2]rune{next, r[0] - 1})
			}
			next = r[1] + 1
		}
		if next <= unicode.MaxRune {
			comp = append(comp, [2]rune{next, unicode.MaxRune})
		}
		ranges = comp
	}
	var sb strings.Builder
	for _, r := range ranges {
		fmt.Fprintf(&sb, `\x{%x}`, r[0])
		if r[1] != r[0] {
			fmt.Fprintf(&sb, `-\x{%x}`, r[1])
		}
	}
	return sb.String()
}

func appendRange(ranges [][2]rune, lo, hi rune) [][2]rune {
	if n := len(ranges); n > 0 && ranges[n-1][1]+1 >= lo {
		if hi > ranges[n-1][1] {
			ranges[n-1][1] = hi
		}
		return ranges
	}
	return append(ranges, [2]rune{lo, hi})
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // lower-cases letters
		if !(s[i] >= '0' && s[i] <= '9') && !(c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// prefixTo returns s up to and including the first sep, for messages.
func prefixTo(s string, sep byte) string {
	if k := strings.IndexByte(s, sep); k >= 0 {
		return s[:k+1]
	}
	return s
}
