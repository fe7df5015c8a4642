package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lorafn/lorafn/core/tokenizer"
	"github.com/lorafn/lorafn/internal/atomicfile"
)

// runTokenizer dispatches the tokenizer subcommands.
func runTokenizer(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "train" {
		return usageError{"usage: lorafn tokenizer train --vocab-size N --out tokenizer.json FILES..."}
	}
	return runTokenizerTrain(ctx, args[1:], stdout)
}

func runTokenizerTrain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("tokenizer train", stdout)
	var opts tokenizer.TrainOptions
	fs.IntVar(&opts.VocabSize, "vocab-size", 0, "vocabulary size, special tokens and the 256 byte symbols included")
	fs.IntVar(&opts.MinFrequency, "min-frequency", 2, "merge only pairs seen at least this often")
	special := fs.String("special-tokens", "<|endoftext|>", "comma-separated special tokens, given ids 0, 1, ... (empty: none)")
	out := fs.String("out", "", "tokenizer.json to write")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if err := required("out", *out); err != nil {
		return err
	}
	if opts.VocabSize <= 0 {
		return usageError{"--vocab-size is required"}
	}
	if fs.NArg() == 0 {
		return usageError{"name at least one training text file"}
	}
	if *special != "" {
		opts.SpecialTokens = strings.Split(*special, ",")
	}
	tr, err := tokenizer.NewBPETrainer(opts)
	if err != nil {
		return usageError{err.Error()}
	}
	for _, path := range fs.Args() {
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		tr.Add(string(text))
	}
	data, err := tr.Train(ctx)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(*out, data); err != nil {
		return err
	}
	tok, err := tokenizer.Parse(data)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: %d tokens\n", *out, tok.VocabSize())
	return nil
}
