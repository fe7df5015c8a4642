package tokenizer

import "testing"

func TestByteTable(t *testing.T) {
	tab := newByteTable()
	// hf-models.md §6.3 examples, plus bytes that stand for themselves.
	for _, c := range []struct {
		b byte
		r rune
	}{
		{' ', 'Ġ'}, {'\n', 'Ċ'}, {0x7F, 0x121}, {0xAD, 0x143}, {0x00, 0x100},
		{'!', '!'}, {'~', '~'}, {0xA1, 0xA1}, {0xAC, 0xAC}, {0xAE, 0xAE}, {0xFF, 0xFF},
	} {
		if got := tab.toRune[c.b]; got != c.r {
			t.Errorf("byte %#x -> %U, want %U", c.b, got, c.r)
		}
	}
	seen := map[rune]bool{}
	for b := 0; b < 256; b++ {
		r := tab.toRune[b]
		if seen[r] {
			t.Fatalf("rune %U used twice", r)
		}
		seen[r] = true
		if tab.toByte[r] != byte(b) {
			t.Fatalf("inverse of %U is %#x, want %#x", r, tab.toByte[r], b)
		}
		if r > 0x143 {
			t.Fatalf("byte %#x maps to %U, beyond U+0143", b, r)
		}
	}
	if got := tab.encode("a b\n"); got != "aĠbĊ" {
		t.Errorf("encode = %q", got)
	}
	if got := string(tab.decodeToken(nil, "aĠbĊ")); got != "a b\n" {
		t.Errorf("decodeToken = %q", got)
	}
	// A token with a character outside the table decodes to its own bytes.
	if got := string(tab.decodeToken([]byte("x"), "<|endoftext|>")); got != "x<|endoftext|>" {
		t.Errorf("decodeToken(added) = %q", got)
	}
}

func TestLossyUTF8(t *testing.T) {
	// Expected values follow Rust's String::from_utf8_lossy: one U+FFFD per
	// maximal ill-formed subpart.
	for _, c := range []struct{ in, want string }{
		{"plain é 👍", "plain é 👍"},
		{"\xE2\x82", "\uFFFD"},
		{"\xE2\x82A", "\uFFFDA"},
		{"\xFF\xFE", "\uFFFD\uFFFD"},
		{"\xF0\x9F\x98", "\uFFFD"},
		{"\xF0\x9F\x98\xF0\x9F\x98\x80", "\uFFFD😀"},
		{"\xED\xA0\x80", "\uFFFD\uFFFD\uFFFD"}, // surrogate
		{"\xC0\xAF", "\uFFFD\uFFFD"},           // overlong
		{"\xF4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\x80", "\uFFFD"},
	} {
		if got := lossyUTF8([]byte(c.in)); got != c.want {
			t.Errorf("lossyUTF8(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
