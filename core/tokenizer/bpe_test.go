package tokenizer

import (
	"slices"
	"testing"
)

var abcVocab = map[string]int{"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4, "abc": 5, "cc": 6}

func TestMergeEncodings(t *testing.T) {
	for name, merges := range map[string]any{
		"strings": []string{"a b", "ab c"},
		"pairs":   [][]string{{"a", "b"}, {"ab", "c"}},
		"version": []string{"#version: 0.2", "a b", "ab c"},
	} {
		tok := mustParse(t, tinyJSON(abcVocab, merges))
		if got := tok.Encode("abc", false); !slices.Equal(got, []int{5}) {
			t.Errorf("%s: Encode(abc) = %v, want [5]", name, names(tok, got))
		}
	}
}

func TestMergeRanks(t *testing.T) {
	// "b c" outranks "a b": abc -> a + bc, and no merge joins those.
	tok := mustParse(t, tinyJSON(abcVocab, []string{"b c", "a b", "ab c"}))
	if got := tok.Encode("abc", false); !slices.Equal(got, []int{0, 4}) {
		t.Errorf("Encode(abc) = %v, want [a bc]", names(tok, got))
	}
	// Equal ranks go leftmost first: ccc -> cc + c.
	tok = mustParse(t, tinyJSON(abcVocab, []string{"c c"}))
	if got := tok.Encode("ccc", false); !slices.Equal(got, []int{6, 2}) {
		t.Errorf("Encode(ccc) = %v, want [cc c]", names(tok, got))
	}
}

func TestIgnoreMerges(t *testing.T) {
	// "abc" is in the vocab but unreachable through the merges.
	obj := tinyJSON(abcVocab, []string{"a b"})
	if got := mustParse(t, obj).Encode("abc", false); !slices.Equal(got, []int{3, 2}) {
		t.Errorf("without ignore_merges: %v, want [ab c]", got)
	}
	obj["model"].(map[string]any)["ignore_merges"] = true
	if got := mustParse(t, obj).Encode("abc", false); !slices.Equal(got, []int{5}) {
		t.Errorf("with ignore_merges: %v, want [abc]", got)
	}
}

func TestUnknownCharacters(t *testing.T) {
	vocab := map[string]int{"<unk>": 0, "a": 1, "<0xC3>": 2, "<0xA9>": 3}
	model := func(obj map[string]any) map[string]any { return obj["model"].(map[string]any) }

	// No unk_token and no byte fallback: unknown characters vanish.
	obj := tinyJSON(vocab, []string{})
	if got := mustParse(t, obj).Encode("xaé", false); !slices.Equal(got, []int{1}) {
		t.Errorf("dropped: %v", got)
	}
	// Byte fallback covers é (C3 A9) but not x.
	model(obj)["byte_fallback"] = true
	if got := mustParse(t, obj).Encode("éa", false); !slices.Equal(got, []int{2, 3, 1}) {
		t.Errorf("byte fallback: %v", got)
	}
	// unk_token: consecutive unknowns fuse only with fuse_unk.
	model(obj)["byte_fallback"] = false
	model(obj)["unk_token"] = "<unk>"
	if got := mustParse(t, obj).Encode("xya z", false); !slices.Equal(got, []int{0, 0, 1, 0, 0}) {
		t.Errorf("unk: %v", got)
	}
	model(obj)["fuse_unk"] = true
	if got := mustParse(t, obj).Encode("xya z", false); !slices.Equal(got, []int{0, 1, 0}) {
		t.Errorf("fused unk: %v", got)
	}
}

func TestBPEVocabErrors(t *testing.T) {
	for name, merges := range map[string]any{
		"missing left":   []string{"q b"},
		"missing merged": []string{"b a"},
		"three parts":    []string{"a b c"},
		"pair arity":     [][]string{{"a", "b", "c"}},
		"not a list":     "a b",
	} {
		data := tinyJSON(abcVocab, merges)
		if _, err := parseJSONObject(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
