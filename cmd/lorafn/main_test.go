package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/internal/torchref"
)

const tinyConfig = `{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 50,
	"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
	"num_key_value_heads": 2, "max_position_embeddings": 64, "rms_norm_eps": 1e-6,
	"rope_theta": 10000.0, "tie_word_embeddings": true, "hidden_act": "silu", "eos_token_id": 2}`

// lorafn runs the CLI in-process and returns stdout, stderr and the exit code.
func lorafn(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

// tinyModelDir writes a random model with lorafn init and returns its folder.
func tinyModelDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.in.json")
	if err := os.WriteFile(cfg, []byte(tinyConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "model")
	if _, errOut, code := lorafn(t, "init", "--config", cfg, "--out", model, "--seed", "3", "--std", "0.3"); code != 0 {
		t.Fatalf("init: exit %d: %s", code, errOut)
	}
	return model
}

// TestEvalMatchesPyTorch: lorafn eval's loss over a file equals PyTorch's
// Hugging Face causal-LM loss over the same records within 1e-5.
func TestEvalMatchesPyTorch(t *testing.T) {
	torchref.Python(t)
	model := tinyModelDir(t)
	records := []tokenRecord{
		{InputIDs: []int{1, 5, 9, 13, 17, 21, 25, 29}},
		{InputIDs: []int{3, 4, 5, 6, 7, 8, 9, 10}, Labels: []int{-100, -100, -100, 6, 7, 8, 9, 10}},
		{InputIDs: []int{49, 0, 48, 1, 47, 2, 46, 3}, Labels: []int{49, 0, -100, 1, 47, -100, 46, 3}},
	}
	var lines []string
	var c torchref.Case
	for _, r := range records {
		b, _ := json.Marshal(r)
		lines = append(lines, string(b))
		c.InputIDs = append(c.InputIDs, r.InputIDs)
		labels := r.Labels
		if labels == nil {
			labels = r.InputIDs
		}
		c.Labels = append(c.Labels, labels)
	}
	data := filepath.Join(t.TempDir(), "data.jsonl")
	if err := os.WriteFile(data, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := lorafn(t, "eval", "--base", model, "--data", data, "--json", "--per-record")
	if code != 0 {
		t.Fatalf("eval: exit %d: %s", code, errOut)
	}
	var rep struct {
		Loss       float64 `json:"loss"`
		Perplexity float64 `json:"perplexity"`
		Tokens     int     `json:"tokens"`
		PerRecord  []struct {
			Line int `json:"line"`
		} `json:"per_record"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("eval --json output %q: %v", out, err)
	}
	want := torchref.Run(t, model, c)
	if e := math.Abs(rep.Loss-want.Loss) / want.Loss; e > 1e-5 {
		t.Errorf("eval loss %.9g, PyTorch %.9g: relative error %.2g", rep.Loss, want.Loss, e)
	}
	if rep.Tokens != 7+5+5 {
		t.Errorf("tokens = %d, want 17", rep.Tokens)
	}
	if math.Abs(rep.Perplexity-math.Exp(rep.Loss)) > 1e-9*rep.Perplexity {
		t.Errorf("perplexity %v != exp(loss %v)", rep.Perplexity, rep.Loss)
	}
	if len(rep.PerRecord) != 3 || rep.PerRecord[2].Line != 3 {
		t.Errorf("per-record report %+v", rep.PerRecord)
	}
}

func TestEvalErrorsNameFileAndLine(t *testing.T) {
	model := tinyModelDir(t)
	dir := t.TempDir()
	for _, tc := range []struct{ body, want string }{
		{"{\"input_ids\": [1, 2]}\n{\"input_ids\": [1, \n", "data.jsonl:2"},
		{"{\"input_ids\": [1, 2], \"labels\": [1]}\n", "data.jsonl:1: 1 labels for 2 input_ids"},
		{"{\"input_ids\": [1, 2], \"label\": 3}\n", "data.jsonl:1"},
		{"\n{\"input_ids\": [1, 99]}\n", "line 2"},
		{"{\"input_ids\": []}\n", "data.jsonl:1: input_ids is missing or empty"},
	} {
		data := filepath.Join(dir, "data.jsonl")
		if err := os.WriteFile(data, []byte(tc.body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, errOut, code := lorafn(t, "eval", "--base", model, "--data", data)
		if code != exitError || !strings.Contains(errOut, tc.want) {
			t.Errorf("body %q: exit %d, stderr %q; want exit 1 mentioning %q", tc.body, code, errOut, tc.want)
		}
	}
}

func TestGenerateIsReproducible(t *testing.T) {
	model := tinyModelDir(t)
	args := []string{"generate", "--base", model, "--prompt-ids", "1,2,3", "--max-new-tokens", "6", "--temperature", "0.9", "--top-p", "0.95", "--seed", "7"}
	a, errOut, code := lorafn(t, args...)
	if code != 0 {
		t.Fatalf("generate: exit %d: %s", code, errOut)
	}
	b, _, _ := lorafn(t, args...)
	if a != b {
		t.Fatalf("same seed, different output: %q vs %q", a, b)
	}
	var got struct{ IDs []int }
	if err := json.Unmarshal([]byte(a), &got); err != nil || len(got.IDs) == 0 || len(got.IDs) > 6 {
		t.Fatalf("output %q: %v", a, err)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"eval"}, {"eval", "--base"}, {"generate", "--base", "x", "--prompt-ids", "1,a"}} {
		if _, _, code := lorafn(t, args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d", args, code, exitUsage)
		}
	}
	if _, errOut, code := lorafn(t, "eval", "--base", t.TempDir(), "--data", "x.jsonl"); code != exitError || !strings.Contains(errOut, "config.json") {
		t.Errorf("missing model: exit %d, stderr %q", code, errOut)
	}
}
