// Package torchref runs lorafn's PyTorch reference implementation
// (core/model/testdata/torchref/run.py) from Go tests.
//
// The reference needs Debian's python3-torch, which installs into the
// system interpreter (/usr/bin/python3, or $LORAFN_TORCH_PYTHON). Where torch
// is missing a test is skipped, except under CI (CI set in the environment),
// where it fails: CI installs torch, so a missing torch there is a bug.
package torchref

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Case is the input of run.py.
type Case struct {
	InputIDs      [][]int  `json:"input_ids"`
	AttentionMask [][]int  `json:"attention_mask,omitempty"`
	Labels        [][]int  `json:"labels,omitempty"`
	Trainable     []string `json:"trainable,omitempty"`
}

// Output is what run.py computed, flattened row-major.
type Output struct {
	Loss       float64              `json:"loss"`
	Logits     []float64            `json:"logits"`
	EmbedsGrad []float64            `json:"embeds_grad"`
	Grads      map[string][]float64 `json:"grads"`
}

// Python returns the interpreter that has torch, or skips/fails t.
func Python(t testing.TB) string {
	t.Helper()
	py := os.Getenv("LORAFN_TORCH_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if out, err := exec.Command(py, "-c", "import torch, numpy").CombinedOutput(); err != nil {
		msg := "PyTorch reference unavailable (apt-get install python3-torch python3-numpy): " + string(bytes.TrimSpace(out))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// script returns the path of a file in core/model/testdata/torchref.
func script(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "core", "model", "testdata", "torchref", name)
}

// Run evaluates c on the Hugging Face folder modelDir in PyTorch (float32).
func Run(t testing.TB, modelDir string, c Case) Output {
	t.Helper()
	py := Python(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "case.json"), filepath.Join(dir, "out.json")
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, script("run.py"), modelDir, in, out)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("run.py: %v\n%s", err, msg)
	}
	data, err = os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var o Output
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatalf("run.py output: %v", err)
	}
	return o
}
