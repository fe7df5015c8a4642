package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// goldenNames are the configurations testdata/golden/gen.mjs writes.
var goldenNames = []string{
	"gpt2", "gpt2-prefix-pairs", "llama3-style", "qwen2-style", "smollm2-style",
	"split-behaviors", "trained", "llama2", "llama2-metaspace", "llama2-metaspace-split",
	"llama2-unk-fused", "llama2-unk",
}

type goldenFile struct {
	Name      string       `json:"name"`
	Tokenizer string       `json:"tokenizer"`
	Reference string       `json:"reference"`
	Cases     []goldenCase `json:"cases"`
}

type goldenCase struct {
	Text          string `json:"text"`
	IDs           []int  `json:"ids"`
	IDsSpecial    []int  `json:"ids_special"`
	Decode        string `json:"decode"`
	DecodeSpecial string `json:"decode_special"`
	DecodeSkip    string `json:"decode_skip"`
}

// goldenDir returns the folder fetch.sh wrote, skipping the test (failing
// it under CI) when the data is missing.
func goldenDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("LORAFN_TOKENIZER_GOLDEN")
	if dir == "" {
		dir = filepath.Join("testdata", ".cache")
	}
	if _, err := os.Stat(filepath.Join(dir, "golden", "gpt2.json")); err != nil {
		msg := fmt.Sprintf("golden data missing in %s (run core/tokenizer/testdata/fetch.sh): %v", dir, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dir
}

func readGolden(t *testing.T, dir, name string) goldenFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "golden", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if len(g.Cases) == 0 {
		t.Fatalf("%s: no cases", name)
	}
	return g
}

func TestGolden(t *testing.T) {
	dir := goldenDir(t)
	for _, name := range goldenNames {
		t.Run(name, func(t *testing.T) {
			g := readGolden(t, dir, name)
			tok, err := Load(filepath.Join(dir, g.Tokenizer))
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tok, g)
		})
	}
}

// TestGoldenGPT2Legacy checks that encoder.json + vocab.bpe behave exactly
// like the gpt2 tokenizer.json.
func TestGoldenGPT2Legacy(t *testing.T) {
	dir := goldenDir(t)
	checkGolden(t, loadGPT2(t), readGolden(t, dir, "gpt2"))
}

func checkGolden(t *testing.T, tok *Tokenizer, g goldenFile) {
	t.Helper()
	bad := 0
	for _, c := range g.Cases {
		fail := func(what string, got, want any) {
			bad++
			if bad <= 10 {
				t.Errorf("%s %q: %s\n got  %v\n want %v", g.Name, c.Text, what, got, want)
			}
		}
		if got := tok.Encode(c.Text, false); !slices.Equal(got, c.IDs) {
			fail("Encode(addSpecial=false)", got, c.IDs)
		}
		if got := tok.Encode(c.Text, true); !slices.Equal(got, c.IDsSpecial) {
			fail("Encode(addSpecial=true)", got, c.IDsSpecial)
		}
		if got := tok.Decode(c.IDs, false); got != c.Decode {
			fail("Decode(ids)", fmt.Sprintf("%q", got), fmt.Sprintf("%q", c.Decode))
		}
		if got := tok.Decode(c.IDsSpecial, false); got != c.DecodeSpecial {
			fail("Decode(ids_special)", fmt.Sprintf("%q", got), fmt.Sprintf("%q", c.DecodeSpecial))
		}
		if got := tok.Decode(c.IDsSpecial, true); got != c.DecodeSkip {
			fail("Decode(ids_special, skipSpecial)", fmt.Sprintf("%q", got), fmt.Sprintf("%q", c.DecodeSkip))
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d mismatches in %d cases (reference %s)", g.Name, bad, len(g.Cases), g.Reference)
	}
}

// loadGPT2 loads the committed GPT-2 files.
func loadGPT2(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := LoadGPT2Legacy(filepath.Join("testdata", "gpt2", "encoder.json"), filepath.Join("testdata", "gpt2", "vocab.bpe"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}
