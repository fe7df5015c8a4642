package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// corpusSeeds returns the committed golden corpus, used as fuzz seeds.
func corpusSeeds(f *testing.F) []string {
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "corpus.json"))
	if err != nil {
		f.Fatal(err)
	}
	var corpus []string
	if err := json.Unmarshal(data, &corpus); err != nil {
		f.Fatal(err)
	}
	return corpus
}

// llama2Tokenizer loads the fetched Llama-2 tokenizer.json, or returns nil
// when fetch.sh has not been run.
func llama2Tokenizer(tb testing.TB) *Tokenizer {
	dir := os.Getenv("LORAFN_TOKENIZER_GOLDEN")
	if dir == "" {
		dir = filepath.Join("testdata", ".cache")
	}
	path := filepath.Join(dir, "vocab", "llama2", "tokenizer.json")
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	tok, err := Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// FuzzRoundTrip checks that decoding the encoding gives the input back.
//
// GPT-2 (byte-level BPE, committed files) is lossless for every valid UTF-8
// text, added-token strings included; Encode reads each invalid byte as
// U+FFFD, so for invalid input the text with those replacements comes back.
//
// Llama-2 (checked when fetch.sh has been run) is lossless for texts that
// contain neither U+2581 ("▁", which decodes to a space) nor the string of
// an added token (<unk>, <s>, </s>: the normalizer prepends "▁" to the text
// after each added token, and that space survives decoding). The one
// leading space the normalizer prepends to the text is the one the
// decoder's Strip removes, so leading, trailing and repeated spaces all
// survive.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range corpusSeeds(f) {
		f.Add(s)
	}
	f.Add("\xff\xfe invalid \xe2\x82")
	gpt2 := loadGPT2(f)
	llama2 := llama2Tokenizer(f)
	f.Fuzz(func(t *testing.T, s string) {
		want := s
		if !utf8.ValidString(s) {
			want = validUTF8(s)
		}
		if got := gpt2.Decode(gpt2.Encode(s, false), false); got != want {
			t.Errorf("gpt2: Decode(Encode(%q)) = %q", s, got)
		}
		if llama2 == nil || !utf8.ValidString(s) || strings.Contains(s, "▁") ||
			strings.Contains(s, "<unk>") || strings.Contains(s, "<s>") || strings.Contains(s, "</s>") {
			return
		}
		if got := llama2.Decode(llama2.Encode(s, false), false); got != s {
			t.Errorf("llama2: Decode(Encode(%q)) = %q", s, got)
		}
		if got := llama2.Decode(llama2.Encode(s, true), true); got != s {
			t.Errorf("llama2: Decode(Encode(%q, addSpecial), skipSpecial) = %q", s, got)
		}
	})
}

// FuzzParse checks that malformed tokenizer.json never panics.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"a":0,"b":1,"ab":2},"merges":["a b"]},"pre_tokenizer":{"type":"Split","pattern":{"Regex":"\\s+(?!\\S)|\\s+"},"behavior":"Isolated","invert":false}}`))
	f.Add([]byte(`{"model":{"vocab":{"a":0},"merges":[["a","a"]]},"added_tokens":[{"id":0,"content":"a","lstrip":true,"rstrip":true}],"decoder":{"type":"Strip","content":" ","start":3,"stop":9}}`))
	f.Add([]byte(`{"model":{"type":"BPE","vocab":{"<0x41>":0,"x":1},"merges":[],"byte_fallback":true},"normalizer":{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := Parse(data)
		if err != nil {
			return
		}
		for _, s := range []string{"", "a", " ab  x\n", "<0x41>ab\xff"} {
			tok.Decode(tok.Encode(s, true), false)
		}
		tok.Decode([]int{-1, 0, 1, 1 << 40}, true)
	})
}
