package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/peft/lora"
	"github.com/lorafn/lorafn/core/train"
)

// writePatternData writes n records that count up by 3 modulo the
// vocabulary (50) from varied starts: a task LoRA learns in a few steps.
func writePatternData(t *testing.T, n, length int) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < n; i++ {
		ids := make([]string, length)
		for j := range ids {
			ids[j] = fmt.Sprint((7*i + 3*j) % 50)
		}
		fmt.Fprintf(&b, `{"input_ids": [%s]}`+"\n", strings.Join(ids, ", "))
	}
	path := filepath.Join(t.TempDir(), "pattern.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func evalLoss(t *testing.T, args ...string) float64 {
	t.Helper()
	out, errOut, code := lorafn(t, append([]string{"eval", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	var rep evalReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	return rep.Loss
}

var trainFlags = []string{"--r", "8", "--alpha", "16", "--targets", "all-linear", "--lr", "1e-2",
	"--steps", "40", "--batch-size", "4", "--warmup", "3", "--seq-len", "16", "--seed", "5", "--dropout", "0.1"}

func TestTrainLoRALearnsAndEvalUsesAdapter(t *testing.T) {
	base := tinyModelDir(t)
	data := writePatternData(t, 32, 16)
	out := filepath.Join(t.TempDir(), "run")
	stdout, errOut, code := lorafn(t, append([]string{"train", "--base", base, "--data", data, "--val-data", data, "--out", out, "--eval-steps", "8"}, trainFlags...)...)
	if code != 0 {
		t.Fatalf("train: exit %d: %s\n%s", code, errOut, stdout)
	}
	for _, f := range []string{lora.ConfigFile, lora.WeightsFile, logFile, runFile, "checkpoints/LATEST"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	log, _ := os.ReadFile(filepath.Join(out, logFile))
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	if len(lines) != 40 {
		t.Fatalf("train_log.jsonl has %d lines, want 40", len(lines))
	}
	var last train.LogLine
	if err := json.Unmarshal([]byte(lines[39]), &last); err != nil || last.Step != 40 || last.ValLoss == nil || last.TokensPerSec <= 0 {
		t.Fatalf("last log line %s: %+v %v", lines[39], last, err)
	}
	before := evalLoss(t, "--base", base, "--data", data)
	after := evalLoss(t, "--base", base, "--adapter", out, "--data", data)
	t.Logf("loss %.4f -> %.4f with the adapter", before, after)
	if !(after < 0.5*before) || math.Abs(after-*last.ValLoss) > 1e-4 {
		t.Fatalf("loss %.4f -> %.4f (trainer's last validation loss %.4f)", before, after, *last.ValLoss)
	}
}

// cancelOn cancels a context when a line containing marker is written.
type cancelOn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	cancel context.CancelFunc
}

func (c *cancelOn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf.Write(p)
	if strings.Contains(c.buf.String(), c.marker) {
		c.cancel()
	}
	return len(p), nil
}

// TestInterruptedTrainResumesBitIdentically interrupts a run after its
// first checkpoint, resumes it, and compares the adapter bytes with an
// uninterrupted run.
func TestInterruptedTrainResumesBitIdentically(t *testing.T) {
	base := tinyModelDir(t)
	data := writePatternData(t, 20, 12)
	args := func(out string) []string {
		return append([]string{"train", "--base", base, "--data", data, "--out", out, "--save-steps", "5"}, trainFlags...)
	}
	whole := filepath.Join(t.TempDir(), "whole")
	if _, errOut, code := lorafn(t, args(whole)...); code != 0 {
		t.Fatalf("train: %s", errOut)
	}

	cut := filepath.Join(t.TempDir(), "cut")
	ctx, cancel := context.WithCancel(context.Background())
	w := &cancelOn{marker: "checkpoint step-10", cancel: cancel}
	var errOut bytes.Buffer
	if code := run(ctx, args(cut), w, &errOut); code == 0 {
		t.Fatalf("interrupted run exited 0:\n%s", w.buf.String())
	}
	if !strings.Contains(w.buf.String(), "continue with: lorafn train --resume") {
		t.Fatalf("no resume hint in:\n%s", w.buf.String())
	}
	if _, err := os.Stat(filepath.Join(cut, lora.WeightsFile)); err == nil {
		t.Fatal("an interrupted run wrote its final adapter")
	}
	if out, errOut, code := lorafn(t, "train", "--resume", cut); code != 0 {
		t.Fatalf("resume: exit %d: %s\n%s", code, errOut, out)
	}
	for _, f := range []string{lora.WeightsFile, lora.ConfigFile, logFile} {
		a, _ := os.ReadFile(filepath.Join(whole, f))
		b, _ := os.ReadFile(filepath.Join(cut, f))
		if f == logFile { // timings differ; the numbers must not
			a, b = stripTimings(t, a), stripTimings(t, b)
		}
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("%s differs between the uninterrupted and the resumed run", f)
		}
	}
}

func stripTimings(t *testing.T, log []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(bytes.TrimSpace(log), []byte("\n")) {
		var l train.LogLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(l.StepLog)
		out = append(append(out, b...), '\n')
	}
	return out
}

func TestTrainFullAndLastK(t *testing.T) {
	base := tinyModelDir(t)
	data := writePatternData(t, 16, 12)
	for _, method := range []string{"full", "last-k"} {
		out := filepath.Join(t.TempDir(), method)
		if stdout, errOut, code := lorafn(t, "train", "--base", base, "--data", data, "--out", out, "--method", method,
			"--last-k", "1", "--train-norm", "--lr", "3e-3", "--steps", "12", "--batch-size", "4"); code != 0 {
			t.Fatalf("%s: exit %d: %s\n%s", method, code, errOut, stdout)
		}
		before := evalLoss(t, "--base", base, "--data", data)
		after := evalLoss(t, "--base", out, "--data", data)
		if !(after < before) {
			t.Errorf("%s: loss %.4f -> %.4f did not fall", method, before, after)
		}
	}
}

// TestMergeMatchesAdapter: the merged model's logits equal base+adapter's
// within 1e-5.
func TestMergeMatchesAdapter(t *testing.T) {
	base := tinyModelDir(t)
	m, err := model.Load(base, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := lora.DefaultConfig()
	cfg.R, cfg.Alpha, cfg.TargetModules = 4, 8, lora.ParseTargets("all-linear")
	a, err := lora.Apply(m, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range a.Layers {
		for j := range l.B.Data {
			l.B.Data[j] = float32(math.Cos(float64(7*i+j))) * 0.1
		}
	}
	adapter := filepath.Join(t.TempDir(), "adapter")
	if err := a.Save(adapter); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(base, "tokenizer.json"), []byte(`{"version": "1.0"}`), 0o644)
	merged := filepath.Join(t.TempDir(), "merged")
	if out, errOut, code := lorafn(t, "merge", "--base", base, "--adapter", adapter, "--out", merged); code != 0 {
		t.Fatalf("merge: exit %d: %s\n%s", code, errOut, out)
	}
	if _, err := os.Stat(filepath.Join(merged, "tokenizer.json")); err != nil {
		t.Errorf("tokenizer.json not copied: %v", err)
	}
	batch := &model.Batch{B: 2, T: 9, IDs: []int{1, 5, 9, 13, 17, 21, 25, 29, 33, 2, 4, 8, 16, 32, 49, 48, 46, 42}}
	want, err := m.Logits(batch)
	if err != nil {
		t.Fatal(err)
	}
	mm, err := model.Load(merged, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := mm.Logits(batch)
	if err != nil {
		t.Fatal(err)
	}
	var diff, scale float64
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	if diff > 1e-5*scale {
		t.Fatalf("merged logits differ by %g (scale %g)", diff, scale)
	}
	base0, _ := model.Load(base, nil)
	plain, _ := base0.Logits(batch)
	if d := math.Abs(float64(plain[3] - want[3])); d < 1e-4 {
		t.Fatalf("the adapter does not change the logits (%g): the test would not notice a no-op merge", d)
	}
}

func TestTrainUsageErrors(t *testing.T) {
	base := tinyModelDir(t)
	data := writePatternData(t, 4, 8)
	out := t.TempDir()
	os.WriteFile(filepath.Join(out, "keep.txt"), []byte("x"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "--data", data, "--out", out}, exitUsage, "--base"},
		{[]string{"train", "--base", base, "--data", data, "--out", out}, exitError, "not empty"},
		{[]string{"train", "--resume", out, "--lr", "1"}, exitUsage, "--lr cannot be combined"},
		{[]string{"train", "--base", base, "--data", data, "--out", t.TempDir() + "/x", "--schedule", "step"}, exitUsage, "lr_scheduler_type"},
		{[]string{"train", "--base", base, "--data", data, "--out", t.TempDir() + "/y", "--method", "last-k", "--last-k", "9"}, exitError, "last_k"},
	}
	for _, c := range cases {
		_, errOut, code := lorafn(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", c.args, code, errOut, c.code, c.want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(out, "keep.txt")); string(b) != "x" {
		t.Error("a refused run touched the existing output folder")
	}
}

// TestTrainPreparesRawDatasets trains on a text/label JSONL file: the base
// model's tokenizer prepares it, with a validation split held out.
func TestTrainPreparesRawDatasets(t *testing.T) {
	base, data, _ := classificationFixture(t)
	out := filepath.Join(t.TempDir(), "run")
	stdout, errOut, code := lorafn(t, "train", "--base", base, "--data", data, "--out", out, "--val-fraction", "0.25",
		"--steps", "8", "--batch-size", "4", "--seq-len", "32", "--lr", "1e-2", "--targets", "all-linear")
	if code != 0 {
		t.Fatalf("train: exit %d: %s\n%s", code, errOut, stdout)
	}
	if !strings.Contains(stdout, "records: 48 read, 48 accepted") || !strings.Contains(stdout, "best validation loss") {
		t.Fatalf("output:\n%s", stdout)
	}
	if _, err := os.Stat(filepath.Join(out, "prep", "train", "train")); err != nil {
		t.Fatalf("no prepared shards: %v", err)
	}
	// Resuming finds the prepared data and does not prepare again.
	if stdout, errOut, code := lorafn(t, "train", "--resume", out); code != 0 || strings.Contains(stdout, "records:") {
		t.Fatalf("resume: exit %d: %s\n%s", code, errOut, stdout)
	}
}
