"""lorafn's GPU trainer: plain PyTorch with exactly the semantics of lorafn's
Go core (core/train, core/peft/lora, core/model), reading and writing the
same prep shards, checkpoints and PEFT adapters, so a run may move between
the Lambda chunks and an AWS Batch GPU job at any checkpoint."""
