package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/train"
	"github.com/lorafn/lorafn/core/tune"
)

// TestTrainOtherMethods trains each PEFT method end to end on a tiny model
// and checks that the saved adapter is PEFT's, carries a card with its
// serving limits, loads back and lowers the loss of the pattern task.
func TestTrainOtherMethods(t *testing.T) {
	base := tinyModelDir(t)
	data := writePatternData(t, 24, 16)
	cases := []struct {
		method, peftType, serving string
		flags                     []string
	}{
		{"dora", "LORA", "vLLM refuses DoRA", []string{"--r", "4", "--alpha", "8", "--targets", "all-linear", "--lr", "1e-2"}},
		{"ia3", "IA3", "no (IA)³ loader", []string{"--lr", "5e-2"}},
		{"prompt", "PROMPT_TUNING", "vLLM removed prompt adapters", []string{"--num-virtual-tokens", "4", "--lr", "5e-2"}},
		{"prefix", "PREFIX_TUNING", "no prefix-tuning loader", []string{"--num-virtual-tokens", "4", "--prefix-init", "zero", "--lr", "5e-1"}},
	}
	for _, c := range cases {
		t.Run(c.method, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "run")
			args := append([]string{"train", "--method", c.method, "--base", base, "--data", data, "--out", out,
				"--steps", "25", "--batch-size", "4", "--seq-len", "16", "--seed", "3", "--dropout", "0"}, c.flags...)
			stdout, errOut, code := lorafn(t, args...)
			if code != 0 {
				t.Fatalf("train: exit %d: %s\n%s", code, errOut, stdout)
			}
			if !strings.Contains(stdout, "serving: ") || !strings.Contains(stdout, c.serving) {
				t.Errorf("stdout does not flag the serving limits (%q):\n%s", c.serving, stdout)
			}
			card, err := os.ReadFile(filepath.Join(out, "README.md"))
			if err != nil || !strings.Contains(string(card), c.serving) || !strings.Contains(string(card), "method: "+c.method) {
				t.Errorf("card %q, %v", card, err)
			}
			var cfg map[string]any
			raw, err := os.ReadFile(filepath.Join(out, "adapter_config.json"))
			if err != nil {
				t.Fatal(err)
			}
			json.Unmarshal(raw, &cfg)
			if cfg["peft_type"] != c.peftType {
				t.Errorf("peft_type %v, want %s", cfg["peft_type"], c.peftType)
			}
			if c.method == "dora" && cfg["use_dora"] != true {
				t.Errorf("use_dora %v", cfg["use_dora"])
			}

			log, _ := os.ReadFile(filepath.Join(out, logFile))
			lines := strings.Split(strings.TrimSpace(string(log)), "\n")
			var first, last train.LogLine
			json.Unmarshal([]byte(lines[0]), &first)
			json.Unmarshal([]byte(lines[len(lines)-1]), &last)
			t.Logf("%s: training loss %.4f -> %.4f", c.method, first.Loss, last.Loss)
			if len(lines) != 25 || !(last.Loss < first.Loss) {
				t.Errorf("%d log lines, loss %v -> %v", len(lines), first.Loss, last.Loss)
			}

			// The adapter loads on a fresh base and lowers the loss.
			m, err := model.Load(base, nil)
			if err != nil {
				t.Fatal(err)
			}
			b := patternBatch(m.Config)
			before, _ := m.Loss(b)
			if _, err := tune.LoadAdapter(out, m); err != nil {
				t.Fatal(err)
			}
			after, _ := m.Loss(b)
			t.Logf("%s: loss %.4f -> %.4f", c.method, before.Mean(), after.Mean())
			if !(after.Mean() < before.Mean()) {
				t.Errorf("adapter does not lower the loss: %.4f -> %.4f", before.Mean(), after.Mean())
			}

			// merge folds DoRA and (IA)3 into the weights with the same
			// loss, and refuses virtual-token methods.
			merged := filepath.Join(t.TempDir(), "merged")
			_, errOut, code = lorafn(t, "merge", "--base", base, "--adapter", out, "--out", merged)
			if c.method == "prompt" || c.method == "prefix" {
				if code != exitError || !strings.Contains(errOut, "cannot be merged") {
					t.Errorf("merge of %s: exit %d, %s", c.method, code, errOut)
				}
				return
			}
			if code != 0 {
				t.Fatalf("merge: exit %d: %s", code, errOut)
			}
			mm, err := model.Load(merged, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := mm.Loss(b)
			if math.Abs(got.Mean()-after.Mean()) > 1e-5*math.Abs(after.Mean()) {
				t.Errorf("merged model loss %.7f, adapter %.7f", got.Mean(), after.Mean())
			}
		})
	}
}

// patternBatch is two sequences of the pattern task.
func patternBatch(c *model.Config) *model.Batch {
	b := &model.Batch{B: 2, T: 16, IDs: make([]int, 32)}
	for i := range b.IDs {
		b.IDs[i] = (7*(i/16+1) + 3*(i%16)) % 50
	}
	return b
}

// TestCompareTabulatesEveryMethod runs lorafn compare on the tiny model:
// one row per method plus the base, with sizes, losses and costs that make
// sense against each other.
func TestCompareTabulatesEveryMethod(t *testing.T) {
	base := tinyModelDir(t)
	data := writePatternData(t, 16, 12)
	out := filepath.Join(t.TempDir(), "cmp")
	stdout, errOut, code := lorafn(t, "compare", "--base", base, "--data", data, "--val-data", data, "--general", data,
		"--out", out, "--steps", "6", "--batch-size", "4", "--seq-len", "12", "--num-virtual-tokens", "3", "--lr", "prefix=0.5")
	if code != 0 {
		t.Fatalf("compare: exit %d: %s\n%s", code, errOut, stdout)
	}
	raw, err := os.ReadFile(filepath.Join(out, "compare.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []compareRow
	if err := json.Unmarshal(raw, &rows); err != nil {
		t.Fatal(err)
	}
	byMethod := map[string]compareRow{}
	for _, r := range rows {
		byMethod[r.Method] = r
	}
	methods := []string{"full", "last-k", "lora", "dora", "ia3", "prompt", "prefix"}
	if len(rows) != len(methods)+1 {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(methods)+1, raw)
	}
	for _, m := range methods {
		r, ok := byMethod[m]
		if !ok || r.Trainable <= 0 || r.SizeBytes <= 0 || r.ValLoss == nil || r.Forgetting == nil || r.TokensPerSec <= 0 || r.LambdaUSD <= 0 {
			t.Errorf("%s: row %+v", m, r)
		}
	}
	full, lora, dora, prompt := byMethod["full"], byMethod["lora"], byMethod["dora"], byMethod["prompt"]
	if !(lora.Trainable < full.Trainable && dora.Trainable > lora.Trainable && prompt.Trainable == 3*32) {
		t.Errorf("trainable: full %d, lora %d, dora %d, prompt %d", full.Trainable, lora.Trainable, dora.Trainable, prompt.Trainable)
	}
	if *byMethod["base (no tuning)"].Forgetting != 0 || !(*lora.ValLoss < *byMethod["base (no tuning)"].ValLoss) {
		t.Errorf("base forgetting %v, lora val loss %v vs base %v", *byMethod["base (no tuning)"].Forgetting, *lora.ValLoss, *byMethod["base (no tuning)"].ValLoss)
	}
	md, _ := os.ReadFile(filepath.Join(out, "compare.md"))
	t.Log("\n" + string(md))
	if !strings.Contains(string(md), "| dora |") || !strings.Contains(string(md), "vLLM refuses DoRA") || !strings.Contains(stdout, string(md)) {
		t.Errorf("compare.md:\n%s", md)
	}
}
