package tokenizer

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	split := func(pattern string) map[string]any {
		return map[string]any{"type": "Split", "pattern": map[string]any{"Regex": pattern}, "behavior": "Isolated", "invert": false}
	}
	for _, c := range []struct {
		name  string
		edit  func(obj map[string]any)
		wants []string // substrings of the error
	}{
		{"unknown pre_tokenizer", func(o map[string]any) {
			o["pre_tokenizer"] = map[string]any{"type": "Foo"}
		}, []string{"pre_tokenizer", `"Foo"`}},
		{"nested unknown pre_tokenizer", func(o map[string]any) {
			o["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Digits", "individual_digits": true},
				map[string]any{"type": "UnicodeScripts"},
			}}
		}, []string{"pre_tokenizer.pretokenizers[1]", `"UnicodeScripts"`}},
		{"unknown normalizer", func(o map[string]any) {
			o["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "BertNormalizer"}}}
		}, []string{"normalizer.normalizers[0]", `"BertNormalizer"`}},
		{"unknown post_processor", func(o map[string]any) {
			o["post_processor"] = map[string]any{"type": "Bogus"}
		}, []string{"post_processor", `"Bogus"`}},
		{"unknown decoder", func(o map[string]any) {
			o["decoder"] = map[string]any{"type": "Sequence", "decoders": []any{map[string]any{"type": "WordPiece"}}}
		}, []string{"decoder.decoders[0]", `"WordPiece"`}},
		{"missing type", func(o map[string]any) {
			o["decoder"] = map[string]any{"prefix": "##"}
		}, []string{"decoder", "missing"}},
		{"model type", func(o map[string]any) {
			o["model"].(map[string]any)["type"] = "WordPiece"
		}, []string{"model", `"WordPiece"`}},
		{"dropout", func(o map[string]any) {
			o["model"].(map[string]any)["dropout"] = 0.1
		}, []string{"model", "dropout"}},
		{"unk not in vocab", func(o map[string]any) {
			o["model"].(map[string]any)["unk_token"] = "<unk>"
		}, []string{"unk_token", "<unk>"}},
		{"missing model", func(o map[string]any) { delete(o, "model") }, []string{"model"}},
		{"version", func(o map[string]any) { o["version"] = "2.0" }, []string{"version"}},
		{"lookbehind", func(o map[string]any) { o["pre_tokenizer"] = split(`(?<=a)b`) }, []string{"pre_tokenizer.pattern.Regex", "lookaround"}},
		{"bad regex", func(o map[string]any) { o["pre_tokenizer"] = split(`[z-a]`) }, []string{"pre_tokenizer.pattern.Regex"}},
		{"behavior", func(o map[string]any) {
			s := split(`a`)
			s["behavior"] = "Sideways"
			o["pre_tokenizer"] = s
		}, []string{"pre_tokenizer.behavior", "Sideways"}},
		{"template", func(o map[string]any) {
			o["post_processor"] = map[string]any{"type": "TemplateProcessing",
				"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}},
				"special_tokens": map[string]any{}}
		}, []string{"post_processor.single[0]", "<s>"}},
		{"wrong field type", func(o map[string]any) {
			o["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": "yes"}
		}, []string{"pre_tokenizer", "ByteLevel"}},
	} {
		obj := tinyJSON(abcVocab, []string{"a b"})
		c.edit(obj)
		_, err := parseJSONObject(obj)
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
	}
	for _, bad := range []string{"", "{", "[]", "null", `{"model": 3}`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q): no error", bad)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("Load of a missing file: no error")
	}
	if _, err := LoadGPT2Legacy(filepath.Join("testdata", "gpt2", "encoder.json"), filepath.Join("testdata", "gpt2", "README.md")); err == nil {
		t.Error("LoadGPT2Legacy with a bad vocab.bpe: no error")
	}
}
