package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/lorafn/lorafn/core/model"
)

func runGenerate(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("generate", stdout)
	base := fs.String("base", "", "Hugging Face model folder")
	adapter := fs.String("adapter", "", "PEFT LoRA adapter folder to apply to the base model")
	promptIDs := fs.String("prompt-ids", "", "comma-separated prompt token ids, e.g. 1,2,3")
	var opt model.GenerateOptions
	fs.IntVar(&opt.MaxNewTokens, "max-new-tokens", 32, "tokens to generate at most")
	fs.Float64Var(&opt.Temperature, "temperature", 0, "sampling temperature; 0 is greedy decoding")
	fs.IntVar(&opt.TopK, "top-k", 0, "sample among the k most likely tokens (0: all)")
	fs.Float64Var(&opt.TopP, "top-p", 1, "nucleus sampling threshold in (0, 1]")
	fs.Uint64Var(&opt.Seed, "seed", 0, "sampling seed: the same seed gives the same tokens")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := required("base", *base); err != nil {
		return err
	}
	if err := required("prompt-ids", *promptIDs); err != nil {
		return err
	}
	prompt, err := parseIDs(*promptIDs)
	if err != nil {
		return usageError{fmt.Sprintf("--prompt-ids: %v", err)}
	}
	m, err := loadModel(*base, *adapter)
	if err != nil {
		return err
	}
	ids, err := m.Generate(ctx, prompt, opt)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(map[string][]int{"ids": ids})
}

func parseIDs(s string) ([]int, error) {
	var ids []int
	for i, f := range strings.Split(s, ",") {
		id, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("item %d: %q is not an integer", i+1, f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
