package data

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lorafn/lorafn/core/tokenizer"
	"github.com/lorafn/lorafn/internal/atomicfile"
)

// Overflow says what Prepare does with a record longer than MaxLen tokens.
type Overflow string

const (
	Truncate Overflow = "truncate" // keep the first MaxLen tokens
	Reject   Overflow = "reject"   // reject the record
)

// DefaultErrorBudget is the fraction of records that may be rejected
// before Prepare fails.
const DefaultErrorBudget = 0.05

// Options control Prepare. The zero value prepares unpacked examples of
// any length, trains completions only, keeps every record for training and
// tolerates DefaultErrorBudget rejections.
type Options struct {
	// Chat renders chat records, and prompt/completion, alpaca and
	// text/label records as one user and one assistant turn. Nil: chat
	// records are rejected, the others are rendered as plain text.
	Chat *tokenizer.ChatTemplate
	// EOS is the end-of-sequence token appended to plain-text renderings
	// (trained with the completion); empty: none.
	EOS string
	// MaxLen bounds an example's tokens (0: no bound; required to Pack).
	MaxLen   int
	Overflow Overflow // Truncate (default) or Reject
	// TrainOnPrompt trains every token, not just completions.
	TrainOnPrompt bool
	// ValFraction of the records (by content hash) go to validation.
	ValFraction float64
	// Pack concatenates consecutive examples into sequences of up to
	// MaxLen tokens.
	Pack bool
	// ErrorBudget is the fraction of records that may be rejected; 0
	// means DefaultErrorBudget, negative means none may be.
	ErrorBudget float64
	// ShardTokens is the number of tokens per shard file (0: default).
	ShardTokens int64
	// MaxRejectionsListed bounds the rejections listed in stats.json
	// (0: 1000); all are counted.
	MaxRejectionsListed int
}

// Stats summarises a Prepare run; it is written to stats.json.
type Stats struct {
	Records    int            `json:"records"`
	Accepted   int            `json:"accepted"`
	Rejected   int            `json:"rejected"`
	Truncated  int            `json:"truncated"`
	Formats    map[Format]int `json:"formats"`
	Reasons    map[Kind]int   `json:"rejected_by_reason"`
	Rejections []Rejection    `json:"rejections"`
	Train      SplitStats     `json:"train"`
	Validation SplitStats     `json:"validation"`
	// Lengths is the histogram of example lengths in tokens, before
	// packing: Counts[i] examples have at most Edges[i] tokens (and more
	// than Edges[i-1]).
	Lengths Histogram `json:"length_histogram"`
	Options struct {
		ChatTemplate  string   `json:"chat_template,omitempty"`
		EOS           string   `json:"eos,omitempty"`
		MaxLen        int      `json:"max_len"`
		Overflow      Overflow `json:"overflow"`
		TrainOnPrompt bool     `json:"train_on_prompt"`
		ValFraction   float64  `json:"val_fraction"`
		Pack          bool     `json:"pack"`
		ErrorBudget   float64  `json:"error_budget"`
	} `json:"options"`
}

// SplitStats counts one split.
type SplitStats struct {
	Examples  int   `json:"examples"`  // records
	Sequences int   `json:"sequences"` // stored sequences (fewer than examples when packed)
	Tokens    int64 `json:"tokens"`
	Targets   int64 `json:"trained_tokens"` // tokens that carry loss
}

// Rejection is one rejected record in stats.json.
type Rejection struct {
	File   string `json:"file"`
	Line   int    `json:"line"`
	Field  string `json:"field,omitempty"`
	Kind   Kind   `json:"reason"`
	Detail string `json:"detail"`
}

// Histogram counts values into buckets with the upper bounds Edges.
type Histogram struct {
	Edges  []int `json:"edges"`
	Counts []int `json:"counts"`
}

func (h *Histogram) add(v int) {
	i := sort.SearchInts(h.Edges, v)
	for i >= len(h.Edges) {
		next := 1
		if n := len(h.Edges); n > 0 {
			next = h.Edges[n-1] * 2
		}
		h.Edges = append(h.Edges, next)
		h.Counts = append(h.Counts, 0)
		i = sort.SearchInts(h.Edges, v)
	}
	h.Counts[i]++
}

// BudgetError is returned when more records were rejected than the error
// budget allows. Stats are still written.
type BudgetError struct {
	Rejected, Records int
	Budget            float64
	First             []Rejection
}

func (e *BudgetError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "data: %d of %d records rejected, over the error budget of %.3g", e.Rejected, e.Records, e.Budget)
	for _, r := range e.First {
		fmt.Fprintf(&sb, "\n  %s:%d: %s", r.File, r.Line, r.Detail)
	}
	return sb.String()
}

// StatsName is the statistics file Prepare writes beside the shards.
const StatsName = "stats.json"

// The split directories Prepare writes under its output directory.
const (
	TrainDir      = "train"
	ValidationDir = "validation"
)

// Prepare reads every record of src, tokenizes it with enc and writes the
// shards of both splits under out/train and out/validation, with
// out/stats.json. The output is built in a temporary directory and moved
// into place only when complete, so a failed run leaves out as it was.
// The result depends only on the records, enc and opts.
func Prepare(ctx context.Context, src Reader, enc Encoder, out string, opts Options) (*Stats, error) {
	p, err := newPreparer(enc, opts)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	tmp, err := os.MkdirTemp(out, ".prep-")
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	defer os.RemoveAll(tmp)
	if p.train, err = newSplitWriter(filepath.Join(tmp, TrainDir), opts); err != nil {
		return nil, err
	}
	defer p.train.w.Abort()
	if p.val, err = newSplitWriter(filepath.Join(tmp, ValidationDir), opts); err != nil {
		return nil, err
	}
	defer p.val.w.Abort()

	for {
		if p.stats.Records%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		rec, err := src.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var le *LineError
		if errors.As(err, &le) {
			p.stats.Records++
			p.reject(le)
			continue
		}
		if err != nil {
			return nil, err
		}
		p.stats.Records++
		if err := p.add(rec); err != nil {
			if errors.As(err, &le) {
				p.reject(le)
				continue
			}
			return nil, err
		}
	}
	if err := p.train.flush(); err != nil {
		return nil, err
	}
	if err := p.val.flush(); err != nil {
		return nil, err
	}
	p.stats.Train, p.stats.Validation = p.train.stats, p.val.stats

	budget := opts.ErrorBudget
	if budget == 0 {
		budget = DefaultErrorBudget
	}
	var failure error
	switch {
	case p.stats.Accepted == 0:
		failure = fmt.Errorf("data: no usable records (%d read, %d rejected)", p.stats.Records, p.stats.Rejected)
	case float64(p.stats.Rejected) > max(budget, 0)*float64(p.stats.Records):
		failure = &BudgetError{Rejected: p.stats.Rejected, Records: p.stats.Records, Budget: budget, First: p.stats.Rejections[:min(5, len(p.stats.Rejections))]}
	}
	if failure != nil {
		return &p.stats, failure
	}
	if err := p.train.w.Close(); err != nil {
		return nil, err
	}
	if err := p.val.w.Close(); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(filepath.Join(tmp, StatsName), indentJSON(&p.stats)); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	// Move the finished splits into place, stats.json last. A previous
	// output is first moved aside into the temporary directory (removed on
	// return), so at every moment each split is whole, old or new.
	for _, name := range []string{TrainDir, ValidationDir} {
		dst := filepath.Join(out, name)
		if err := os.Rename(dst, filepath.Join(tmp, "old-"+name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("data: %w", err)
		}
		if err := os.Rename(filepath.Join(tmp, name), dst); err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
	}
	if err := os.Rename(filepath.Join(tmp, StatsName), filepath.Join(out, StatsName)); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return &p.stats, nil
}

// indentJSON encodes v for people to read: indented, with <, > and &
// left as they are (special tokens such as <|endoftext|>).
func indentJSON(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // plain structs of strings and numbers always encode
	return buf.Bytes()
}

type preparer struct {
	enc        Encoder
	opts       Options
	eos        int
	maxListed  int
	stats      Stats
	train, val *splitWriter
}

func newPreparer(enc Encoder, opts Options) (*preparer, error) {
	p := &preparer{enc: enc, opts: opts, eos: -1, maxListed: opts.MaxRejectionsListed}
	if p.maxListed <= 0 {
		p.maxListed = 1000
	}
	switch opts.Overflow {
	case "":
		p.opts.Overflow = Truncate
	case Truncate, Reject:
	default:
		return nil, fmt.Errorf("data: overflow %q: want %q or %q", opts.Overflow, Truncate, Reject)
	}
	if opts.MaxLen < 0 {
		return nil, fmt.Errorf("data: max length %d is negative", opts.MaxLen)
	}
	if opts.Pack && opts.MaxLen == 0 {
		return nil, fmt.Errorf("data: packing needs a maximum length")
	}
	if opts.ValFraction < 0 || opts.ValFraction >= 1 {
		return nil, fmt.Errorf("data: validation fraction %g: want 0 <= f < 1", opts.ValFraction)
	}
	if opts.EOS != "" {
		id, ok := enc.TokenID(opts.EOS)
		if !ok {
			return nil, fmt.Errorf("data: EOS token %q is not in the vocabulary", opts.EOS)
		}
		p.eos = id
	}
	p.stats.Formats = map[Format]int{}
	p.stats.Reasons = map[Kind]int{}
	p.stats.Rejections = []Rejection{}
	o := &p.stats.Options
	if opts.Chat != nil {
		o.ChatTemplate = string(opts.Chat.Family)
	}
	o.EOS, o.MaxLen, o.Overflow, o.TrainOnPrompt = opts.EOS, opts.MaxLen, p.opts.Overflow, opts.TrainOnPrompt
	o.ValFraction, o.Pack, o.ErrorBudget = opts.ValFraction, opts.Pack, opts.ErrorBudget
	if o.ErrorBudget == 0 {
		o.ErrorBudget = DefaultErrorBudget
	}
	return p, nil
}

func (p *preparer) reject(le *LineError) {
	p.stats.Rejected++
	p.stats.Reasons[le.Kind]++
	if len(p.stats.Rejections) < p.maxListed {
		p.stats.Rejections = append(p.stats.Rejections, Rejection{File: le.File, Line: le.Line, Field: le.Field, Kind: le.Kind, Detail: le.Error()})
	}
}

// add turns a record into an example and sends it to its split.
func (p *preparer) add(rec Record) error {
	ex, truncated, err := p.example(rec)
	if err != nil {
		return atLine(err, rec.File, rec.Line)
	}
	p.stats.Accepted++
	p.stats.Formats[rec.Format]++
	if truncated {
		p.stats.Truncated++
	}
	p.stats.Lengths.add(len(ex.IDs))
	w := p.train
	if IsValidation(rec, p.opts.ValFraction) {
		w = p.val
	}
	return w.add(ex)
}

// example tokenizes a record and applies the length bound.
func (p *preparer) example(rec Record) (ex Example, truncated bool, err error) {
	if rec.Format == FormatTokens {
		ex, err = p.tokensExample(rec)
	} else {
		var r rendered
		if r, err = render(rec, p.opts.Chat, p.opts.TrainOnPrompt); err != nil {
			return ex, false, err
		}
		ex.IDs, ex.Labels = tokenize(p.enc, r, p.eos)
	}
	if err != nil {
		return ex, false, err
	}
	if limit := p.opts.MaxLen; limit > 0 && len(ex.IDs) > limit {
		if p.opts.Overflow == Reject {
			return ex, false, ferr("", KindTooLong, "%d tokens, more than the maximum of %d", len(ex.IDs), limit)
		}
		ex.IDs, ex.Labels, truncated = ex.IDs[:limit], ex.Labels[:limit], true
	}
	if trainedTargets(ex.Labels) == 0 {
		msg := "no token carries loss"
		if truncated {
			msg += fmt.Sprintf(" after truncation to %d tokens", p.opts.MaxLen)
		}
		return ex, false, ferr("", KindNoTraining, "%s", msg)
	}
	return ex, truncated, nil
}

func (p *preparer) tokensExample(rec Record) (Example, error) {
	v := p.enc.VocabSize()
	ex := Example{IDs: rec.InputIDs, Labels: rec.Labels}
	for i, id := range ex.IDs {
		if id < 0 || id >= v {
			return ex, ferr(fmt.Sprintf("input_ids[%d]", i), KindTokens, "id %d outside the vocabulary [0, %d)", id, v)
		}
	}
	if ex.Labels == nil {
		ex.Labels = append([]int(nil), ex.IDs...)
	}
	for i, l := range ex.Labels {
		if l != IgnoreIndex && (l < 0 || l >= v) {
			return ex, ferr(fmt.Sprintf("labels[%d]", i), KindTokens, "label %d is neither %d nor in [0, %d)", l, IgnoreIndex, v)
		}
	}
	return ex, nil
}

// IsValidation says whether a record belongs to the validation split: the
// first 8 bytes of the SHA-256 of its content (Record as JSON, without its
// position), read as a fraction of 2^64, are below fraction. A record's
// split never depends on the other records, so appending records moves
// none, and duplicates share a split.
func IsValidation(rec Record, fraction float64) bool {
	if fraction <= 0 {
		return false
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return false
	}
	h := sha256.Sum256(data)
	return float64(binary.BigEndian.Uint64(h[:8])>>11)/(1<<53) < fraction
}

// splitWriter writes one split, packing examples when asked.
type splitWriter struct {
	w       *ShardWriter
	pack    bool
	maxLen  int
	pending Example // the sequence being packed
	stats   SplitStats
}

func newSplitWriter(dir string, opts Options) (*splitWriter, error) {
	w, err := NewShardWriter(dir, opts.ShardTokens)
	if err != nil {
		return nil, err
	}
	return &splitWriter{w: w, pack: opts.Pack, maxLen: opts.MaxLen}, nil
}

func (s *splitWriter) add(ex Example) error {
	s.stats.Examples++
	s.stats.Targets += int64(trainedTargets(ex.Labels))
	if !s.pack {
		return s.write(ex)
	}
	// Greedy packing in order: an example that does not fit closes the
	// sequence. Its first label is ignored so that the previous example's
	// last token is not trained to predict it.
	if len(s.pending.IDs)+len(ex.IDs) > s.maxLen {
		if err := s.flush(); err != nil {
			return err
		}
	}
	s.pending.Starts = append(s.pending.Starts, len(s.pending.IDs))
	s.pending.IDs = append(s.pending.IDs, ex.IDs...)
	s.pending.Labels = append(s.pending.Labels, ex.Labels...)
	s.pending.Labels[s.pending.Starts[len(s.pending.Starts)-1]] = IgnoreIndex
	return nil
}

func (s *splitWriter) flush() error {
	if len(s.pending.IDs) == 0 {
		return nil
	}
	err := s.write(s.pending)
	s.pending = Example{}
	return err
}

func (s *splitWriter) write(ex Example) error {
	s.stats.Sequences++
	s.stats.Tokens += int64(len(ex.IDs))
	return s.w.Add(ex)
}
