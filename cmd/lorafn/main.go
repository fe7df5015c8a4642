// Command lorafn fine-tunes and evaluates Hugging Face language models.
//
// Usage:
//
//	lorafn run       [--base DIR --data FILE [--config lorafn.json] [--general FILE]] [--chunk-seconds S] [--endpoint URL]
//	lorafn train     --base DIR --data FILE|DIR --out DIR [--method lora|full|last-k] [...]  (or --resume DIR)
//	lorafn eval      --base DIR [--adapter DIR] --data FILE.jsonl [--json] [--per-record]
//	lorafn generate  --base DIR [--adapter DIR] --prompt-ids 1,2,3 [...]
//	lorafn merge     --base DIR --adapter DIR --out DIR
//	lorafn prep      --tokenizer FILE --data FILE --out DIR [...]
//	lorafn tokenize  --tokenizer FILE [--no-special] [--decode]
//	lorafn tokenizer train --vocab-size N --out tokenizer.json FILES...
//	lorafn init      --config config.json --out DIR [--seed S] [--std X]
//
// Each subcommand is one function returning an error; only main exits.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

// command is one subcommand: it parses its own flags from args.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout io.Writer) error
}

func commands() []command {
	return []command{
		{"eval", "mean loss and perplexity of a model over a JSONL file", runEval},
		{"generate", "continue a prompt with greedy or seeded sampling", runGenerate},
		{"init", "write a randomly initialised model folder from a config.json", runInit},
		{"tokenize", "encode lines of text to token ids (or --decode ids to text)", runTokenize},
		{"prep", "validate, tokenize, split and shard a dataset for training", runPrep},
		{"tokenizer", "tokenizer tools: 'tokenizer train' learns a byte-level BPE tokenizer.json", runTokenizer},
		{"train", "fine-tune a model (LoRA, DoRA, (IA)3, prompt or prefix tuning, full or last-k layers) and write the adapter or model", runTrain},
		{"compare", "train every fine-tuning method on one dataset with one budget and tabulate size, quality, forgetting, speed and cost", runCompare},
		{"run", "run the whole workflow (prep, chunked training, evaluation, promotion) on an embedded S3 server", runRun},
		{"merge", "fold a LoRA adapter into its base model and write a full model folder", runMerge},
		{"batch-train", "train a run to the end from its checkpoints (the AWS Batch CPU job)", runBatchTrain},
		{"local", "serve the local twin of S3, Step Functions, Lambda, EventBridge, Scheduler and Batch on one port", runLocal},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout)
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.As(err, new(usageError)):
			fmt.Fprintf(stderr, "lorafn %s: %v\n", c.name, err)
			return exitUsage
		default:
			fmt.Fprintf(stderr, "lorafn %s: %v\n", c.name, err)
			return exitError
		}
	}
	fmt.Fprintf(stderr, "lorafn: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: lorafn <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'lorafn <command> -h' for a command's flags.")
}

// usageError is a mistake in the command line, reported with exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// newFlags returns a flag set that reports errors instead of exiting and
// prints its help to w.
func newFlags(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("lorafn "+name, flag.ContinueOnError)
	fs.SetOutput(w)
	return fs
}

// parseFlags parses args and turns parse failures into usage errors.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

func required(name, value string) error {
	if value == "" {
		return usageError{fmt.Sprintf("--%s is required", name)}
	}
	return nil
}
