package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/tokenizer"
)

func TestTokenizerTrain(t *testing.T) {
	a := trainedTokenizer(t)
	b := trainedTokenizer(t)
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if len(da) == 0 || !bytes.Equal(da, db) {
		t.Fatal("two trainings on the same text wrote different files")
	}
	tok, err := tokenizer.Load(a)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := tok.TokenID("<|endoftext|>"); !ok || id != 0 {
		t.Errorf("<|endoftext|> has id %d (%v), want 0", id, ok)
	}
	text := "The quick brown fox 7 jumps over the lazy dog."
	ids := tok.Encode(text, false)
	if got := tok.Decode(ids, false); got != text || len(ids) > len(text)/3 {
		t.Errorf("%d ids for %d bytes, decoded %q", len(ids), len(text), got)
	}
}

func TestTokenizerTrainErrors(t *testing.T) {
	text := filepath.Join(t.TempDir(), "t.txt")
	os.WriteFile(text, []byte("some words"), 0o644)
	out := filepath.Join(t.TempDir(), "tokenizer.json")
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tokenizer"}, exitUsage, "usage: lorafn tokenizer train"},
		{[]string{"tokenizer", "encode"}, exitUsage, "usage: lorafn tokenizer train"},
		{[]string{"tokenizer", "train", "--out", out, text}, exitUsage, "--vocab-size is required"},
		{[]string{"tokenizer", "train", "--vocab-size", "300", text}, exitUsage, "--out is required"},
		{[]string{"tokenizer", "train", "--vocab-size", "300", "--out", out}, exitUsage, "at least one training text file"},
		{[]string{"tokenizer", "train", "--vocab-size", "200", "--out", out, text}, exitUsage, "below 257"},
		{[]string{"tokenizer", "train", "--vocab-size", "300", "--out", out, "/nonexistent.txt"}, exitError, "no such file"},
	} {
		_, errOut, code := lorafn(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("a failed run wrote the output file")
	}
}

// TestTokenizeStdin reads standard input when --input is not given.
func TestTokenizeStdin(t *testing.T) {
	tok := trainedTokenizer(t)
	in, err := os.Open(writeLines(t, "The quick brown fox."))
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	saved := os.Stdin
	os.Stdin = in
	defer func() { os.Stdin = saved }()
	out, errOut, code := lorafn(t, "tokenize", "--tokenizer", tok)
	if code != 0 || !strings.HasPrefix(out, "[") || strings.Count(out, "\n") != 1 {
		t.Fatalf("exit %d: %q %s", code, out, errOut)
	}
}
