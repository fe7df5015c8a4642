package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lorafn/lorafn/core/tokenizer"
)

var (
	chatmlOnce sync.Once
	chatmlTok  *tokenizer.Tokenizer
	chatmlErr  error
)

// gpt2ChatML returns GPT-2's real vocabulary (committed under
// core/tokenizer/testdata) as a tokenizer.json with ChatML's special
// tokens added, as SmolLM2 and Qwen2 vocabularies have them.
func gpt2ChatML(t testing.TB) *tokenizer.Tokenizer {
	t.Helper()
	chatmlOnce.Do(func() {
		dir := filepath.Join("..", "tokenizer", "testdata", "gpt2")
		enc, err := os.ReadFile(filepath.Join(dir, "encoder.json"))
		if err != nil {
			chatmlErr = err
			return
		}
		bpe, err := os.ReadFile(filepath.Join(dir, "vocab.bpe"))
		if err != nil {
			chatmlErr = err
			return
		}
		var vocab map[string]int
		if chatmlErr = json.Unmarshal(enc, &vocab); chatmlErr != nil {
			return
		}
		var merges []string
		for _, l := range strings.Split(string(bpe), "\n") {
			if l != "" && !strings.HasPrefix(l, "#version") {
				merges = append(merges, l)
			}
		}
		added := func(content string, id int) map[string]any {
			return map[string]any{"id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
		}
		byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
		obj := map[string]any{
			"version":        "1.0",
			"added_tokens":   []any{added("<|endoftext|>", 50256), added("<|im_start|>", 50257), added("<|im_end|>", 50258)},
			"normalizer":     nil,
			"pre_tokenizer":  byteLevel,
			"post_processor": byteLevel,
			"decoder":        byteLevel,
			"model":          map[string]any{"type": "BPE", "vocab": vocab, "merges": merges},
		}
		data, err := json.Marshal(obj)
		if err != nil {
			chatmlErr = err
			return
		}
		chatmlTok, chatmlErr = tokenizer.Parse(data)
	})
	if chatmlErr != nil {
		t.Fatal(chatmlErr)
	}
	return chatmlTok
}

// readAllRecords drains a Reader, returning records and line errors.
func readAllRecords(t *testing.T, r Reader) ([]Record, []*LineError) {
	t.Helper()
	var recs []Record
	var errs []*LineError
	for {
		rec, err := r.Next()
		if err != nil {
			if le, ok := err.(*LineError); ok {
				errs = append(errs, le)
				continue
			}
			if err.Error() == "EOF" {
				return recs, errs
			}
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
}
