package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lorafn/lorafn/core/data"
	"github.com/lorafn/lorafn/core/tokenizer"
)

func runPrep(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("prep", stdout)
	tokPath := fs.String("tokenizer", "", "tokenizer.json, or a model folder holding one (tokenizer_config.json beside it is read too)")
	dataPath := fs.String("data", "", "dataset: JSONL (.jsonl) or CSV with a header (.csv)")
	out := fs.String("out", "", "output folder: train/, validation/ and stats.json")
	chat := fs.String("chat-template", "auto", "chat template: auto (recognise tokenizer_config.json's), none, or one of "+fmt.Sprint(tokenizer.ChatTemplateNames()))
	eos := fs.String("eos", "auto", "EOS token appended to plain-text records: auto (tokenizer_config.json's eos_token), none, or a token")
	var opts data.Options
	fs.IntVar(&opts.MaxLen, "max-len", 0, "maximum tokens per example (0: no limit)")
	overflow := fs.String("overflow", string(data.Truncate), "records over --max-len: truncate or reject")
	fs.Float64Var(&opts.ValFraction, "val-fraction", 0, "fraction of records (by content hash) held out for validation")
	fs.BoolVar(&opts.Pack, "pack", false, "pack examples into sequences of up to --max-len tokens")
	fs.BoolVar(&opts.TrainOnPrompt, "train-on-prompt", false, "train on every token, not only completions and assistant turns")
	fs.Float64Var(&opts.ErrorBudget, "max-reject-fraction", data.DefaultErrorBudget, "fail when more than this fraction of records is rejected")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, r := range [][2]string{{"tokenizer", *tokPath}, {"data", *dataPath}, {"out", *out}} {
		if err := required(r[0], r[1]); err != nil {
			return err
		}
	}
	opts.Overflow = data.Overflow(*overflow)
	if opts.Overflow != data.Truncate && opts.Overflow != data.Reject {
		return usageError{fmt.Sprintf("--overflow %q: want truncate or reject", *overflow)}
	}
	if opts.ErrorBudget == 0 {
		opts.ErrorBudget = -1 // zero tolerance, not the default
	}
	tok, err := loadTokenizer(*tokPath)
	if err != nil {
		return err
	}
	cfg, cfgPath, err := tokenizerConfig(*tokPath)
	if err != nil {
		return err
	}
	if opts.Chat, err = chooseChat(*chat, cfg, cfgPath); err != nil {
		return err
	}
	switch *eos {
	case "auto":
		opts.EOS = cfg.EOSToken
	case "none":
	default:
		opts.EOS = *eos
	}
	src, closer, err := data.OpenFile(*dataPath)
	if err != nil {
		return err
	}
	defer closer.Close()
	stats, err := data.Prepare(ctx, src, tok, *out, opts)
	if stats != nil {
		printPrepSummary(stdout, stats)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// tokenizerConfig reads tokenizer_config.json beside the tokenizer, if
// there is one; a missing file gives an empty config.
func tokenizerConfig(tokPath string) (*tokenizer.Config, string, error) {
	dir := filepath.Dir(tokPath)
	if st, err := os.Stat(tokPath); err == nil && st.IsDir() {
		dir = tokPath
	}
	path := filepath.Join(dir, "tokenizer_config.json")
	cfg, err := tokenizer.LoadConfig(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &tokenizer.Config{}, "", nil
	}
	return cfg, path, err
}

func chooseChat(name string, cfg *tokenizer.Config, cfgPath string) (*tokenizer.ChatTemplate, error) {
	switch name {
	case "none":
		return nil, nil
	case "auto":
		if cfg.ChatTemplate == "" {
			return nil, nil
		}
		c, err := cfg.Chat("")
		if err != nil {
			return nil, fmt.Errorf("%s: %w (or --chat-template none)", cfgPath, err)
		}
		return c, nil
	}
	c, err := cfg.Chat(name)
	if err != nil {
		return nil, usageError{fmt.Sprintf("--chat-template: %v", err)}
	}
	return c, nil
}

func printPrepSummary(w io.Writer, s *data.Stats) {
	fmt.Fprintf(w, "records: %d read, %d accepted, %d rejected, %d truncated\n", s.Records, s.Accepted, s.Rejected, s.Truncated)
	fmt.Fprintf(w, "train: %d examples in %d sequences, %d tokens (%d trained)\n", s.Train.Examples, s.Train.Sequences, s.Train.Tokens, s.Train.Targets)
	fmt.Fprintf(w, "validation: %d examples in %d sequences, %d tokens (%d trained)\n", s.Validation.Examples, s.Validation.Sequences, s.Validation.Tokens, s.Validation.Targets)
	for i, r := range s.Rejections {
		if i == 10 {
			fmt.Fprintf(w, "... %d more rejections in stats.json\n", s.Rejected-10)
			break
		}
		fmt.Fprintf(w, "rejected %s\n", r.Detail)
	}
}
