package tokenizer

import (
	"bytes"
	"container/heap"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// TrainOptions configure TrainBPE.
type TrainOptions struct {
	// VocabSize is the size of the vocabulary to learn, special tokens
	// and the 256 byte symbols included. Training stops earlier when no
	// pair is frequent enough.
	VocabSize int
	// MinFrequency is the least number of occurrences for a pair to be
	// merged (values below 1 count as 1).
	MinFrequency int
	// SpecialTokens get ids 0, 1, ... and are never split; occurrences in
	// the training text are cut out before counting.
	SpecialTokens []string
}

// BPETrainer learns a byte-level BPE tokenizer in GPT-2's style: the
// ByteLevel pre-tokenizer (GPT-2 split pattern, no prefix space), all 256
// byte symbols in the vocabulary (so every text encodes losslessly), and
// merges learned from word counts. Training is deterministic: the same
// texts, in any order, give the same file.
type BPETrainer struct {
	opts  TrainOptions
	pre   *byteLevelPre
	words map[string]int64 // byte-level word -> occurrences
}

// NewBPETrainer checks opts and returns an empty trainer.
func NewBPETrainer(opts TrainOptions) (*BPETrainer, error) {
	seen := map[string]bool{}
	for _, s := range opts.SpecialTokens {
		if s == "" || seen[s] {
			return nil, fmt.Errorf("tokenizer: train: special token %q is empty or repeated", s)
		}
		seen[s] = true
	}
	if min := len(opts.SpecialTokens) + 256; opts.VocabSize < min {
		return nil, fmt.Errorf("tokenizer: train: vocabulary size %d is below %d (special tokens + 256 bytes)", opts.VocabSize, min)
	}
	re, err := compilePattern(gpt2Pattern)
	if err != nil {
		return nil, err
	}
	return &BPETrainer{
		opts:  opts,
		pre:   &byteLevelPre{re: re, table: newByteTable()},
		words: map[string]int64{},
	}, nil
}

// Add counts the words of a training text.
func (t *BPETrainer) Add(text string) {
	text = validUTF8(text)
	parts := []string{text}
	for _, s := range t.opts.SpecialTokens {
		var next []string
		for _, p := range parts {
			next = append(next, strings.Split(p, s)...)
		}
		parts = next
	}
	for _, p := range parts {
		if p == "" {
			continue
		}
		for _, w := range t.pre.preTokenize([]piece{{text: p, first: true}}) {
			t.words[w.text]++
		}
	}
}

// trainWord is one distinct word as symbol ids.
type trainWord struct {
	syms  []int32
	count int64
}

// Train learns the merges and returns the contents of a tokenizer.json
// that Hugging Face's tokenizers library loads.
func (t *BPETrainer) Train(ctx context.Context) ([]byte, error) {
	var tokens []string // id -> token
	vocab := map[string]int32{}
	addToken := func(s string) int32 {
		if id, ok := vocab[s]; ok {
			return id
		}
		id := int32(len(tokens))
		tokens = append(tokens, s)
		vocab[s] = id
		return id
	}
	for _, s := range t.opts.SpecialTokens {
		addToken(s)
	}
	for b := 0; b < 256; b++ {
		addToken(string(t.pre.table.toRune[b]))
	}

	// Words in sorted order, so map iteration order cannot leak in.
	keys := make([]string, 0, len(t.words))
	for w := range t.words {
		keys = append(keys, w)
	}
	sort.Strings(keys)
	words := make([]trainWord, len(keys))
	for i, w := range keys {
		for _, r := range w {
			words[i].syms = append(words[i].syms, vocab[string(r)])
		}
		words[i].count = t.words[w]
	}

	counts := map[uint64]int64{}
	where := map[uint64]map[int]struct{}{}
	for i, w := range words {
		for j := 0; j+1 < len(w.syms); j++ {
			k := pairKey(w.syms[j], w.syms[j+1])
			counts[k] += w.count
			if where[k] == nil {
				where[k] = map[int]struct{}{}
			}
			where[k][i] = struct{}{}
		}
	}
	h := &pairHeap{tokens: &tokens}
	for k, c := range counts {
		h.items = append(h.items, pairItem{k, c})
	}
	heap.Init(h)

	minFreq := int64(max(t.opts.MinFrequency, 1))
	var merges [][2]string
	for len(tokens) < t.opts.VocabSize && h.Len() > 0 {
		if len(merges)%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		best := heap.Pop(h).(pairItem)
		if counts[best.key] != best.count {
			continue // stale entry; the current count was pushed when it changed
		}
		if best.count < minFreq {
			break
		}
		a, b := int32(best.key>>32), int32(uint32(best.key))
		merges = append(merges, [2]string{tokens[a], tokens[b]})
		id := addToken(tokens[a] + tokens[b])
		changed := map[uint64]bool{}
		affected := make([]int, 0, len(where[best.key]))
		for i := range where[best.key] {
			affected = append(affected, i)
		}
		sort.Ints(affected)
		for _, i := range affected {
			w := &words[i]
			for j := 0; j+1 < len(w.syms); j++ {
				k := pairKey(w.syms[j], w.syms[j+1])
				counts[k] -= w.count
				changed[k] = true
			}
			merged := w.syms[:0:0]
			for j := 0; j < len(w.syms); j++ {
				if j+1 < len(w.syms) && w.syms[j] == a && w.syms[j+1] == b {
					merged = append(merged, id)
					j++
					continue
				}
				merged = append(merged, w.syms[j])
			}
			w.syms = merged
			for j := 0; j+1 < len(w.syms); j++ {
				k := pairKey(w.syms[j], w.syms[j+1])
				counts[k] += w.count
				changed[k] = true
				if where[k] == nil {
					where[k] = map[int]struct{}{}
				}
				where[k][i] = struct{}{}
			}
		}
		delete(where, best.key)
		keysChanged := make([]uint64, 0, len(changed))
		for k := range changed {
			keysChanged = append(keysChanged, k)
		}
		sort.Slice(keysChanged, func(i, j int) bool { return keysChanged[i] < keysChanged[j] })
		for _, k := range keysChanged {
			if c := counts[k]; c > 0 {
				heap.Push(h, pairItem{k, c})
			} else {
				delete(counts, k)
			}
		}
	}
	return t.file(tokens, merges)
}

// pairItem is a candidate merge with its count when pushed.
type pairItem struct {
	key   uint64
	count int64
}

// pairHeap pops the most frequent pair; ties go to the pair whose token
// strings sort first, so the result does not depend on map order.
type pairHeap struct {
	items  []pairItem
	tokens *[]string
}

func (h *pairHeap) Len() int { return len(h.items) }
func (h *pairHeap) Less(i, j int) bool {
	x, y := h.items[i], h.items[j]
	if x.count != y.count {
		return x.count > y.count
	}
	tok := *h.tokens
	xa, xb := tok[int32(x.key>>32)], tok[int32(uint32(x.key))]
	ya, yb := tok[int32(y.key>>32)], tok[int32(uint32(y.key))]
	if xa != ya {
		return xa < ya
	}
	return xb < yb
}
func (h *pairHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *pairHeap) Push(x any)    { h.items = append(h.items, x.(pairItem)) }
func (h *pairHeap) Pop() any {
	n := len(h.items) - 1
	it := h.items[n]
	h.items = h.items[:n]
	return it
}

// file writes tokenizer.json with the vocabulary in id order.
func (t *BPETrainer) file(tokens []string, merges [][2]string) ([]byte, error) {
	enc := func(v any) string {
		var buf bytes.Buffer
		e := json.NewEncoder(&buf)
		e.SetEscapeHTML(false)
		_ = e.Encode(v) // strings always encode
		return strings.TrimSuffix(buf.String(), "\n")
	}
	var sb strings.Builder
	sb.WriteString("{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": [")
	for i, s := range t.opts.SpecialTokens {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, "\n    {\"id\": %d, \"content\": %s, \"single_word\": false, \"lstrip\": false, \"rstrip\": false, \"normalized\": false, \"special\": true}", i, enc(s))
	}
	sb.WriteString("\n  ],\n  \"normalizer\": null,\n")
	sb.WriteString("  \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true},\n")
	sb.WriteString("  \"post_processor\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false, \"use_regex\": true},\n")
	sb.WriteString("  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n")
	sb.WriteString("  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n")
	sb.WriteString("    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n    \"fuse_unk\": false,\n    \"byte_fallback\": false,\n    \"ignore_merges\": false,\n")
	sb.WriteString("    \"vocab\": {")
	for i, s := range tokens {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, "\n      %s: %d", enc(s), i)
	}
	sb.WriteString("\n    },\n    \"merges\": [")
	for i, m := range merges {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, "\n      %s", enc(m[0]+" "+m[1]))
	}
	sb.WriteString("\n    ]\n  }\n}\n")
	out := []byte(sb.String())
	if _, err := Parse(out); err != nil {
		return nil, fmt.Errorf("tokenizer: train: the written file does not parse: %w", err)
	}
	return out, nil
}
