package tokenizer

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// opticks returns Newton's Opticks from the Go distribution, the text
// fetch.sh trains the golden tokenizer on.
func opticks(t testing.TB) []byte {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "src", "testdata", "Isaac.Newton-Opticks.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func train(t *testing.T, opts TrainOptions, texts ...string) []byte {
	t.Helper()
	tr, err := NewBPETrainer(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range texts {
		tr.Add(s)
	}
	data, err := tr.Train(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestTrainedTokenizerReproducible retrains the tokenizer that fetch.sh
// trained (with the same settings) and that Hugging Face's tokenizers
// loaded to produce golden/trained.json: the bytes must be identical, so
// the golden ids test the tokenizer lorafn writes today.
func TestTrainedTokenizerReproducible(t *testing.T) {
	dir := goldenDir(t)
	want, err := os.ReadFile(filepath.Join(dir, "trained", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	got := train(t, TrainOptions{VocabSize: 1000, MinFrequency: 2, SpecialTokens: []string{"<|endoftext|>"}}, string(opticks(t)))
	if !bytes.Equal(got, want) {
		t.Fatal("training on the same text gave a different tokenizer.json than the one checked against Hugging Face")
	}
	if served, err := os.ReadFile(filepath.Join(dir, "tokenizers", "trained.json")); err != nil || !bytes.Equal(served, want) {
		t.Fatalf("the golden tokenizers/trained.json is not the trained file byte for byte (%v)", err)
	}
}

func TestTrainBPE(t *testing.T) {
	text := string(opticks(t))[:200000]
	paras := strings.Split(text, "\n\n")
	opts := TrainOptions{VocabSize: 600, MinFrequency: 2, SpecialTokens: []string{"<|endoftext|>", "<pad>"}}
	a := train(t, opts, paras...)
	// Order of the texts does not matter.
	rev := make([]string, len(paras))
	for i, p := range paras {
		rev[len(paras)-1-i] = p
	}
	if b := train(t, opts, rev...); !bytes.Equal(a, b) {
		t.Error("training depends on the order of the texts")
	}
	tok, err := Parse(a)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 600 {
		t.Errorf("vocabulary of %d tokens, want 600", tok.VocabSize())
	}
	for i, s := range opts.SpecialTokens {
		if id, ok := tok.TokenID(s); !ok || id != i {
			t.Errorf("special token %q has id %d (%v), want %d", s, id, ok, i)
		}
	}
	// Common words became single tokens; every text round-trips.
	if ids := tok.Encode(" the", false); len(ids) != 1 {
		t.Errorf(`" the" is %d tokens`, len(ids))
	}
	sample := text[:20000] + "<|endoftext|> naïve 😀 \x00\t\r\n  end"
	ids := tok.Encode(sample, false)
	if got := tok.Decode(ids, false); got != sample {
		t.Error("decode(encode(text)) != text")
	}
	if ratio := float64(len(sample)) / float64(len(ids)); ratio < 2 {
		t.Errorf("%.2f bytes per token: merges are not being learned", ratio)
	}
	// A high minimum frequency stops training early.
	small, err := Parse(train(t, TrainOptions{VocabSize: 5000, MinFrequency: 1 << 30}, "aaaa bbbb"))
	if err != nil || small.VocabSize() != 256 {
		t.Errorf("min frequency not honoured: %d tokens, %v", small.VocabSize(), err)
	}
}

func TestTrainOptionErrors(t *testing.T) {
	for _, o := range []TrainOptions{
		{VocabSize: 100},
		{VocabSize: 300, SpecialTokens: []string{"a", "a"}},
		{VocabSize: 300, SpecialTokens: []string{""}},
	} {
		if _, err := NewBPETrainer(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	tr, _ := NewBPETrainer(TrainOptions{VocabSize: 300})
	tr.Add("some text to train on")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := tr.Train(ctx); err == nil {
		t.Error("cancelled training did not fail")
	}
}
