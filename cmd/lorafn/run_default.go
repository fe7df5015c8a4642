package main

import "github.com/lorafn/lorafn/examples"

// builtinExample is the run lorafn run does without arguments: the small
// base model lorafn trained from scratch, the spam/ham task with its run
// configuration, and held-out general text for measuring forgetting, all
// embedded in the binary.
func builtinExample() (runSource, error) {
	return runSource{
		fsys: examples.FS, base: "base", data: "spam/train.jsonl", config: "spam/lorafn.json", general: "general/text.jsonl",
		label: "built-in example: spam/ham classification on lorafn's 4M-parameter base model (examples/)",
	}, nil
}
