package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/tokenizer"
	"github.com/lorafn/lorafn/functions/runs"
)

// classificationFixture writes a tiny random base model with a tokenizer
// trained on the task, a text/label dataset and a run configuration.
func classificationFixture(t *testing.T) (base, data, config string) {
	t.Helper()
	dir := t.TempDir()
	var lines []string
	for i := 0; i < 48; i++ {
		key, label := "alpha", "yes"
		if i%2 == 1 {
			key, label = "beta", "no"
		}
		lines = append(lines, fmt.Sprintf(`{"text": "item %d %s", "label": %q}`, i, key, label))
	}
	data = filepath.Join(dir, "task.jsonl")
	if err := os.WriteFile(data, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := tokenizer.NewBPETrainer(tokenizer.TrainOptions{VocabSize: 280, SpecialTokens: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		tr.Add(l)
	}
	tokJSON, err := tr.Train(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Parse(tokJSON)
	if err != nil {
		t.Fatal(err)
	}
	c, err := model.ParseConfig("config.json", []byte(fmt.Sprintf(`{"architectures": ["LlamaForCausalLM"], "vocab_size": %d,
		"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
		"num_key_value_heads": 2, "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
		"tie_word_embeddings": true, "hidden_act": "silu", "eos_token_id": 0}`, tok.VocabSize())))
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(c, nil)
	m.InitRandom(2, 0.1)
	base = filepath.Join(dir, "tiny")
	if err := m.Save(base); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(base, "tokenizer.json"), tokJSON, 0o644)
	os.WriteFile(filepath.Join(base, "tokenizer_config.json"), []byte(`{"eos_token": "<|endoftext|>"}`), 0o644)
	config = filepath.Join(dir, "lorafn.json")
	os.WriteFile(config, []byte(`{"method": {"lora": {"r": 4, "lora_alpha": 8, "target_modules": "all-linear"}},
		"training": {"learning_rate": 0.01, "max_steps": 10, "per_device_train_batch_size": 4, "max_seq_length": 32},
		"data": {"max_len": 32, "val_fraction": 0.25}, "gate": {"min_improvement": 0.05},
		"chunk": {"max_steps": 4, "margin_seconds": 0}}`), 0o644)
	return base, data, config
}

func TestRunWorkflowEndToEnd(t *testing.T) {
	base, data, config := classificationFixture(t)
	out := t.TempDir()
	stdout, errOut, code := lorafn(t, "run", "--base", base, "--data", data, "--config", config, "--out", out)
	if code != 0 {
		t.Fatalf("run: exit %d: %s\n%s", code, errOut, stdout)
	}
	for _, want := range []string{"validate  run ", "prep ", "train     chunk: step 10/10", "evaluate", "promote   passed the quality gate", "3 chunks"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(out, "*", "adapter", "adapter_model.safetensors"))
	reports, _ := filepath.Glob(filepath.Join(out, "*", "report", "report.md"))
	if len(matches) != 1 || len(reports) != 1 {
		t.Fatalf("adapter %v, report %v in %s", matches, reports, out)
	}
	// The fetched adapter applies to the base model with lorafn eval.
	if _, errOut, code := lorafn(t, "eval", "--base", base, "--adapter", filepath.Dir(matches[0]), "--data", writePatternData(t, 2, 8)); code != 0 {
		t.Fatalf("eval with the fetched adapter: %s", errOut)
	}
}

func TestRunReportsBadData(t *testing.T) {
	base, data, config := classificationFixture(t)
	b, _ := os.ReadFile(data)
	lines := strings.Split(string(b), "\n")
	lines[3], lines[7] = `{"text": 5}`, `{oops`
	os.WriteFile(data, []byte(strings.Join(lines, "\n")), 0o644)
	// Two bad records of 48 fit the default 5 % budget: listed, not fatal.
	stdout, errOut, code := lorafn(t, "run", "--base", base, "--data", data, "--config", config, "--out", t.TempDir())
	if code != 0 || !strings.Contains(stdout, "2 records rejected") || !strings.Contains(stdout, "task.jsonl:4:") {
		t.Fatalf("exit %d, stderr %s\nstdout %s", code, errOut, stdout)
	}
	// Four are beyond it: the run fails and names every line.
	lines[11], lines[15] = `[]`, `{"text": ""}`
	os.WriteFile(data, []byte(strings.Join(lines, "\n")), 0o644)
	stdout, errOut, code = lorafn(t, "run", "--base", base, "--data", data, "--config", config, "--out", t.TempDir())
	if code != exitError || !strings.Contains(errOut, "lorafn.DataError") || !strings.Contains(errOut, "task.jsonl:4:") || !strings.Contains(errOut, "task.jsonl:8:") || !strings.Contains(errOut, "task.jsonl:16:") {
		t.Fatalf("exit %d, stderr %s\nstdout %s", code, errOut, stdout)
	}
}

// TestBuiltinExampleIsComplete checks what lorafn run uploads without
// arguments: a loadable base model folder, the dataset, and a run
// configuration the workflow accepts.
func TestBuiltinExampleIsComplete(t *testing.T) {
	src, err := builtinExample()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{src.base + "/config.json", src.base + "/model.safetensors", src.base + "/tokenizer.json", src.data, src.general} {
		if _, err := fs.Stat(src.fsys, name); err != nil {
			t.Errorf("built-in example lacks %s: %v", name, err)
		}
	}
	raw, err := fs.ReadFile(src.fsys, src.config)
	if err != nil {
		t.Fatal(err)
	}
	cfg := runs.DefaultConfig()
	if err := cfg.Merge(src.config, raw); err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("%s: %v", src.config, err)
	}
}
