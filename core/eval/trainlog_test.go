package eval

import (
	"bytes"
	"strings"
	"testing"
)

const sampleLog = `{"step":1,"loss":3.0,"lr":0.001,"grad_norm":1.5,"tokens":100,"tokens_per_s":50,"elapsed_s":2}
{"step":2,"loss":2.5,"lr":0.001,"grad_norm":1.2,"tokens":120,"val_loss":2.7,"tokens_per_s":60,"elapsed_s":4}
{"step":3,"loss":9.9,"lr":0.001,"grad_norm":1.0,"tokens":80,"tokens_per_s":40,"elapsed_s":6}

{"step":3,"loss":2.0,"lr":0.001,"grad_norm":1.0,"tokens":80,"tokens_per_s":40,"elapsed_s":1.5}
{"step":4,"loss":1.8,"lr":0.0005,"grad_norm":0.9,"tokens":100,"val_loss":2.6,"tokens_per_s":0,"elapsed_s":3}
{"step":5,"loss":1.7,"lr":0.0001,"grad_norm":0.8,"tokens":100,"val_loss":2.65,"tokens_per_s":100,"elapsed_s":4}
`

func TestReadTrainLogAndSummarize(t *testing.T) {
	lines, err := ReadTrainLog(strings.NewReader(sampleLog), "train_log.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5 (step 3 repeated after a resume)", len(lines))
	}
	if lines[2].Loss != 2.0 {
		t.Errorf("step 3 loss %v: the later line must win", lines[2].Loss)
	}
	s := Summarize(lines)
	// Timed steps: 100/50 + 120/60 + 80/40 + 100/100 = 7 s for 400 tokens;
	// step 4 reports no rate.
	if s.Steps != 5 || s.Tokens != 500 || !eq(s.Seconds, 7) || !eq(s.TokensPerSec, 400.0/7) {
		t.Errorf("steps %d tokens %d seconds %v rate %v; want 5, 500, 7, 400/7", s.Steps, s.Tokens, s.Seconds, s.TokensPerSec)
	}
	if s.FinalTrainLoss != 1.7 || *s.FinalValLoss != 2.65 || *s.BestValLoss != 2.6 || s.BestValStep != 4 {
		t.Errorf("final %v val %v best %v at %d; want 1.7, 2.65, 2.6 at 4", s.FinalTrainLoss, *s.FinalValLoss, *s.BestValLoss, s.BestValStep)
	}
	empty := Summarize(nil)
	if empty.Steps != 0 || empty.BestValLoss != nil || empty.TokensPerSec != 0 {
		t.Errorf("empty log summary %+v", empty)
	}
}

func TestReadTrainLogErrorsNameTheLine(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{`{"step":1,"loss":1}` + "\n" + `{"step":2,"loss":"x"}`, "log.jsonl:2:"},
		{"\n\n" + `{"step":0,"loss":1}`, "log.jsonl:3: step 0"},
		{`{"step":1,"loss":-1}`, "log.jsonl:1: loss -1"},
		{`{"step":1,"loss":1,"val_loss":-2}`, "log.jsonl:1: val_loss"},
		{`{"step":1,"loss":1,"tokens":-2}`, "log.jsonl:1: tokens"},
		{`not json`, "log.jsonl:1:"},
	} {
		_, err := ReadTrainLog(strings.NewReader(c.text), "log.jsonl")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want it to contain %q", c.text, err, c.want)
		}
	}
}

func FuzzReadTrainLog(f *testing.F) {
	f.Add([]byte(sampleLog))
	f.Add([]byte(`{"step":1,"loss":1e308,"val_loss":0}`))
	f.Add([]byte("{}\n[]\nnull"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines, err := ReadTrainLog(bytes.NewReader(data), "fuzz")
		if err != nil {
			return
		}
		for i, l := range lines {
			if l.check() != nil || (i > 0 && lines[i-1].Step >= l.Step) {
				t.Fatalf("line %d accepted but invalid or out of order: %+v", i, l)
			}
		}
		s := Summarize(lines)
		if s.Tokens < 0 || s.Seconds < 0 || s.TokensPerSec < 0 {
			t.Fatalf("summary %+v", s)
		}
		// Whatever a log holds, its plot is an SVG document.
		if err := wellFormed(LossCurveSVG(lines)); err != nil {
			t.Fatal(err)
		}
	})
}
