package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// gpt2EndOfText is GPT-2's end-of-text token, registered as a special added
// token as in the Hugging Face gpt2 tokenizer.json.
const gpt2EndOfText = "<|endoftext|>"

// LoadGPT2Legacy builds the GPT-2 tokenizer from OpenAI's original file
// pair: encoderJSON is the path of encoder.json (token → id) and vocabBPE
// the path of vocab.bpe (ranked merges). The result encodes and decodes like
// the Hugging Face gpt2 tokenizer.json.
func LoadGPT2Legacy(encoderJSON, vocabBPE string) (*Tokenizer, error) {
	enc, err := os.ReadFile(encoderJSON)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	bpe, err := os.ReadFile(vocabBPE)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return ParseGPT2Legacy(enc, bpe)
}

// ParseGPT2Legacy is LoadGPT2Legacy on the files' contents.
func ParseGPT2Legacy(encoderJSON, vocabBPE []byte) (*Tokenizer, error) {
	var vocab map[string]int
	if err := json.Unmarshal(encoderJSON, &vocab); err != nil {
		return nil, fmt.Errorf("tokenizer: parse encoder.json: %w", err)
	}
	var lines []string
	for _, l := range strings.Split(string(vocabBPE), "\n") {
		if l = strings.TrimSuffix(l, "\r"); l != "" {
			lines = append(lines, l)
		}
	}
	merges, err := splitMergeLines(lines)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: parse vocab.bpe: %w", err)
	}
	model, err := newBPE(vocab, merges, bpeOptions{})
	if err != nil {
		return nil, fmt.Errorf("tokenizer: GPT-2 files: %w", err)
	}
	table := newByteTable()
	re, err := compilePattern(gpt2Pattern)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	t := &Tokenizer{
		model: model,
		pre:   &byteLevelPre{re: re, table: table},
		dec:   byteLevelDec{table: table},
	}
	var added []addedToken
	if _, ok := vocab[gpt2EndOfText]; ok {
		added = append(added, addedToken{content: gpt2EndOfText, normalized: true, special: true})
	}
	t.added = newAddedVocab(added, model.tokenToID, len(vocab), nil)
	t.size = vocabSize(model, t.added)
	return t, nil
}
