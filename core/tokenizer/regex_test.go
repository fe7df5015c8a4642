package tokenizer

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The split patterns of Llama-3 and Qwen2 (hf-models.md §6.5), as they are
// written in those models' tokenizer.json files.
const (
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

func splitWith(t *testing.T, pattern, s string) []string {
	t.Helper()
	re, err := compilePattern(pattern)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range re.findAll(s, nil) {
		out = append(out, s[m[0]:m[1]])
	}
	return out
}

func TestLookaheadEmulation(t *testing.T) {
	for _, c := range []struct {
		pattern, in string
		want        []string
	}{
		// A run before a word gives back its last space to " ?\p{L}+".
		{gpt2Pattern, "a  b", []string{"a", " ", " b"}},
		{gpt2Pattern, "a    b", []string{"a", "   ", " b"}},
		// At the end of the text the whole run matches.
		{gpt2Pattern, "x   ", []string{"x", "   "}},
		{gpt2Pattern, "   ", []string{"   "}},
		// A lone tab before a word: the lookahead fails, \s+ takes it.
		{gpt2Pattern, "\tfoo", []string{"\t", "foo"}},
		{gpt2Pattern, "\t\tfoo", []string{"\t", "\t", "foo"}},
		{gpt2Pattern, "a\n\nb", []string{"a", "\n", "\n", "b"}},
		// Unicode white space counts as \s (U+3000, U+00A0, U+0085).
		{gpt2Pattern, "a\u3000\u3000b", []string{"a", "\u3000", "\u3000", "b"}},
		{gpt2Pattern, "a\u00a0 b", []string{"a", "\u00a0", " b"}},
		{gpt2Pattern, "x\u0085\u0085", []string{"x", "\u0085\u0085"}},
		// Not white space: U+200B, U+FEFF, U+180E.
		{gpt2Pattern, "a\u200b\u200bb", []string{"a", "\u200b\u200b", "b"}},
		{gpt2Pattern, "I'm ok", []string{"I", "'m", " ok"}},
		{gpt2Pattern, "12345 678", []string{"12345", " 678"}},
		// Llama-3: the earlier \s*[\r\n]+ alternative is not shortened.
		{llama3Pattern, "a  \n\nb", []string{"a", "  \n\n", "b"}},
		{llama3Pattern, "a   b", []string{"a", "  ", " b"}},
		{llama3Pattern, "x\t\ty", []string{"x", "\t", "\ty"}},
		{llama3Pattern, "12345", []string{"123", "45"}},
		{llama3Pattern, "I'M here", []string{"I", "'M", " here"}},
		{qwen2Pattern, "12345", []string{"1", "2", "3", "4", "5"}},
		{qwen2Pattern, "end  ", []string{"end", "  "}},
	} {
		if got := splitWith(t, c.pattern, c.in); !slices.Equal(got, c.want) {
			t.Errorf("%q: got %q, want %q", c.in, got, c.want)
		}
	}
}

// TestLookaheadWithoutFallback covers \s+(?!\S) when no \s+ alternative
// follows it: a single space before a word matches nothing there.
func TestLookaheadWithoutFallback(t *testing.T) {
	got := splitWith(t, `\s+(?!\S)|x`, "a b  c   ")
	want := []string{" ", "   "}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	got = splitWith(t, `\s+(?!\S)|\s`, "a b")
	if want := []string{" "}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestTranslatePattern(t *testing.T) {
	src, err := translatePattern(`\s\S[^\s\p{L}]\d\w\u00e9(?i:ab)`)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(src)
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"\u3000x-٣é\u00e9AB", true}, // Unicode \s, \d and \w
		{" x-1_éaB", true},
		{"xx-1_éab", false},
	} {
		if got := re.MatchString(c.in); got != c.want {
			t.Errorf("%s on %q = %v, want %v", src, c.in, got, c.want)
		}
	}
	// Ruby's ^ and $ are line anchors.
	if got := splitWith(t, `^a|b$`, "ab\nab"); !slices.Equal(got, []string{"a", "b", "a", "b"}) {
		t.Errorf("line anchors: got %q", got)
	}
	for _, bad := range []string{`(?=a)`, `(?<=a)b`, `(?<!a)b`, `(?!a)b`, `a++`, `(?>a)`, `\bword`, `\1`, `[a&&b]`, `[[:alpha:]]`, `(?x)a`, `[a`, `(a`, `a)`} {
		if _, err := compilePattern(bad); err == nil {
			t.Errorf("compilePattern(%q) succeeded, want an error", bad)
		}
	}
	if _, err := compilePattern(`^x|\s+(?!\S)|\s+`); err == nil || !strings.Contains(err.Error(), "cannot be combined") {
		t.Errorf("anchor with lookahead: err = %v", err)
	}
}

func TestSplitBehaviors(t *testing.T) {
	// "a-b--c" split on "-".
	text := "a-b--c"
	matches := findLiteral(text, "-", nil)
	for _, c := range []struct {
		b    splitBehavior
		want []string
	}{
		{behaviorRemoved, []string{"a", "b", "c"}},
		{behaviorIsolated, []string{"a", "-", "b", "-", "-", "c"}},
		{behaviorMergedWithPrevious, []string{"a-", "b-", "-", "c"}},
		{behaviorMergedWithNext, []string{"a", "-b", "-", "-c"}},
		{behaviorContiguous, []string{"a", "-", "b", "--", "c"}},
	} {
		spans := coverSpans(len(text), matches, false, nil)
		var got []string
		for _, p := range emitSpans(piece{text: text}, applyBehavior(spans, c.b), nil) {
			got = append(got, p.text)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("behavior %d: got %q, want %q", c.b, got, c.want)
		}
	}
}
