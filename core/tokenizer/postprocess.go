package tokenizer

// postProcessor adds special tokens around an encoded single sequence; it
// runs only when Encode is asked to add special tokens.
type postProcessor interface {
	process(ids []int) []int
}

// templatePiece is one item of a TemplateProcessing "single" template:
// either the sequence itself or the ids of a special token.
type templatePiece struct {
	sequence bool
	ids      []int
}

// templatePost is TemplateProcessing for single sequences.
type templatePost []templatePiece

func (t templatePost) process(ids []int) []int {
	n := len(ids)
	for _, p := range t {
		n += len(p.ids)
	}
	out := make([]int, 0, n)
	for _, p := range t {
		if p.sequence {
			out = append(out, ids...)
		} else {
			out = append(out, p.ids...)
		}
	}
	return out
}

// wrapPost puts fixed ids before and after the sequence (BertProcessing and
// RobertaProcessing: [CLS] A [SEP]).
type wrapPost struct{ before, after int }

func (w wrapPost) process(ids []int) []int {
	out := make([]int, 0, len(ids)+2)
	out = append(out, w.before)
	out = append(out, ids...)
	return append(out, w.after)
}

// sequencePost chains post-processors.
type sequencePost []postProcessor

func (s sequencePost) process(ids []int) []int {
	for _, p := range s {
		ids = p.process(ids)
	}
	return ids
}
