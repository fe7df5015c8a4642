package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// fileJSON is the top level of tokenizer.json. truncation and padding are
// not read: Encode never truncates or pads.
type fileJSON struct {
	Version       *string         `json:"version"`
	AddedTokens   []addedJSON     `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         json.RawMessage `json:"model"`
}

type addedJSON struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized *bool  `json:"normalized"`
	Special    bool   `json:"special"`
}

type modelJSON struct {
	Type                    string          `json:"type"`
	Dropout                 *float64        `json:"dropout"`
	UnkToken                *string         `json:"unk_token"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 *bool           `json:"fuse_unk"`
	ByteFallback            *bool           `json:"byte_fallback"`
	IgnoreMerges            *bool           `json:"ignore_merges"`
	Vocab                   map[string]int  `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
}

// Parse builds a Tokenizer from the contents of a tokenizer.json file.
func Parse(data []byte) (*Tokenizer, error) {
	t, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: parse tokenizer.json: %w", err)
	}
	return t, nil
}

func parseFile(data []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if f.Version != nil && *f.Version != "1.0" {
		return nil, fmt.Errorf("version: unknown tokenizer version %q", *f.Version)
	}
	model, err := parseModel(f.Model)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	p := &parser{table: newByteTable()}
	t := &Tokenizer{model: model}
	if t.norm, err = p.normalizer(f.Normalizer, "normalizer"); err != nil {
		return nil, err
	}
	if t.pre, err = p.preTokenizer(f.PreTokenizer, "pre_tokenizer"); err != nil {
		return nil, err
	}
	if t.post, err = p.postProcessor(f.PostProcessor, "post_processor"); err != nil {
		return nil, err
	}
	if t.dec, err = p.decoder(f.Decoder, "decoder"); err != nil {
		return nil, err
	}
	tokens := make([]addedToken, len(f.AddedTokens))
	for i, a := range f.AddedTokens {
		tokens[i] = addedToken{
			content:    a.Content,
			singleWord: a.SingleWord,
			lstrip:     a.LStrip,
			rstrip:     a.RStrip,
			normalized: !a.Special,
			special:    a.Special,
		}
		if a.Normalized != nil {
			tokens[i].normalized = *a.Normalized
		}
	}
	t.added = newAddedVocab(tokens, model.tokenToID, len(model.vocab), t.norm)
	t.size = vocabSize(model, t.added)
	return t, nil
}

// vocabSize is the largest id in use plus one.
func vocabSize(m *bpeModel, a *addedVocab) int {
	n := 0
	for id := range m.vocabR {
		n = max(n, id+1)
	}
	for id := range a.byID {
		n = max(n, id+1)
	}
	return n
}

func parseModel(raw json.RawMessage) (*bpeModel, error) {
	if isNull(raw) {
		return nil, fmt.Errorf("missing")
	}
	var m modelJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if m.Type != "BPE" && !(m.Type == "" && m.Merges != nil) {
		return nil, fmt.Errorf("type: unsupported model type %q (only BPE is supported)", m.Type)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, fmt.Errorf("dropout: %v is not supported (training-time randomness)", *m.Dropout)
	}
	if m.Vocab == nil {
		return nil, fmt.Errorf("vocab: missing")
	}
	merges, err := parseMerges(m.Merges)
	if err != nil {
		return nil, fmt.Errorf("merges: %w", err)
	}
	return newBPE(m.Vocab, merges, bpeOptions{
		unkToken:     deref(m.UnkToken),
		fuseUnk:      derefBool(m.FuseUnk),
		byteFallback: derefBool(m.ByteFallback),
		ignoreMerges: derefBool(m.IgnoreMerges),
		prefix:       deref(m.ContinuingSubwordPrefix),
		suffix:       deref(m.EndOfWordSuffix),
	})
}

// parseMerges reads either encoding: ["a b", ...] or [["a","b"], ...].
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if isNull(raw) {
		return nil, fmt.Errorf("missing")
	}
	var legacy []string
	if err := json.Unmarshal(raw, &legacy); err == nil {
		return splitMergeLines(legacy)
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, fmt.Errorf(`want a list of "a b" strings or of ["a", "b"] pairs: %w`, err)
	}
	out := make([][2]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("[%d]: want 2 tokens, got %d", i, len(p))
		}
		out[i] = [2]string{p[0], p[1]}
	}
	return out, nil
}

// splitMergeLines parses "left right" lines, skipping "#version" lines.
func splitMergeLines(lines []string) ([][2]string, error) {
	out := make([][2]string, 0, len(lines))
	for i, l := range lines {
		if len(l) >= 8 && l[:8] == "#version" {
			continue
		}
		k := -1
		for j := 0; j < len(l); j++ {
			if l[j] == ' ' {
				if k >= 0 {
					k = -2
					break
				}
				k = j
			}
		}
		if k < 0 {
			return nil, fmt.Errorf("[%d]: %q is not two tokens separated by one space", i, l)
		}
		out = append(out, [2]string{l[:k], l[k+1:]})
	}
	return out, nil
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefBool(b *bool) bool { return b != nil && *b }
