package tokenizer

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// englishText returns about 570 KB of English: Newton's Opticks from the Go
// distribution's testdata, or, failing that, the corpus prose repeated.
func englishText(b *testing.B) string {
	b.Helper()
	if out, err := exec.Command("go", "env", "GOROOT").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "src", "testdata", "Isaac.Newton-Opticks.txt")
		if data, err := os.ReadFile(p); err == nil {
			return string(data)
		}
	}
	data, err := os.ReadFile(filepath.Join("testdata", "golden", "corpus.json"))
	if err != nil {
		b.Fatal(err)
	}
	var corpus []string
	if err := json.Unmarshal(data, &corpus); err != nil {
		b.Fatal(err)
	}
	return strings.Repeat(strings.Join(corpus[:14], "\n"), 200)
}

// BenchmarkEncodeGPT2 encodes English text with a warm word cache, the
// steady state of a long-lived tokenizer.
func BenchmarkEncodeGPT2(b *testing.B) {
	tok := loadGPT2(b)
	text := englishText(b)
	tok.Encode(text, false)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		tok.Encode(text, false)
	}
}

// BenchmarkEncodeGPT2Cold empties the word cache before every pass, so
// every distinct word goes through the merge loop once per pass.
func BenchmarkEncodeGPT2Cold(b *testing.B) {
	tok := loadGPT2(b)
	text := englishText(b)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		tok.model.cache = newWordCache(wordCacheCapacity)
		tok.Encode(text, false)
	}
}

func BenchmarkDecodeGPT2(b *testing.B) {
	tok := loadGPT2(b)
	text := englishText(b)
	ids := tok.Encode(text, false)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for b.Loop() {
		tok.Decode(ids, false)
	}
}
