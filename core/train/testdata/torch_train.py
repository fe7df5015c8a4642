#!/usr/bin/python3
"""Reference training run in PyTorch for lorafn's trainer tests.

    /usr/bin/python3 torch_train.py MODEL_DIR CASE.json OUT.json

Trains with torch.optim.AdamW, a LambdaLR schedule written from Hugging
Face's get_scheduler formulas, torch.nn.utils.clip_grad_norm_ and gradient
accumulation whose loss is the summed token cross-entropy divided by the
target tokens of the whole optimizer step. The model is the plain-torch
Hugging Face oracle of core/model/testdata/torchref/hfmodel.py; LoRA is
added as PEFT computes it: y += scaling * (x @ A.T) @ B.T (no dropout).

CASE.json:
  {"lora": {"dir": ADAPTER_DIR, "scaling": float} | null,
   "trainable": [tensor names] | null,        # full fine-tuning when no lora
   "no_decay": [tensor names],                # parameters without weight decay
   "lr": float, "betas": [b1, b2], "eps": float, "weight_decay": float,
   "loraplus_ratio": float,                   # 0: off; else lr of lora_B
   "schedule": "linear"|"cosine"|"constant"|"constant_with_warmup",
   "warmup": int, "total": int, "max_grad_norm": float,
   "steps": [[{"input_ids": [[...]], "attention_mask": [[...]], "labels": [[...]]}]]}

OUT.json: {"params": {name: [floats]}, "losses": [...], "grad_norms": [...], "lrs": [...]}
"""

import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "model", "testdata", "torchref"))
from hfmodel import CausalLM, load_safetensors  # noqa: E402


def hf_lambda(name, warmup, total):
    """Hugging Face's schedule multipliers (transformers.optimization)."""
    def warm(step):
        return float(step) / float(max(1, warmup))
    if name == "constant":
        return lambda step: 1.0
    if name == "constant_with_warmup":
        return lambda step: warm(step) if step < warmup else 1.0
    if name == "linear":
        return lambda step: warm(step) if step < warmup else max(
            0.0, float(total - step) / float(max(1, total - warmup)))
    if name == "cosine":
        def f(step):
            if step < warmup:
                return warm(step)
            progress = float(step - warmup) / float(max(1, total - warmup))
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))
        return f
    raise ValueError("unknown schedule " + name)


def summed_loss(logits, labels):
    # Hugging Face shifts: position t predicts labels[t+1].
    v = logits.shape[-1]
    return torch.nn.functional.cross_entropy(
        logits[:, :-1, :].reshape(-1, v), labels[:, 1:].reshape(-1),
        ignore_index=-100, reduction="sum")


def main():
    model_dir, case_path, out_path = sys.argv[1:4]
    with open(case_path) as f:
        case = json.load(f)
    torch.manual_seed(0)
    model = CausalLM.from_dir(model_dir)
    named = {}  # name -> tensor being trained
    if case.get("lora"):
        model.set_trainable([])
        ad = load_safetensors(os.path.join(case["lora"]["dir"], "adapter_model.safetensors"))
        scaling = case["lora"]["scaling"]
        modules = sorted({k[len("base_model.model."):-len(".lora_A.weight")]
                          for k in ad if k.endswith(".lora_A.weight")})
        for mod in modules:
            a_name = "base_model.model." + mod + ".lora_A.weight"
            b_name = "base_model.model." + mod + ".lora_B.weight"
            A = ad[a_name].float().clone().requires_grad_(True)
            B = ad[b_name].float().clone().requires_grad_(True)
            named[a_name], named[b_name] = A, B
            # hfmodel names GPT-2 modules without the "transformer." prefix
            key = mod[len("transformer."):] if mod.startswith("transformer.") else mod
            model.linear_hooks[key] = (lambda A, B: lambda x: scaling * ((x @ A.t()) @ B.t()))(A, B)
    else:
        for name in model.set_trainable(case["trainable"]):
            named[name] = model.params[name]

    no_decay = set(case.get("no_decay") or [])
    ratio = case.get("loraplus_ratio", 0.0)
    groups = {"decay": [], "no_decay": [], "fast": []}
    for name in sorted(named):
        if ratio > 0 and name.endswith(".lora_B.weight"):
            groups["fast"].append(named[name])
        elif name in no_decay:
            groups["no_decay"].append(named[name])
        else:
            groups["decay"].append(named[name])
    lr, wd = case["lr"], case["weight_decay"]
    param_groups = []
    if groups["decay"]:
        param_groups.append({"params": groups["decay"], "lr": lr, "weight_decay": wd})
    if groups["no_decay"]:
        param_groups.append({"params": groups["no_decay"], "lr": lr, "weight_decay": 0.0})
    if groups["fast"]:
        param_groups.append({"params": groups["fast"], "lr": lr * ratio, "weight_decay": wd})
    opt = torch.optim.AdamW(param_groups, lr=lr, betas=tuple(case["betas"]), eps=case["eps"])
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, hf_lambda(case["schedule"], case["warmup"], case["total"]))
    every = [p for g in param_groups for p in g["params"]]

    losses, norms, lrs = [], [], []
    for micro_batches in case["steps"]:
        opt.zero_grad(set_to_none=False)
        batches = []
        tokens = 0
        for mb in micro_batches:
            labels = torch.tensor(mb["labels"], dtype=torch.long)
            tokens += int((labels[:, 1:] != -100).sum())
            batches.append((torch.tensor(mb["input_ids"], dtype=torch.long),
                            torch.tensor(mb["attention_mask"], dtype=torch.long), labels))
        total = 0.0
        for ids, mask, labels in batches:
            logits, _ = model.forward(ids, mask, inputs_embeds_grad=False)
            loss = summed_loss(logits, labels)
            total += float(loss)
            (loss / tokens).backward()
        max_norm = case["max_grad_norm"]
        norm = torch.nn.utils.clip_grad_norm_(every, max_norm if max_norm > 0 else float("inf"))
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        losses.append(total / tokens)
        norms.append(float(norm))

    out = {"params": {n: t.detach().double().reshape(-1).tolist() for n, t in named.items()},
           "losses": losses, "grad_norms": norms, "lrs": lrs}
    with open(out_path, "w") as f:
        json.dump(out, f, allow_nan=False)


if __name__ == "__main__":
    main()
