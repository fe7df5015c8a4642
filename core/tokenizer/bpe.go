package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// mergeRule is what merging an adjacent pair of ids yields.
type mergeRule struct {
	rank  int32 // position in the merges list; lower merges first
	newID int32
}

// pairKey packs an adjacent pair of ids into a map key.
func pairKey(left, right int32) uint64 { return uint64(uint32(left))<<32 | uint64(uint32(right)) }

// bpeModel is the BPE model of tokenizer.json.
type bpeModel struct {
	vocab        map[string]int
	vocabR       map[int]string
	merges       map[uint64]mergeRule
	unkID        int // -1 when there is no unk_token
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string   // continuing_subword_prefix
	suffix       string   // end_of_word_suffix
	byteIDs      [256]int // ids of <0xHH> tokens, -1 where missing
	cache        *wordCache
}

// bpeOptions are the model settings besides vocab and merges.
type bpeOptions struct {
	unkToken     string // "" for none
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string
	suffix       string
}

// newBPE builds a model; merges are [left, right] pairs in rank order.
func newBPE(vocab map[string]int, merges [][2]string, opt bpeOptions) (*bpeModel, error) {
	m := &bpeModel{
		vocab:        vocab,
		vocabR:       make(map[int]string, len(vocab)),
		merges:       make(map[uint64]mergeRule, len(merges)),
		unkID:        -1,
		fuseUnk:      opt.fuseUnk,
		byteFallback: opt.byteFallback,
		ignoreMerges: opt.ignoreMerges,
		prefix:       opt.prefix,
		suffix:       opt.suffix,
		cache:        newWordCache(wordCacheCapacity),
	}
	for tok, id := range vocab {
		if id < 0 || id > maxTokenID {
			return nil, fmt.Errorf("vocab: token %q has id %d out of range", tok, id)
		}
		m.vocabR[id] = tok
	}
	if opt.unkToken != "" {
		id, ok := vocab[opt.unkToken]
		if !ok {
			return nil, fmt.Errorf("unk_token %q is not in the vocab", opt.unkToken)
		}
		m.unkID = id
	}
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	for rank, mg := range merges {
		a, b := mg[0], mg[1]
		aID, ok := vocab[a]
		if !ok {
			return nil, fmt.Errorf("merges[%d]: token %q is not in the vocab", rank, a)
		}
		bID, ok := vocab[b]
		if !ok {
			return nil, fmt.Errorf("merges[%d]: token %q is not in the vocab", rank, b)
		}
		if len(b) < len(m.prefix) {
			return nil, fmt.Errorf("merges[%d]: token %q is shorter than continuing_subword_prefix", rank, b)
		}
		merged := a + b[len(m.prefix):]
		newID, ok := vocab[merged]
		if !ok {
			return nil, fmt.Errorf("merges[%d]: merged token %q is not in the vocab", rank, merged)
		}
		// Like the reference's map, a repeated pair keeps its last rank.
		m.merges[pairKey(int32(aID), int32(bID))] = mergeRule{rank: int32(rank), newID: int32(newID)}
	}
	return m, nil
}

// maxTokenID bounds ids so that they fit the int32 merge tables.
const maxTokenID = 1<<31 - 1

// tokenize appends the ids of one pre-tokenized word.
func (m *bpeModel) tokenize(word string, out []int) []int {
	if word == "" {
		return out
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[word]; ok {
			return append(out, id)
		}
	}
	if ids, ok := m.cache.get(word); ok {
		return append(out, ids...)
	}
	start := len(out)
	out = m.mergeWord(word, out)
	m.cache.put(word, out[start:])
	return out
}

// symbol is one current part of a word during merging.
type symbol struct {
	id         int32
	prev, next int32 // neighbour indices, -1 at the ends
	gone       bool  // merged into its left neighbour
}

// mergeWord splits word into characters, maps them to ids (byte fallback,
// unknown token) and applies the merges, lowest rank first and leftmost
// first among equal ranks.
func (m *bpeModel) mergeWord(word string, out []int) []int {
	syms := make([]symbol, 0, len(word))
	add := func(id int) {
		n := int32(len(syms))
		syms = append(syms, symbol{id: int32(id), prev: n - 1, next: n + 1})
	}
	unk := false // a pending unknown token
	for i := 0; i < len(word); {
		_, size := utf8.DecodeRuneInString(word[i:])
		s := word[i : i+size]
		if i > 0 && m.prefix != "" {
			s = m.prefix + s
		}
		if i+size == len(word) && m.suffix != "" {
			s += m.suffix
		}
		i += size
		if id, ok := m.vocab[s]; ok {
			if unk {
				add(m.unkID)
				unk = false
			}
			add(id)
			continue
		}
		if m.byteFallback && m.addBytes(s, add) {
			continue
		}
		if m.unkID >= 0 {
			if unk && !m.fuseUnk {
				add(m.unkID)
			}
			unk = true
		}
	}
	if unk {
		add(m.unkID)
	}
	if len(syms) == 0 {
		return out
	}
	syms[len(syms)-1].next = -1
	m.mergeAll(syms)
	for i := 0; i >= 0 && i < len(syms); i = int(syms[i].next) {
		out = append(out, int(syms[i].id))
	}
	return out
}

// addBytes adds the <0xHH> tokens of s if all exist.
func (m *bpeModel) addBytes(s string, add func(int)) bool {
	for i := 0; i < len(s); i++ {
		if m.byteIDs[s[i]] < 0 {
			return false
		}
	}
	for i := 0; i < len(s); i++ {
		add(m.byteIDs[s[i]])
	}
	return true
}

// mergeAll applies merges in place using a min-heap of candidate pairs.
func (m *bpeModel) mergeAll(syms []symbol) {
	var h mergeHeap
	for i := 0; i+1 < len(syms); i++ {
		if r, ok := m.merges[pairKey(syms[i].id, syms[i+1].id)]; ok {
			h.push(candidate{rank: r.rank, pos: int32(i), newID: r.newID})
		}
	}
	for h.len() > 0 {
		c := h.pop()
		left := &syms[c.pos]
		if left.gone || left.next < 0 {
			continue
		}
		right := &syms[left.next]
		r, ok := m.merges[pairKey(left.id, right.id)]
		if !ok || r.newID != c.newID {
			continue // stale: one side changed since this pair was queued
		}
		left.id = c.newID
		right.gone = true
		left.next = right.next
		if left.next >= 0 {
			syms[left.next].prev = c.pos
		}
		if left.prev >= 0 {
			if r, ok := m.merges[pairKey(syms[left.prev].id, left.id)]; ok {
				h.push(candidate{rank: r.rank, pos: left.prev, newID: r.newID})
			}
		}
		if left.next >= 0 {
			if r, ok := m.merges[pairKey(left.id, syms[left.next].id)]; ok {
				h.push(candidate{rank: r.rank, pos: c.pos, newID: r.newID})
			}
		}
	}
}

// candidate is a queued merge of the pair starting at pos.
type candidate struct {
	rank, pos, newID int32
}

func (c candidate) less(d candidate) bool {
	return c.rank < d.rank || (c.rank == d.rank && c.pos < d.pos)
}

// mergeHeap is a binary min-heap of candidates.
type mergeHeap []candidate

func (h *mergeHeap) len() int { return len(*h) }

func (h *mergeHeap) push(c candidate) {
	*h = append(*h, c)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if !a[i].less(a[p]) {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *mergeHeap) pop() candidate {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		l, r, min := 2*i+1, 2*i+2, i
		if l < n && a[l].less(a[min]) {
			min = l
		}
		if r < n && a[r].less(a[min]) {
			min = r
		}
		if min == i {
			break
		}
		a[i], a[min] = a[min], a[i]
		i = min
	}
	*h = a
	return top
}

// tokenToID and idToToken look up the model vocabulary.
func (m *bpeModel) tokenToID(tok string) (int, bool) {
	id, ok := m.vocab[tok]
	return id, ok
}

func (m *bpeModel) idToToken(id int) (string, bool) {
	tok, ok := m.vocabR[id]
	return tok, ok
}
