package data

import "github.com/lorafn/lorafn/core/tokenizer"

// IgnoreIndex labels a token that carries no loss, as in PyTorch and
// Hugging Face.
const IgnoreIndex = -100

// Encoder is what Prepare needs of a tokenizer; *tokenizer.Tokenizer is
// one.
type Encoder interface {
	// Encode returns the ids of text, with the tokenizer's special tokens
	// (e.g. BOS) when addSpecial is set, as Hugging Face's encode does.
	Encode(text string, addSpecial bool) []int
	// VocabSize is the largest id plus one.
	VocabSize() int
	// TokenID returns the id of a token string such as "</s>".
	TokenID(tok string) (int, bool)
}

// tokenize encodes the whole rendered text at once, so the ids are exactly
// those a Hugging Face tokenizer gives for the same text, and labels each
// token by the span it comes from.
//
// A span edge at byte p falls at token k, the length of the common prefix
// of the encodings of text[:p] and of the whole text: a token that
// straddles p (a merge across the edge) belongs to the later side. eos >= 0
// is appended to records that end with a trained completion (unless the
// text already ends with it) and is trained with it.
func tokenize(enc Encoder, r rendered, eos int) (ids, labels []int) {
	ids = enc.Encode(r.text, r.addSpecial)
	type edge struct {
		tok   int
		train bool
	}
	var edges []edge
	prev := 0
	at := func(p int, train bool) {
		k := 0
		if p >= len(r.text) {
			k = len(ids)
		} else if p > 0 {
			k = commonPrefix(enc.Encode(r.text[:p], r.addSpecial), ids)
		}
		k = max(k, prev)
		prev = k
		edges = append(edges, edge{k, train})
	}
	for _, s := range mergeSpans(r.train) {
		at(s.Start, true)
		at(s.End, false)
	}
	labels = make([]int, len(ids))
	for i := range labels {
		labels[i] = IgnoreIndex
	}
	// Pairs of edges: a span end at the end of the text falls after any
	// special tokens the tokenizer appends, so those are trained with it.
	for i := 0; i+1 < len(edges); i += 2 {
		for t := edges[i].tok; t < edges[i+1].tok; t++ {
			labels[t] = ids[t]
		}
	}
	trainedEnd := len(edges) > 0 && lastSpanEnd(r) == len(r.text)
	if r.appendEOS && eos >= 0 && trainedEnd && (len(ids) == 0 || ids[len(ids)-1] != eos) {
		ids = append(ids, eos)
		labels = append(labels, eos)
	}
	return ids, labels
}

func lastSpanEnd(r rendered) int {
	if len(r.train) == 0 {
		return -1
	}
	return r.train[len(r.train)-1].End
}

// mergeSpans joins touching spans and drops empty ones.
func mergeSpans(spans []tokenizer.Span) []tokenizer.Span {
	var out []tokenizer.Span
	for _, s := range spans {
		if s.End <= s.Start {
			continue
		}
		if n := len(out); n > 0 && out[n-1].End >= s.Start {
			out[n-1].End = max(out[n-1].End, s.End)
			continue
		}
		out = append(out, s)
	}
	return out
}

func commonPrefix(a, b []int) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// trainedTargets counts the labels that are a training target: every
// position but the first (position t is predicted from t-1).
func trainedTargets(labels []int) int {
	n := 0
	for i := 1; i < len(labels); i++ {
		if labels[i] != IgnoreIndex {
			n++
		}
	}
	return n
}
