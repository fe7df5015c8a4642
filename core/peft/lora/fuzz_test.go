package lora

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/lorafn/lorafn/core/model"
)

// FuzzLoad feeds arbitrary adapter_config.json text beside valid weights:
// Load either fails with an error or yields a model that still runs.
func FuzzLoad(f *testing.F) {
	m := newModel(f, "llama")
	a, err := Apply(m, Config{R: 2, Alpha: 4, Init: "true", UseDoRA: true}, 1)
	if err != nil {
		f.Fatal(err)
	}
	dir := f.TempDir()
	if err := a.Save(dir); err != nil {
		f.Fatal(err)
	}
	valid, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		f.Fatal(err)
	}
	weights, err := os.ReadFile(filepath.Join(dir, WeightsFile))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte(`{"peft_type": null}`))
	f.Add([]byte(`{"target_modules": 3, "num_virtual_tokens": -1}`))
	f.Fuzz(func(t *testing.T, cfg []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, ConfigFile), cfg, 0o644)
		os.WriteFile(filepath.Join(dir, WeightsFile), weights, 0o644)
		fresh := newModel(t, "llama")
		if _, err := Load(dir, fresh); err != nil {
			return
		}
		if _, err := fresh.Logits(&model.Batch{B: 1, T: 3, IDs: []int{1, 2, 3}}); err != nil {
			t.Fatalf("loaded adapter breaks the model: %v", err)
		}
	})
}
