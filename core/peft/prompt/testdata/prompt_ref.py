#!/usr/bin/python3
"""PyTorch reference for a prompt-tuning adapter, written from PEFT's
PeftModelForCausalLM.forward.

    /usr/bin/python3 prompt_ref.py MODEL_DIR ADAPTER_DIR CASE.json OUT.json

The input embeddings become concat(prompt_embeddings [P, H], embeddings of
the ids); GPT-2 then adds its position embeddings to all P+T positions
(Llama's RoPE runs over 0..P+T-1); the attention mask gets P leading ones
and the labels P leading -100. CASE.json holds input_ids, attention_mask and
labels. OUT.json gets the loss, the logits of the real tokens and the
gradient of prompt_embeddings.
"""

import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "model", "testdata", "torchref"))
from hfmodel import CausalLM, causal_lm_loss, load_safetensors  # noqa: E402


def flat(t):
    return t.detach().to(torch.float64).reshape(-1).tolist()


def main():
    model_dir, adapter_dir, case_path, out_path = sys.argv[1:5]
    model = CausalLM.from_dir(model_dir)
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        cfg = json.load(f)
    assert cfg["peft_type"] == "PROMPT_TUNING" and cfg["task_type"] == "CAUSAL_LM", cfg
    tensors = load_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    assert list(tensors) == ["prompt_embeddings"], list(tensors)
    prompt = tensors["prompt_embeddings"].requires_grad_(True)
    P = cfg["num_virtual_tokens"] * cfg["num_transformer_submodules"]
    assert list(prompt.shape) == [P, cfg["token_dim"]], prompt.shape

    with open(case_path) as f:
        case = json.load(f)
    ids = torch.tensor(case["input_ids"], dtype=torch.long)
    mask = torch.tensor(case["attention_mask"], dtype=torch.long)
    labels = torch.tensor(case["labels"], dtype=torch.long)
    B, T = ids.shape
    model.set_trainable([])
    if model.arch == "gpt2":
        words = model.params[model.prefix + "wte.weight"][ids]
    else:
        words = model.params["model.embed_tokens.weight"][ids]
    embeds = torch.cat([prompt[None].expand(B, P, -1), words], dim=1)
    if model.arch == "gpt2":
        embeds = embeds + model.params[model.prefix + "wpe.weight"][torch.arange(P + T)][None]
    mask = torch.cat([torch.ones(B, P, dtype=torch.long), mask], dim=1)
    labels = torch.cat([torch.full((B, P), -100, dtype=torch.long), labels], dim=1)
    logits = model.forward_embeds(embeds, mask)
    loss = causal_lm_loss(logits, labels)
    loss.backward()
    out = {"loss": loss.item(), "logits": flat(logits[:, P:]), "grads": {"prompt_embeddings": flat(prompt.grad)}}
    with open(out_path, "w") as f:
        json.dump(out, f, allow_nan=False)


if __name__ == "__main__":
    main()
