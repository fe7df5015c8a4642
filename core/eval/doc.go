// Package eval measures a fine-tuned model against its base model and
// writes the result as a report.
//
// Everything here is a deterministic function of its inputs: examples are
// visited in index order, batches are cut at fixed boundaries, generation is
// greedy, and ties are broken by a documented order. Losses are natural-log
// cross-entropies averaged over target tokens, as Hugging Face reports them;
// perplexity is exp(mean loss).
//
// The package works on prepared examples (token ids and labels in Hugging
// Face's unshifted convention, IgnoreIndex on tokens without loss) and needs
// no tokenizer:
//
//   - Loss and perplexity of a model over a dataset (Loss).
//   - Task metrics (Tasks): an example's prompt is its ids before the first
//     target token and its answer the target tokens. When the answers take
//     few distinct values (IsClassification states the rule) the task is
//     scored by rank classification (Classify: accuracy, macro-F1, confusion
//     matrix, majority baseline); otherwise by exact match of a greedy
//     generation (ExactMatch).
//   - Forgetting (perplexity change of the tuned model on general text) and
//     an overfitting signal (training-sample loss against validation loss).
//   - A Report holding both models' metrics, the training summary read from
//     train_log.jsonl and a cost estimate, rendered as JSON, Markdown and a
//     loss-curve SVG.
//
// Comparing a base model with its adapter is the caller's loop: Measure the
// model with the adapter detached, then attached, on the same Sets (the
// training sample drawn once with Sample), and give both Metrics to
// NewReport. The package never touches files except through WriteFiles.
//
// Task metrics read unpacked examples: a packed sequence holds several
// answers and is skipped (and counted) like any example whose targets are
// not one final run.
package eval
