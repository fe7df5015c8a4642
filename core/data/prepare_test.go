package data

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/tokenizer"
)

// trainedText decodes the tokens that carry loss, each maximal run
// separated by "|".
func trainedText(tok *tokenizer.Tokenizer, ids, labels []int) string {
	var runs []string
	var run []int
	for i := range ids {
		if labels[i] != IgnoreIndex {
			if labels[i] != ids[i] {
				return fmt.Sprintf("label %d != id %d at %d", labels[i], ids[i], i)
			}
			run = append(run, ids[i])
			continue
		}
		if len(run) > 0 {
			runs = append(runs, tok.Decode(run, false))
			run = nil
		}
	}
	if len(run) > 0 {
		runs = append(runs, tok.Decode(run, false))
	}
	return strings.Join(runs, "|")
}

func smolChat(t *testing.T) *tokenizer.ChatTemplate {
	c, err := tokenizer.ChatTemplateByName("smollm2", "<|im_start|>", "<|im_end|>")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestExampleLabels(t *testing.T) {
	tok := gpt2ChatML(t)
	eos, _ := tok.TokenID("<|endoftext|>")
	chat := smolChat(t)
	for _, c := range []struct {
		name    string
		rec     Record
		opts    Options
		text    string // the whole rendered text; ids must be its encoding
		special bool   // encoded with special tokens
		eos     bool   // EOS appended
		trained string
	}{
		{"text", Record{Format: FormatText, Text: "Hello world"}, Options{EOS: "<|endoftext|>"},
			"Hello world", true, true, "Hello world<|endoftext|>"},
		{"prompt/completion", Record{Format: FormatPromptCompletion, Prompt: "Q: 2+2?\nA:", Completion: " 4"}, Options{EOS: "<|endoftext|>"},
			"Q: 2+2?\nA: 4", true, true, " 4<|endoftext|>"},
		{"no EOS", Record{Format: FormatPromptCompletion, Prompt: "Q: 2+2?\nA:", Completion: " 4"}, Options{},
			"Q: 2+2?\nA: 4", true, false, " 4"},
		{"train on prompt", Record{Format: FormatPromptCompletion, Prompt: "Q: 2+2?\nA:", Completion: " 4"}, Options{TrainOnPrompt: true},
			"Q: 2+2?\nA: 4", true, false, "Q: 2+2?\nA: 4"},
		// " quickest" is one GPT-2 token across the edge: it is trained.
		{"merge across the edge", Record{Format: FormatPromptCompletion, Prompt: "the quick", Completion: "est"}, Options{},
			"the quickest", true, false, " quickest"},
		{"alpaca", Record{Format: FormatAlpaca, Instruction: "Add.", Input: "1 2", Output: "3"}, Options{},
			"Below is an instruction that describes a task, paired with an input that provides further context. Write a response that appropriately completes the request.\n\n### Instruction:\nAdd.\n\n### Input:\n1 2\n\n### Response:\n3", true, false, "3"},
		{"text/label", Record{Format: FormatTextLabel, Text: "great film", Label: "positive"}, Options{},
			"great film\npositive", true, false, "positive"},
		{"chat", Record{Format: FormatChat, Messages: []tokenizer.Message{
			{Role: "user", Content: "hi"}, {Role: "assistant", Content: "yo"}, {Role: "user", Content: "and?"}, {Role: "assistant", Content: "bye now"}}},
			Options{Chat: chat, EOS: "<|endoftext|>"},
			"<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nyo<|im_end|>\n<|im_start|>user\nand?<|im_end|>\n<|im_start|>assistant\nbye now<|im_end|>\n",
			false, false, "yo<|im_end|>|bye now<|im_end|>"},
		{"prompt/completion as chat", Record{Format: FormatPromptCompletion, Prompt: "Q", Completion: "A"}, Options{Chat: chat},
			"<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n",
			false, false, "A<|im_end|>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := newPreparer(tok, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			ex, _, err := p.example(c.rec)
			if err != nil {
				t.Fatal(err)
			}
			want := tok.Encode(c.text, c.special)
			if c.eos {
				want = append(want, eos)
			}
			if !slices.Equal(ex.IDs, want) {
				t.Errorf("ids %v\nwant %v (the encoding of %q)", ex.IDs, want, c.text)
			}
			if got := trainedText(tok, ex.IDs, ex.Labels); got != c.trained {
				t.Errorf("trained %q, want %q", got, c.trained)
			}
		})
	}
}

func TestExampleRejections(t *testing.T) {
	tok := gpt2ChatML(t)
	for _, c := range []struct {
		name string
		rec  Record
		opts Options
		kind Kind
	}{
		{"chat without template", Record{Format: FormatChat, Messages: []tokenizer.Message{{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}}}, Options{}, KindTemplate},
		{"too long", Record{Format: FormatText, Text: "one two three four five"}, Options{MaxLen: 3, Overflow: Reject}, KindTooLong},
		{"truncated to the prompt", Record{Format: FormatPromptCompletion, Prompt: "one two three four", Completion: " five"}, Options{MaxLen: 3}, KindNoTraining},
		{"token out of vocabulary", Record{Format: FormatTokens, InputIDs: []int{1, 60000}}, Options{}, KindTokens},
		{"label out of vocabulary", Record{Format: FormatTokens, InputIDs: []int{1, 2}, Labels: []int{-100, -5}}, Options{}, KindTokens},
		{"all labels ignored", Record{Format: FormatTokens, InputIDs: []int{1, 2}, Labels: []int{1, -100}}, Options{}, KindNoTraining},
		{"template order", Record{Format: FormatChat, Messages: []tokenizer.Message{{Role: "assistant", Content: "a"}, {Role: "assistant", Content: "b"}}},
			Options{Chat: &tokenizer.ChatTemplate{Family: tokenizer.Llama2, BOS: "<s>", EOS: "</s>"}}, KindTemplate},
	} {
		p, err := newPreparer(tok, c.opts)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = p.example(c.rec)
		var fe *fieldError
		if !errors.As(err, &fe) || fe.kind != c.kind {
			t.Errorf("%s: err = %v, want kind %s", c.name, err, c.kind)
		}
	}
	p, _ := newPreparer(tok, Options{MaxLen: 3})
	ex, truncated, err := p.example(Record{Format: FormatText, Text: "one two three four five"})
	if err != nil || !truncated || len(ex.IDs) != 3 || !slices.Equal(ex.IDs, tok.Encode("one two three", true)) {
		t.Errorf("truncate: %v %v %v", ex.IDs, truncated, err)
	}
}

func TestIsValidation(t *testing.T) {
	n, val := 20000, 0
	for i := 0; i < n; i++ {
		r := Record{Format: FormatText, Text: fmt.Sprintf("record %d", i), Line: i + 1}
		v := IsValidation(r, 0.1)
		if v {
			val++
		}
		r.Line, r.File = 99, "elsewhere.jsonl"
		if IsValidation(r, 0.1) != v {
			t.Fatal("the split depends on the record's position")
		}
		if v && !IsValidation(r, 0.2) {
			t.Fatal("a validation record at 10% is not one at 20%")
		}
	}
	if frac := float64(val) / float64(n); frac < 0.09 || frac > 0.11 {
		t.Errorf("validation fraction %.4f, want about 0.1", frac)
	}
	if IsValidation(Record{Format: FormatText, Text: "x"}, 0) {
		t.Error("fraction 0 put a record in validation")
	}
}

func writeJSONL(t *testing.T, lines ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "d.jsonl")
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func prepareFile(t *testing.T, path, out string, opts Options) (*Stats, error) {
	t.Helper()
	r, c, err := OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return Prepare(context.Background(), r, gpt2ChatML(t), out, opts)
}

func readSplit(t *testing.T, dir string) []Example {
	t.Helper()
	s, err := OpenShards(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := make([]Example, s.Len())
	for i := range out {
		if out[i], err = s.Example(i); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func sampleLines(n int) []string {
	var lines []string
	for i := 0; i < n; i++ {
		switch i % 4 {
		case 0:
			lines = append(lines, fmt.Sprintf(`{"prompt": "Question %d:", "completion": " answer %d"}`, i, i))
		case 1:
			lines = append(lines, fmt.Sprintf(`{"text": "Some text number %d."}`, i))
		case 2:
			lines = append(lines, fmt.Sprintf(`{"instruction": "Echo %d.", "output": "%d"}`, i, i))
		case 3:
			lines = append(lines, fmt.Sprintf(`{"text": "review %d", "label": "positive"}`, i))
		}
	}
	return lines
}

func TestPrepare(t *testing.T) {
	lines := append(sampleLines(200), `{"text": ""}`, `not json`, `{"prompt": "p"}`)
	path := writeJSONL(t, lines...)
	out := t.TempDir()
	opts := Options{ValFraction: 0.2, EOS: "<|endoftext|>"}
	stats, err := prepareFile(t, path, out, opts)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Records != 203 || stats.Accepted != 200 || stats.Rejected != 3 || len(stats.Rejections) != 3 {
		t.Errorf("stats %d read, %d accepted, %d rejected", stats.Records, stats.Accepted, stats.Rejected)
	}
	if r := stats.Rejections[1]; r.Line != 202 || r.Kind != KindBadJSON || !strings.HasPrefix(r.Detail, path+":202:") {
		t.Errorf("rejection %+v", r)
	}
	if stats.Reasons[KindEmpty] != 1 || stats.Reasons[KindMissing] != 1 || stats.Formats[FormatAlpaca] != 50 {
		t.Errorf("reasons %v formats %v", stats.Reasons, stats.Formats)
	}
	train, val := readSplit(t, filepath.Join(out, TrainDir)), readSplit(t, filepath.Join(out, ValidationDir))
	if len(train)+len(val) != 200 || len(val) < 20 || len(val) > 60 {
		t.Errorf("%d train + %d validation examples", len(train), len(val))
	}
	if stats.Train.Examples != len(train) || stats.Validation.Examples != len(val) {
		t.Errorf("stats say %d/%d examples, shards hold %d/%d", stats.Train.Examples, stats.Validation.Examples, len(train), len(val))
	}
	hist := 0
	for _, c := range stats.Lengths.Counts {
		hist += c
	}
	if hist != 200 {
		t.Errorf("length histogram counts %d examples", hist)
	}
	// The shards hold exactly what example() computes, in file order.
	p, _ := newPreparer(gpt2ChatML(t), opts)
	r, c, _ := OpenFile(path)
	defer c.Close()
	ti, vi := 0, 0
	for {
		rec, err := r.Next()
		if err != nil {
			if _, ok := err.(*LineError); ok {
				continue
			}
			break
		}
		want, _, _ := p.example(rec)
		var got Example
		if IsValidation(rec, 0.2) {
			got, vi = val[vi], vi+1
		} else {
			got, ti = train[ti], ti+1
		}
		if !slices.Equal(got.IDs, want.IDs) || !slices.Equal(got.Labels, want.Labels) {
			t.Fatalf("line %d: shard example differs from the record's", rec.Line)
		}
	}
	var saved Stats
	data, err := os.ReadFile(filepath.Join(out, StatsName))
	if err != nil || json.Unmarshal(data, &saved) != nil || saved.Accepted != 200 {
		t.Errorf("stats.json: %v", err)
	}

	// Same input, same bytes.
	out2 := t.TempDir()
	if _, err := prepareFile(t, path, out2, opts); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"train/00000.shard", "validation/00000.shard", "train/manifest.json", StatsName} {
		a, _ := os.ReadFile(filepath.Join(out, f))
		b, _ := os.ReadFile(filepath.Join(out2, f))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs", f)
		}
	}
}

func TestPrepareSplitStableWhenAppending(t *testing.T) {
	lines := sampleLines(100)
	outA, outB := t.TempDir(), t.TempDir()
	if _, err := prepareFile(t, writeJSONL(t, lines...), outA, Options{ValFraction: 0.3}); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareFile(t, writeJSONL(t, append(lines, sampleLines(140)[100:]...)...), outB, Options{ValFraction: 0.3}); err != nil {
		t.Fatal(err)
	}
	for _, split := range []string{TrainDir, ValidationDir} {
		a, b := readSplit(t, filepath.Join(outA, split)), readSplit(t, filepath.Join(outB, split))
		if len(b) < len(a) {
			t.Fatalf("%s shrank from %d to %d", split, len(a), len(b))
		}
		for i := range a {
			if !slices.Equal(a[i].IDs, b[i].IDs) {
				t.Fatalf("%s example %d changed after appending records", split, i)
			}
		}
	}
}

func TestPrepareErrorBudget(t *testing.T) {
	out := t.TempDir()
	good := writeJSONL(t, sampleLines(20)...)
	if _, err := prepareFile(t, good, out, Options{}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(out, StatsName))

	bad := writeJSONL(t, append(sampleLines(18), `{"text": 1}`, `{"text": 2}`)...) // 10% rejected
	stats, err := prepareFile(t, bad, out, Options{})
	var be *BudgetError
	if !errors.As(err, &be) || be.Rejected != 2 || be.Records != 20 || !strings.Contains(err.Error(), bad+":19:") {
		t.Fatalf("err = %v, want a budget error naming line 19", err)
	}
	if stats == nil || stats.Rejected != 2 {
		t.Errorf("stats %+v", stats)
	}
	after, _ := os.ReadFile(filepath.Join(out, StatsName))
	if !bytes.Equal(before, after) || len(readSplit(t, filepath.Join(out, TrainDir))) != 20 {
		t.Error("a failed run changed the previous output")
	}
	entries, _ := os.ReadDir(out)
	if len(entries) != 3 {
		t.Errorf("output holds %d entries, want train, validation, stats.json", len(entries))
	}
	if _, err := prepareFile(t, bad, out, Options{ErrorBudget: 0.1}); err != nil {
		t.Errorf("10%% rejected with a 10%% budget: %v", err)
	}
	if _, err := prepareFile(t, writeJSONL(t, `{"text": 1}`), t.TempDir(), Options{ErrorBudget: 1}); err == nil {
		t.Error("no usable records did not fail")
	}
}

func TestPreparePacking(t *testing.T) {
	path := writeJSONL(t, sampleLines(60)...)
	plain, packed := t.TempDir(), t.TempDir()
	if _, err := prepareFile(t, path, plain, Options{MaxLen: 64}); err != nil {
		t.Fatal(err)
	}
	stats, err := prepareFile(t, path, packed, Options{MaxLen: 64, Pack: true})
	if err != nil {
		t.Fatal(err)
	}
	exs, seqs := readSplit(t, filepath.Join(plain, TrainDir)), readSplit(t, filepath.Join(packed, TrainDir))
	if len(seqs) >= len(exs) || stats.Train.Sequences != len(seqs) || stats.Train.Examples != len(exs) {
		t.Fatalf("%d examples packed into %d sequences (stats %+v)", len(exs), len(seqs), stats.Train)
	}
	// Unpacking the sequences at their starts gives the examples back,
	// with the first label of each ignored.
	var got []Example
	for _, s := range seqs {
		if len(s.IDs) > 64 || len(s.Starts) == 0 || s.Starts[0] != 0 {
			t.Fatalf("sequence of %d tokens, starts %v", len(s.IDs), s.Starts)
		}
		for j, st := range s.Starts {
			end := len(s.IDs)
			if j+1 < len(s.Starts) {
				end = s.Starts[j+1]
			}
			if s.Labels[st] != IgnoreIndex {
				t.Fatalf("label at packed start %d is %d", st, s.Labels[st])
			}
			got = append(got, Example{IDs: s.IDs[st:end], Labels: s.Labels[st:end]})
		}
	}
	if len(got) != len(exs) {
		t.Fatalf("%d examples unpacked, want %d", len(got), len(exs))
	}
	for i := range exs {
		want := slices.Clone(exs[i].Labels)
		want[0] = IgnoreIndex
		if !slices.Equal(got[i].IDs, exs[i].IDs) || !slices.Equal(got[i].Labels, want) {
			t.Fatalf("example %d differs after packing", i)
		}
	}
}

func TestPrepareOptionErrors(t *testing.T) {
	tok := gpt2ChatML(t)
	for _, o := range []Options{{Pack: true}, {ValFraction: 1}, {MaxLen: -1}, {Overflow: "drop"}, {EOS: "</s>"}} {
		if _, err := Prepare(context.Background(), NewJSONLReader(strings.NewReader(""), "x"), tok, t.TempDir(), o); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Prepare(ctx, NewJSONLReader(strings.NewReader(`{"text": "a"}`), "x"), tok, t.TempDir(), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
}
