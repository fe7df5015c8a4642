package main

import (
	"context"
	"fmt"
	"io"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/tune"
)

func runMerge(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("merge", stdout)
	base := fs.String("base", "", "Hugging Face model folder the adapter was trained on")
	adapter := fs.String("adapter", "", "PEFT LoRA adapter folder")
	out := fs.String("out", "", "folder for the merged model (config.json, model.safetensors, tokenizer files)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"base", *base}, {"adapter", *adapter}, {"out", *out}} {
		if err := required(f.name, f.v); err != nil {
			return err
		}
	}
	m, err := model.Load(*base, nil)
	if err != nil {
		return err
	}
	a, err := tune.LoadAdapter(*adapter, m)
	if err != nil {
		return err
	}
	// LoRA, DoRA and (IA)3 fold into the weights; prompt and prefix
	// tuning add inputs no weight can hold.
	merger, ok := a.(interface{ Merge() })
	if !ok {
		return fmt.Errorf("%s: a %T adapter adds virtual tokens, which cannot be merged into the weights; serve it with PEFT", *adapter, a)
	}
	merger.Merge()
	if err := m.Save(*out); err != nil {
		return err
	}
	if err := tune.CopyTokenizerFiles(*base, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "merged %s into %s\n", *adapter, *out)
	return nil
}

// loadModel loads a base model folder and, when adapter is set, attaches
// that PEFT adapter (LoRA, DoRA, (IA)3, prompt or prefix tuning).
func loadModel(base, adapter string) (*model.Model, error) {
	m, err := model.Load(base, nil)
	if err != nil {
		return nil, err
	}
	if adapter != "" {
		if _, err := tune.LoadAdapter(adapter, m); err != nil {
			return nil, err
		}
	}
	return m, nil
}
