package data

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// benchRecords makes prompt/completion JSONL from Newton's Opticks (Go
// distribution testdata): each paragraph split in half.
func benchRecords(b *testing.B) (jsonl string, texts []string) {
	b.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "src", "testdata", "Isaac.Newton-Opticks.txt"))
	if err != nil {
		b.Fatal(err)
	}
	var sb strings.Builder
	for _, p := range strings.Split(string(raw), "\n\n") {
		p = strings.TrimSpace(p)
		if len(p) < 40 {
			continue
		}
		half := strings.LastIndexByte(p[:len(p)/2], ' ')
		if half <= 0 {
			continue
		}
		line, _ := json.Marshal(map[string]string{"prompt": p[:half], "completion": p[half:]})
		sb.Write(line)
		sb.WriteByte('\n')
		texts = append(texts, p)
	}
	return sb.String(), texts
}

// BenchmarkEncodeRecords is the baseline for BenchmarkPrepare: encoding
// the same texts once each, with nothing else.
func BenchmarkEncodeRecords(b *testing.B) {
	tok := gpt2ChatML(b)
	jsonl, texts := benchRecords(b)
	b.SetBytes(int64(len(jsonl)))
	for b.Loop() {
		for _, t := range texts {
			tok.Encode(t, true)
		}
	}
}

// BenchmarkPrepare runs the whole pipeline over the same records: JSONL
// parsing, validation, the prompt-prefix encoding that places the label
// edge, the split, and shard writing.
func BenchmarkPrepare(b *testing.B) {
	tok := gpt2ChatML(b)
	jsonl, _ := benchRecords(b)
	dir := b.TempDir()
	b.SetBytes(int64(len(jsonl)))
	for b.Loop() {
		_, err := Prepare(context.Background(), NewJSONLReader(strings.NewReader(jsonl), "bench.jsonl"), tok, dir,
			Options{ValFraction: 0.1, EOS: "<|endoftext|>", MaxLen: 512})
		if err != nil {
			b.Fatal(err)
		}
	}
}
