package data

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/lorafn/lorafn/core/tokenizer"
)

// llama2 loads the Llama-2 tokenizer.json that core/tokenizer's fetch.sh
// puts in its cache (SentencePiece-style BPE: a normalizer prepends "▁" to
// every encoded text, so encoding a prompt alone and encoding it inside a
// longer text can differ). Missing data skips the test locally and fails
// it under CI.
func llama2(t *testing.T) *tokenizer.Tokenizer {
	t.Helper()
	dir := os.Getenv("LORAFN_TOKENIZER_GOLDEN")
	if dir == "" {
		dir = filepath.Join("..", "tokenizer", "testdata", ".cache")
	}
	tok, err := tokenizer.Load(filepath.Join(dir, "vocab", "llama2", "tokenizer.json"))
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Llama-2 tokenizer missing (core/tokenizer/testdata/fetch.sh): %v", err)
		}
		t.Skipf("Llama-2 tokenizer missing (run core/tokenizer/testdata/fetch.sh): %v", err)
	}
	return tok
}

func TestExampleLabelsLlama2(t *testing.T) {
	tok := llama2(t)
	chat, err := tokenizer.ChatTemplateByName("llama2", "<s>", "</s>")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		rec     Record
		opts    Options
		text    string
		special bool
		eos     bool
		trained string
	}{
		{"prompt/completion", Record{Format: FormatPromptCompletion, Prompt: "Translate to French: cat =>", Completion: " chat"},
			Options{EOS: "</s>"}, "Translate to French: cat => chat", true, true, "chat</s>"},
		{"no space at the edge", Record{Format: FormatPromptCompletion, Prompt: "Q:", Completion: "yes"},
			Options{}, "Q:yes", true, false, "yes"},
		{"chat", Record{Format: FormatChat, Messages: []tokenizer.Message{
			{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"}, {Role: "assistant", Content: "Hello there."},
			{Role: "user", Content: "Bye"}, {Role: "assistant", Content: "Goodbye!"}}},
			Options{Chat: chat},
			"<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello there. </s><s>[INST] Bye [/INST] Goodbye! </s>", false, false,
			"Hello there. </s>|Goodbye! </s>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := newPreparer(tok, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			ex, _, err := p.example(c.rec)
			if err != nil {
				t.Fatal(err)
			}
			want := tok.Encode(c.text, c.special)
			if c.eos {
				want = append(want, 2)
			}
			if !slices.Equal(ex.IDs, want) {
				t.Errorf("ids %v\nwant %v", ex.IDs, want)
			}
			if got := trainedText(tok, ex.IDs, ex.Labels); got != c.trained {
				t.Errorf("trained %q, want %q", got, c.trained)
			}
		})
	}
}
