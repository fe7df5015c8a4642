package tokenizer

import (
	"encoding/json"
	"testing"
)

// tinyJSON returns a tokenizer.json object over a small vocabulary with no
// pipeline components; tests fill in what they need.
func tinyJSON(vocab map[string]int, merges any) map[string]any {
	return map[string]any{
		"version":        "1.0",
		"added_tokens":   []any{},
		"normalizer":     nil,
		"pre_tokenizer":  nil,
		"post_processor": nil,
		"decoder":        nil,
		"model": map[string]any{
			"type":   "BPE",
			"vocab":  vocab,
			"merges": merges,
		},
	}
}

func mustParse(t *testing.T, obj map[string]any) *Tokenizer {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// names maps ids back to token strings for readable failures.
func names(tok *Tokenizer, ids []int) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i], _ = tok.Token(id)
	}
	return out
}

// parseJSONObject marshals obj and parses it, returning Parse's error.
func parseJSONObject(obj map[string]any) (*Tokenizer, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return Parse(data)
}
