// Package train fine-tunes a model: AdamW with torch.optim.AdamW's
// semantics, Hugging Face's learning-rate schedules, torch's
// clip_grad_norm_, gradient accumulation, a seeded data order, validation
// with early stopping, and checkpoints that resume bit for bit.
//
// A run is a pure function of (model, data, Config, trainable groups).
// Everything random is counter-based: the data order of epoch e is a
// shuffle keyed by (Seed, e), the dropout masks of optimizer step s and
// micro-batch j are keyed by (Seed, s, j). The state to resume is therefore
// only the trainable weights, the AdamW moments and a few counters (State):
// cutting a run into chunks, retrying a chunk or resuming in another process
// on another number of cores never changes a bit of the result.
//
// The data order, written out so another implementation (lorafn's PyTorch
// trainer) can reproduce it: examples are consumed as one endless stream
// made of epoch permutations. Optimizer step s takes stream positions
// [s·G·B, (s+1)·G·B) for G micro-batches of B examples, micro-batch j the
// positions s·G·B + j·B + [0, B). Stream position g is example perm_e[g mod
// N] of epoch e = g div N, where perm_e is the Fisher–Yates shuffle of
// 0..N-1 that, for i = N-1 down to 1, swaps i with mix64(k_e + i) mod (i+1),
// k_e = mix64(Seed ^ mix64(e+1)), and mix64 is SplitMix64's finaliser.
// With shuffling off, perm_e is the identity.
package train
