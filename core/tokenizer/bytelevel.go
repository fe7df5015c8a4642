package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// byteTable is GPT-2's reversible byte-to-unicode table (bytes_char in the
// reference). Bytes 33–126, 161–172 and 174–255 stand for themselves; the
// other 68 bytes, in increasing order, map to U+0100 onwards.
type byteTable struct {
	toRune [256]rune
	toByte map[rune]byte
}

// newByteTable builds the table; it is cheap and built once per tokenizer.
func newByteTable() *byteTable {
	t := &byteTable{toByte: make(map[rune]byte, 256)}
	next := rune(0x100)
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			t.toRune[b] = rune(b)
		} else {
			t.toRune[b] = next
			next++
		}
		t.toByte[t.toRune[b]] = byte(b)
	}
	return t
}

// encode maps every byte of s to its printable stand-in.
func (t *byteTable) encode(s string) string {
	var sb strings.Builder
	sb.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		sb.WriteRune(t.toRune[s[i]])
	}
	return sb.String()
}

// decodeToken appends the bytes a token stands for. A token holding a
// character outside the table (an added token such as <|endoftext|>) is
// taken as its raw UTF-8 bytes instead.
func (t *byteTable) decodeToken(dst []byte, tok string) []byte {
	start := len(dst)
	for _, r := range tok {
		b, ok := t.toByte[r]
		if !ok {
			return append(dst[:start], tok...)
		}
		dst = append(dst, b)
	}
	return dst
}

// lossyUTF8 converts b to a string the way Rust's String::from_utf8_lossy
// does: each maximal ill-formed subsequence (the longest prefix of a
// well-formed sequence, or one byte) becomes a single U+FFFD.
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			sb.Write(b[i : i+size])
			i += size
			continue
		}
		sb.WriteRune(utf8.RuneError)
		i += illFormedLen(b[i:])
	}
	return sb.String()
}

// illFormedLen returns the length of the maximal subpart of an ill-formed
// UTF-8 sequence at the start of b (Unicode Table 3-7); always at least 1.
func illFormedLen(b []byte) int {
	lo, hi := byte(0x80), byte(0xBF)
	var need int
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		need, lo = 2, 0xA0
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		need = 2
	case c == 0xED:
		need, hi = 2, 0x9F
	case c == 0xF0:
		need, lo = 3, 0x90
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	case c == 0xF4:
		need, hi = 3, 0x8F
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		c := b[n]
		if c < lo || c > hi {
			break
		}
		n++
		lo, hi = 0x80, 0xBF
	}
	return n
}
