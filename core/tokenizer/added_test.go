package tokenizer

import (
	"slices"
	"testing"
)

func addedJSONFixture() map[string]any {
	obj := tinyJSON(map[string]int{" ": 0, "a": 1, "b": 2, "h": 3, "i": 4, "_": 5, "x": 6}, []string{})
	tok := func(content string, o map[string]bool) map[string]any {
		m := map[string]any{"id": 0, "content": content}
		for k, v := range o {
			m[k] = v
		}
		return m
	}
	obj["added_tokens"] = []any{
		tok("<m>", map[string]bool{"lstrip": true, "special": true, "normalized": false}),
		tok("<r>", map[string]bool{"rstrip": true, "special": true, "normalized": false}),
		tok("hi", map[string]bool{"single_word": true, "normalized": true}),
		tok("a_", map[string]bool{"normalized": true}),
		tok("b b", map[string]bool{"normalized": true}),
	}
	obj["normalizer"] = map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "_"}
	return obj
}

func TestAddedTokens(t *testing.T) {
	tok := mustParse(t, addedJSONFixture())
	id := func(s string) int {
		i, ok := tok.TokenID(s)
		if !ok {
			t.Fatalf("no id for %q", s)
		}
		return i
	}
	// Like the reference, ids continue after the model vocabulary in file
	// order; the "id" fields of the file are not used.
	if id("<m>") != 7 || id("b b") != 11 || tok.VocabSize() != 12 {
		t.Errorf("ids: <m>=%d, b b=%d, VocabSize=%d", id("<m>"), id("b b"), tok.VocabSize())
	}
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"x <m>a", []string{"x", "<m>", "a"}},                   // lstrip eats the space before
		{"x  <m>", []string{"x", "<m>"}},                        // all of it
		{"x<r>  a", []string{"x", "<r>", "a"}},                  // rstrip eats the spaces after
		{"hi", []string{"hi"}},                                  // single word
		{"hi x", []string{"h", "i", "_", "x"}},                  // checked on normalized "hi_x": '_' is a word char
		{"hix", []string{"h", "i", "x"}},                        // not a single word
		{"xhi", []string{"x", "h", "i"}},                        //
		{"a b", []string{"a_", "b"}},                            // normalized token on normalized text
		{"b b", []string{"b b"}},                                //
		{"x<m>hi<r> a", []string{"x", "<m>", "hi", "<r>", "a"}}, // words are checked within the segment
	} {
		got := tok.Encode(c.in, false)
		var want []int
		for _, w := range c.want {
			want = append(want, id(w))
		}
		if !slices.Equal(got, want) {
			t.Errorf("Encode(%q) = %q, want %q", c.in, names(tok, got), names(tok, want))
		}
	}
	// A normalized added token decodes to its normalized form.
	if s, _ := tok.Token(id("b b")); s != "b_b" {
		t.Errorf("Token(b b) = %q, want the normalized form", s)
	}
	// Without a decoder tokens are joined with spaces; special ones can be skipped.
	ids := tok.Encode("x<m>a", false)
	if got := tok.Decode(ids, false); got != "x <m> a" {
		t.Errorf("Decode = %q", got)
	}
	if got := tok.Decode(ids, true); got != "x a" {
		t.Errorf("Decode(skipSpecial) = %q", got)
	}
}

func TestAddedTokenMidTextGPT2(t *testing.T) {
	tok := loadGPT2(t)
	got := tok.Encode("Hello<|endoftext|>world <|endoftext|>", false)
	want := []int{15496, 50256, 6894, 220, 50256}
	if !slices.Equal(got, want) {
		t.Errorf("Encode = %v, want %v", got, want)
	}
	if s := tok.Decode(got, false); s != "Hello<|endoftext|>world <|endoftext|>" {
		t.Errorf("Decode = %q", s)
	}
	if s := tok.Decode(got, true); s != "Helloworld " {
		t.Errorf("Decode(skipSpecial) = %q", s)
	}
}
