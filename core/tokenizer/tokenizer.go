package tokenizer

import (
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// Tokenizer encodes text to token ids and decodes ids to text. It is safe
// for concurrent use.
type Tokenizer struct {
	added *addedVocab
	norm  normalizer    // nil: none
	pre   preTokenizer  // nil: the whole segment is one word
	model *bpeModel     //
	post  postProcessor // nil: no special tokens are added
	dec   decoder       // nil: tokens are joined with spaces
	size  int           // largest id + 1
}

// Load reads and parses a tokenizer.json file.
func Load(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return t, nil
}

// Encode returns the token ids of text. With addSpecial, the
// post_processor's special tokens (e.g. a BOS token) are added. Invalid
// UTF-8 bytes in text are treated as U+FFFD, one per byte.
func (t *Tokenizer) Encode(text string, addSpecial bool) []int {
	if !utf8.ValidString(text) {
		text = validUTF8(text)
	}
	ids := make([]int, 0, len(text)/3+4)
	for _, seg := range t.added.split(text, t.norm) {
		if seg.id >= 0 {
			ids = append(ids, seg.id)
			continue
		}
		pieces := []piece{{text: seg.text, first: seg.first}}
		if t.pre != nil {
			pieces = t.pre.preTokenize(pieces)
		}
		for _, p := range pieces {
			ids = t.model.tokenize(p.text, ids)
		}
	}
	if addSpecial && t.post != nil {
		ids = t.post.process(ids)
	}
	return ids
}

// Decode returns the text of ids. Unknown ids are skipped; with
// skipSpecial, so are special added tokens. Decode whole sequences: a
// byte-level token can hold part of a UTF-8 character.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	tokens := make([]string, 0, len(ids))
	for _, id := range ids {
		tok, ok := t.Token(id)
		if !ok || (skipSpecial && t.added.special[tok]) {
			continue
		}
		tokens = append(tokens, tok)
	}
	if t.dec == nil {
		return strings.Join(tokens, " ")
	}
	return strings.Join(t.dec.decodeChain(tokens), "")
}

// VocabSize returns the largest token id plus one, over the model
// vocabulary and the added tokens: the number of embedding rows needed.
func (t *Tokenizer) VocabSize() int { return t.size }

// TokenID returns the id of a token string (an added token or a model
// vocabulary entry, in its stored form such as "Ġthe" or "▁the").
func (t *Tokenizer) TokenID(tok string) (int, bool) {
	if id, ok := t.added.byContent[tok]; ok {
		return id, true
	}
	return t.model.tokenToID(tok)
}

// Token returns the token string of an id.
func (t *Tokenizer) Token(id int) (string, bool) {
	if tok, ok := t.added.idToToken(id); ok {
		return tok, true
	}
	return t.model.idToToken(id)
}

// validUTF8 replaces each invalid byte by U+FFFD.
func validUTF8(s string) string {
	var sb strings.Builder
	sb.Grow(len(s) + 16)
	for _, r := range s {
		sb.WriteRune(r)
	}
	return sb.String()
}
