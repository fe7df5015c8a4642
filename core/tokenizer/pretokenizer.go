package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// piece is one pre-token: a span of normalized text.
type piece struct {
	text string
	// first is true when the piece starts the input text (Metaspace
	// prepend_scheme "first" needs it).
	first bool
}

// preTokenizer splits pieces into smaller pieces, dropping empty ones.
type preTokenizer interface {
	preTokenize(in []piece) []piece
}

// gpt2Pattern is the split built into the ByteLevel pre-tokenizer itself
// (not a model's Split pattern, which is always read from the file).
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// byteLevelPre is the ByteLevel pre-tokenizer: optional prefix space,
// optional GPT-2 split, then every byte mapped to its printable stand-in.
type byteLevelPre struct {
	addPrefixSpace bool
	re             *splitRegex // nil when use_regex is false
	table          *byteTable
}

func (b *byteLevelPre) preTokenize(in []piece) []piece {
	out := make([]piece, 0, len(in)*4)
	var matches [][2]int
	var spans []span
	for _, p := range in {
		if b.addPrefixSpace && !strings.HasPrefix(p.text, " ") {
			p.text = " " + p.text
		}
		if b.re == nil {
			out = append(out, p)
			continue
		}
		matches = b.re.findAll(p.text, matches[:0])
		spans = coverSpans(len(p.text), matches, false, spans[:0])
		out = emitSpans(p, spans, out)
	}
	for i := range out {
		out[i].text = b.table.encode(out[i].text)
	}
	return out
}

// splitPre is the Split pre-tokenizer.
type splitPre struct {
	re       *splitRegex // for Regex patterns
	literal  string      // for String patterns (used when re is nil)
	behavior splitBehavior
	invert   bool
}

func (s *splitPre) preTokenize(in []piece) []piece {
	out := make([]piece, 0, len(in)*4)
	var matches [][2]int
	var spans []span
	for _, p := range in {
		if s.re != nil {
			matches = s.re.findAll(p.text, matches[:0])
		} else {
			matches = findLiteral(p.text, s.literal, matches[:0])
		}
		spans = coverSpans(len(p.text), matches, s.invert, spans[:0])
		out = emitSpans(p, applyBehavior(spans, s.behavior), out)
	}
	return out
}

// findLiteral returns the non-overlapping occurrences of lit, left to right.
func findLiteral(s, lit string, out [][2]int) [][2]int {
	if lit == "" {
		return out
	}
	for off := 0; ; {
		k := strings.Index(s[off:], lit)
		if k < 0 {
			return out
		}
		out = append(out, [2]int{off + k, off + k + len(lit)})
		off += k + len(lit)
	}
}

// runeSpans matches every rune for which match is true, one span each,
// like the reference's character-predicate pattern.
func runeSpans(s string, match func(rune) bool, out [][2]int) [][2]int {
	for i, r := range s {
		if match(r) {
			out = append(out, [2]int{i, i + utf8.RuneLen(r)})
		}
	}
	return out
}

// funcPre splits on a character predicate: Digits, WhitespaceSplit,
// Metaspace's split.
type funcPre struct {
	match    func(rune) bool
	behavior splitBehavior
}

func (f *funcPre) preTokenize(in []piece) []piece {
	out := make([]piece, 0, len(in)*2)
	var matches [][2]int
	var spans []span
	for _, p := range in {
		matches = runeSpans(p.text, f.match, matches[:0])
		spans = coverSpans(len(p.text), matches, false, spans[:0])
		out = emitSpans(p, applyBehavior(spans, f.behavior), out)
	}
	return out
}

// newDigitsPre isolates each numeric character, or runs of them.
func newDigitsPre(individual bool) *funcPre {
	b := behaviorContiguous
	if individual {
		b = behaviorIsolated
	}
	return &funcPre{match: unicode.IsNumber, behavior: b}
}

// prependScheme is Metaspace's prepend_scheme.
type prependScheme int

const (
	prependAlways prependScheme = iota
	prependFirst
	prependNever
)

// metaspacePre replaces spaces by the replacement character, prepends one
// per the scheme, and optionally splits before each replacement.
type metaspacePre struct {
	replacement rune
	scheme      prependScheme
	split       bool
}

func (m *metaspacePre) preTokenize(in []piece) []piece {
	rep := string(m.replacement)
	out := make([]piece, 0, len(in))
	for _, p := range in {
		p.text = strings.ReplaceAll(p.text, " ", rep)
		if !strings.HasPrefix(p.text, rep) &&
			(m.scheme == prependAlways || (m.scheme == prependFirst && p.first)) {
			p.text = rep + p.text
		}
		out = append(out, p)
	}
	if !m.split {
		return out
	}
	f := funcPre{match: func(r rune) bool { return r == m.replacement }, behavior: behaviorMergedWithNext}
	return f.preTokenize(out)
}

// whitespacePre is the Whitespace pre-tokenizer: runs of word characters
// and runs of other non-space characters (\w+|[^\w\s]+ in Rust's regex).
type whitespacePre struct{}

func (whitespacePre) preTokenize(in []piece) []piece {
	out := make([]piece, 0, len(in)*4)
	for _, p := range in {
		start, kind := 0, 0 // kind: 0 space, 1 word, 2 other
		for i, r := range p.text {
			k := 2
			if unicode.IsSpace(r) {
				k = 0
			} else if isRustWordChar(r) {
				k = 1
			}
			if k != kind || k == 0 {
				if kind != 0 && i > start {
					out = append(out, piece{text: p.text[start:i], first: p.first && start == 0})
				}
				start, kind = i, k
			}
		}
		if kind != 0 && len(p.text) > start {
			out = append(out, piece{text: p.text[start:], first: p.first && start == 0})
		}
	}
	return out
}

// isRustWordChar is Rust regex's Unicode \w: Alphabetic, Mark,
// Decimal_Number, Connector_Punctuation, Join_Control.
func isRustWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsMark(r) || unicode.Is(unicode.Nd, r) ||
		unicode.Is(unicode.Pc, r) || unicode.Is(unicode.Nl, r) ||
		unicode.Is(unicode.Other_Alphabetic, r) || unicode.Is(unicode.Join_Control, r)
}

// sequencePre runs pre-tokenizers one after another.
type sequencePre []preTokenizer

func (s sequencePre) preTokenize(in []piece) []piece {
	for _, p := range s {
		in = p.preTokenize(in)
	}
	return in
}

// isWhiteSpace is Rust's char::is_whitespace (the White_Space property).
func isWhiteSpace(r rune) bool { return unicode.IsSpace(r) }
