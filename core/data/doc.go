// Package data turns fine-tuning datasets into token ids and labels that
// training reads.
//
// The pipeline is: a Reader (JSONL or CSV) yields validated Records, one per
// line; Prepare renders each record to text (a chat template for
// conversations), tokenizes it, marks which tokens carry loss, splits the
// records into train and validation sets by a hash of their content,
// optionally packs examples into fixed-length sequences, and writes shard
// files plus stats.json. OpenShards reads the shards back with O(1) random
// access to example i.
//
// Record formats, one JSON object per line (the format is recognised per
// line by its fields; unknown extra fields are ignored):
//
//	{"text": "..."}                                   plain text, all tokens trained
//	{"prompt": "...", "completion": "..."}            completion trained
//	{"messages": [{"role": "...", "content": "..."}]} assistant turns trained
//	{"instruction": "...", "input": "...", "output": "..."} (alpaca) output trained
//	{"text": "...", "label": "..."}                   label trained as the completion
//	{"input_ids": [...], "labels": [...]}             pre-tokenized; labels optional
//
// Labels follow Hugging Face's causal-LM convention: labels[t] is the token
// at position t (the model shifts), and IgnoreIndex (-100) marks tokens
// that carry no loss. By default only completions carry loss
// (Options.TrainOnPrompt turns that off).
//
// Bad records never stop a run silently: each is rejected with a
// *LineError naming file, line and field, counted in Stats, and Prepare
// fails when more than Options.ErrorBudget of the records are rejected.
package data
