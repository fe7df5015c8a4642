package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// trainedTokenizer trains a small byte-level BPE with lorafn tokenizer
// train and returns the tokenizer.json path.
func trainedTokenizer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	text := filepath.Join(dir, "corpus.txt")
	var sb strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&sb, "The quick brown fox %d jumps over the lazy dog. Question: what is %d plus %d? Answer: %d\n", i, i, i, 2*i)
	}
	if err := os.WriteFile(text, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "tokenizer.json")
	if stdout, stderr, code := lorafn(t, "tokenizer", "train", "--vocab-size", "400", "--out", out, text); code != 0 || !strings.Contains(stdout, "400 tokens") {
		t.Fatalf("tokenizer train: exit %d: %s%s", code, stdout, stderr)
	}
	return out
}

func writeLines(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func parseIDLines(t *testing.T, out string) [][]int {
	t.Helper()
	var res [][]int
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		var ids []int
		if err := json.Unmarshal([]byte(l), &ids); err != nil {
			t.Fatalf("output line %q: %v", l, err)
		}
		res = append(res, ids)
	}
	return res
}

func TestTokenizeRoundTrip(t *testing.T) {
	tok := trainedTokenizer(t)
	lines := []string{"The quick brown fox.", "", "  spaces  and <|endoftext|> too", "naïve café 😀"}
	out, errOut, code := lorafn(t, "tokenize", "--tokenizer", tok, "--input", writeLines(t, lines...))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ids := parseIDLines(t, out)
	if len(ids) != len(lines) || len(ids[1]) != 0 || !slices.Contains(ids[2], 0) {
		t.Fatalf("ids %v: want one list per line, [] for the empty line, <|endoftext|> (id 0) recognised", ids)
	}
	var idLines []string
	for _, l := range ids {
		b, _ := json.Marshal(l)
		idLines = append(idLines, string(b))
	}
	back, errOut, code := lorafn(t, "tokenize", "--tokenizer", filepath.Dir(tok), "--decode", "--input", writeLines(t, idLines...))
	if code != 0 {
		t.Fatalf("decode: exit %d: %s", code, errOut)
	}
	if want := strings.Join(lines, "\n") + "\n"; back != want {
		t.Errorf("decode gave %q, want %q", back, want)
	}
	skipped, _, _ := lorafn(t, "tokenize", "--tokenizer", tok, "--decode", "--no-special", "--input", writeLines(t, idLines[2]))
	if skipped != "  spaces  and  too\n" {
		t.Errorf("--decode --no-special gave %q", skipped)
	}
}

func TestTokenizeErrors(t *testing.T) {
	tok := trainedTokenizer(t)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tokenize"}, exitUsage, "--tokenizer is required"},
		{[]string{"tokenize", "--tokenizer", "/nonexistent/tokenizer.json"}, exitError, "no such file"},
		{[]string{"tokenize", "--tokenizer", tok, "--decode", "--input", writeLines(t, "[1, 2]", "[1, x]")}, exitError, "in.txt:2: want a JSON list"},
		{[]string{"tokenize", "--tokenizer", tok, "--decode", "--input", writeLines(t, "[99999]")}, exitError, "in.txt:1: item 0: id 99999"},
	} {
		_, errOut, code := lorafn(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %q; want exit %d and %q", c.args, code, errOut, c.code, c.want)
		}
	}
}

// TestTokenizeGolden runs lorafn tokenize over the golden corpus that
// core/tokenizer/testdata/fetch.sh produced with Hugging Face's tokenizers,
// with and without special tokens.
func TestTokenizeGolden(t *testing.T) {
	dir := filepath.Join("..", "..", "core", "tokenizer", "testdata", ".cache")
	if d := os.Getenv("LORAFN_TOKENIZER_GOLDEN"); d != "" {
		dir = d
	}
	for _, name := range []string{"gpt2", "llama2"} {
		data, err := os.ReadFile(filepath.Join(dir, "golden", name+".json"))
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("golden data missing (core/tokenizer/testdata/fetch.sh): %v", err)
			}
			t.Skipf("golden data missing (run core/tokenizer/testdata/fetch.sh): %v", err)
		}
		var g struct {
			Tokenizer string `json:"tokenizer"`
			Cases     []struct {
				Text       string `json:"text"`
				IDs        []int  `json:"ids"`
				IDsSpecial []int  `json:"ids_special"`
			} `json:"cases"`
		}
		if err := json.Unmarshal(data, &g); err != nil {
			t.Fatal(err)
		}
		var texts []string
		var want, wantSpecial [][]int
		for _, c := range g.Cases {
			if strings.ContainsAny(c.Text, "\r\n") {
				continue // one line per text
			}
			texts = append(texts, c.Text)
			want = append(want, c.IDs)
			wantSpecial = append(wantSpecial, c.IDsSpecial)
		}
		in := writeLines(t, texts...)
		tok := filepath.Join(dir, g.Tokenizer)
		for _, special := range []bool{true, false} {
			args := []string{"tokenize", "--tokenizer", tok, "--input", in}
			exp := wantSpecial
			if !special {
				args, exp = append(args, "--no-special"), want
			}
			out, errOut, code := lorafn(t, args...)
			if code != 0 {
				t.Fatalf("%s: exit %d: %s", name, code, errOut)
			}
			got := parseIDLines(t, out)
			if len(got) != len(exp) {
				t.Fatalf("%s: %d lines out, want %d", name, len(got), len(exp))
			}
			for i := range got {
				if !slices.Equal(got[i], exp[i]) && !(len(got[i]) == 0 && len(exp[i]) == 0) {
					t.Errorf("%s special=%v %q: got %v, want %v", name, special, texts[i], got[i], exp[i])
				}
			}
		}
	}
}
