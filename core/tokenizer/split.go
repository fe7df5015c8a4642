package tokenizer

import "fmt"

// splitBehavior says what a pre-tokenizer does with the pattern matches
// (SplitDelimiterBehavior in the reference).
type splitBehavior int

const (
	behaviorRemoved splitBehavior = iota
	behaviorIsolated
	behaviorMergedWithPrevious
	behaviorMergedWithNext
	behaviorContiguous
)

func parseBehavior(s string) (splitBehavior, error) {
	switch s {
	case "Removed":
		return behaviorRemoved, nil
	case "Isolated":
		return behaviorIsolated, nil
	case "MergedWithPrevious":
		return behaviorMergedWithPrevious, nil
	case "MergedWithNext":
		return behaviorMergedWithNext, nil
	case "Contiguous":
		return behaviorContiguous, nil
	}
	return 0, fmt.Errorf("unknown behavior %q", s)
}

// span is a byte range of a piece; match is true for pattern matches.
type span struct {
	start, end int
	match      bool
}

// coverSpans turns matches in a text of length n into spans covering the
// whole text, gaps included; invert swaps which spans count as matches.
func coverSpans(n int, matches [][2]int, invert bool, out []span) []span {
	if n == 0 {
		return append(out, span{0, 0, invert})
	}
	prev := 0
	for _, m := range matches {
		if m[0] > prev {
			out = append(out, span{prev, m[0], invert})
		}
		out = append(out, span{m[0], m[1], !invert})
		prev = m[1]
	}
	if prev < n {
		out = append(out, span{prev, n, invert})
	}
	return out
}

// applyBehavior merges or drops spans as the behavior says. The result
// reuses spans' storage; its match flags are meaningless.
func applyBehavior(spans []span, b splitBehavior) []span {
	out := spans[:0]
	prevMatch := false
	switch b {
	case behaviorIsolated:
		return spans
	case behaviorRemoved:
		for _, s := range spans {
			if !s.match {
				out = append(out, s)
			}
		}
		return out
	case behaviorContiguous:
		for _, s := range spans {
			if len(out) > 0 && s.match == prevMatch {
				out[len(out)-1].end = s.end
			} else {
				out = append(out, s)
			}
			prevMatch = s.match
		}
		return out
	case behaviorMergedWithPrevious:
		for _, s := range spans {
			if len(out) > 0 && s.match && !prevMatch {
				out[len(out)-1].end = s.end
			} else {
				out = append(out, s)
			}
			prevMatch = s.match
		}
		return out
	case behaviorMergedWithNext:
		// Walk backwards, extending the following span to the left.
		n := len(spans)
		w := n
		for i := n - 1; i >= 0; i-- {
			s := spans[i]
			if w < n && s.match && !prevMatch {
				spans[w].start = s.start
			} else {
				w--
				spans[w] = s
			}
			prevMatch = s.match
		}
		return spans[w:]
	}
	return spans
}

// emitSpans appends the non-empty spans of p.text as pieces.
func emitSpans(p piece, spans []span, out []piece) []piece {
	for _, s := range spans {
		if s.end > s.start {
			out = append(out, piece{text: p.text[s.start:s.end], first: p.first && s.start == 0})
		}
	}
	return out
}
