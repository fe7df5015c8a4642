package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/lorafn/lorafn/core/model"
)

// tokenRecord is one pre-tokenized JSONL record.
type tokenRecord struct {
	InputIDs []int `json:"input_ids"`
	Labels   []int `json:"labels"`
}

// evalReport is the --json output of lorafn eval.
type evalReport struct {
	Loss       float64        `json:"loss"`
	Perplexity float64        `json:"perplexity"`
	Tokens     int            `json:"tokens"`
	Records    int            `json:"records"`
	PerRecord  []recordReport `json:"per_record,omitempty"`
}

type recordReport struct {
	Line   int      `json:"line"`
	Loss   *float64 `json:"loss"` // null when the record has no target token
	Tokens int      `json:"tokens"`
}

func runEval(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("eval", stdout)
	base := fs.String("base", "", "Hugging Face model folder (config.json, model.safetensors)")
	adapter := fs.String("adapter", "", "PEFT LoRA adapter folder to apply to the base model")
	data := fs.String("data", "", `JSONL file of {"input_ids": [...], "labels": [...]} records; labels optional, -100 ignored`)
	asJSON := fs.Bool("json", false, "print one JSON object")
	perRecord := fs.Bool("per-record", false, "also report each record's loss")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required("base", *base); err != nil {
		return err
	}
	if err := required("data", *data); err != nil {
		return err
	}
	m, err := loadModel(*base, *adapter)
	if err != nil {
		return err
	}
	records, err := readTokenRecords(*data)
	if err != nil {
		return err
	}
	rep, err := evaluate(ctx, m, records, *perRecord)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(rep)
	}
	for _, r := range rep.PerRecord {
		loss := "-"
		if r.Loss != nil {
			loss = fmt.Sprintf("%.6f", *r.Loss)
		}
		fmt.Fprintf(stdout, "line %d\tloss %s\ttokens %d\n", r.Line, loss, r.Tokens)
	}
	fmt.Fprintf(stdout, "loss %.6f\tperplexity %.4f\ttokens %d\trecords %d\n", rep.Loss, rep.Perplexity, rep.Tokens, rep.Records)
	return nil
}

// lineRecord is a record and the file line it came from.
type lineRecord struct {
	line int
	tokenRecord
}

// readTokenRecords reads every record, failing on the first bad line with
// an error that names the file and line.
func readTokenRecords(path string) ([]lineRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 256<<20)
	var out []lineRecord
	for line := 1; sc.Scan(); line++ {
		text := sc.Bytes()
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		var r tokenRecord
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if len(r.InputIDs) == 0 {
			return nil, fmt.Errorf("%s:%d: input_ids is missing or empty", path, line)
		}
		if r.Labels != nil && len(r.Labels) != len(r.InputIDs) {
			return nil, fmt.Errorf("%s:%d: %d labels for %d input_ids", path, line, len(r.Labels), len(r.InputIDs))
		}
		out = append(out, lineRecord{line, r})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no records", path)
	}
	return out, nil
}

// evaluate scores each record as its own sequence: the mean is over all
// target tokens of the file, as one batch with padding would give.
func evaluate(ctx context.Context, m *model.Model, records []lineRecord, perRecord bool) (evalReport, error) {
	var rep evalReport
	var sum float64
	for _, r := range records {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		res, err := m.Loss(&model.Batch{B: 1, T: len(r.InputIDs), IDs: r.InputIDs, Labels: r.Labels})
		if err != nil {
			return rep, fmt.Errorf("line %d: %w", r.line, err)
		}
		sum += res.SumLoss
		rep.Tokens += res.Tokens
		rep.Records++
		if perRecord {
			rr := recordReport{Line: r.line, Tokens: res.Tokens}
			if res.Tokens > 0 {
				mean := res.Mean()
				rr.Loss = &mean
			}
			rep.PerRecord = append(rep.PerRecord, rr)
		}
	}
	if rep.Tokens == 0 {
		return rep, fmt.Errorf("no target tokens: every label is -100 or every record has one token")
	}
	rep.Loss = sum / float64(rep.Tokens)
	rep.Perplexity = math.Exp(rep.Loss)
	return rep, nil
}
