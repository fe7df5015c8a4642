#!/usr/bin/python3
"""PyTorch reference for a DoRA adapter, written from PEFT's semantics.

    /usr/bin/python3 dora_ref.py MODEL_DIR ADAPTER_DIR CASE.json OUT.json

Reads the PEFT files (adapter_config.json with use_dora true and
adapter_model.safetensors with lora_A, lora_B and lora_magnitude_vector) and
runs the plain-PyTorch oracle (core/model/testdata/torchref/hfmodel.py) with
every adapted layer adding, as PEFT's DoraLinearLayer does without dropout,
    (m / n - 1) * (x W^T) + (m / n) * scaling * B(A(x)),
    n = ||W + scaling * (B A).detach()|| per output row, itself detached.
CASE.json holds input_ids, attention_mask and labels. OUT.json gets the loss,
the logits and the gradients of every adapter tensor, keyed by PEFT key.
"""

import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "model", "testdata", "torchref"))
from hfmodel import CausalLM, load_safetensors  # noqa: E402


def flat(t):
    return t.detach().to(torch.float64).reshape(-1).tolist()


def main():
    model_dir, adapter_dir, case_path, out_path = sys.argv[1:5]
    model = CausalLM.from_dir(model_dir)
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        cfg = json.load(f)
    assert cfg["peft_type"] == "LORA" and cfg["use_dora"] is True, cfg
    r, alpha = cfg["r"], cfg["lora_alpha"]
    scaling = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
    tensors = {k: v.clone().requires_grad_(True) for k, v in load_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors")).items()}
    conv = model.arch == "gpt2"
    modules = sorted({k[len("base_model.model.") :].rsplit(".lora_", 1)[0] for k in tensors})
    for module in modules:
        key = "base_model.model." + module
        A, B, m = tensors[key + ".lora_A.weight"], tensors[key + ".lora_B.weight"], tensors[key + ".lora_magnitude_vector"]
        name = module[len("transformer.") :] if conv else module
        w = model.params[name + ".weight"]
        w_lin = w.t() if conv else w  # [out, in]
        assert list(A.shape) == [r, w_lin.shape[1]] and list(B.shape) == [w_lin.shape[0], r] and list(m.shape) == [w_lin.shape[0]], module

        def hook(x, A=A, B=B, m=m, w_lin=w_lin):
            norm = torch.linalg.norm(w_lin + scaling * (B @ A).detach(), dim=1).detach()
            f = m / norm
            return (f - 1) * torch.matmul(x, w_lin.t()) + f * scaling * torch.matmul(torch.matmul(x, A.t()), B.t())

        model.linear_hooks[name] = hook

    with open(case_path) as f:
        case = json.load(f)
    model.set_trainable([])
    loss, logits, _ = model.loss(case["input_ids"], case.get("attention_mask"), case.get("labels"), inputs_embeds_grad=False)
    loss.backward()
    out = {"loss": loss.item(), "logits": flat(logits), "grads": {k: flat(p.grad) for k, p in tensors.items()}}
    with open(out_path, "w") as f:
        json.dump(out, f, allow_nan=False)


if __name__ == "__main__":
    main()
