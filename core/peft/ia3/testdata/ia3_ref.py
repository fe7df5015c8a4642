#!/usr/bin/python3
"""PyTorch reference for an (IA)3 adapter, written from PEFT's semantics.

    /usr/bin/python3 ia3_ref.py MODEL_DIR ADAPTER_DIR CASE.json OUT.json

Reads the adapter's PEFT files (adapter_config.json, adapter_model.safetensors)
and runs the plain-PyTorch oracle (core/model/testdata/torchref/hfmodel.py)
with every targeted layer changed as PEFT's IA3 layer does:
  attention layer, ia3_l [out, 1]:    y = base(x) * l
  feed-forward layer, ia3_l [1, in]:  y = base(x * l)
CASE.json holds input_ids, attention_mask and labels ([B][T]). OUT.json gets
the loss, the logits and the gradient of every ia3_l, keyed by PEFT key.
"""

import json
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
    assert cfg["peft_type"] == "IA3", cfg["peft_type"]
    ff = cfg.get("feedforward_modules") or []
    tensors = load_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    conv = model.arch == "gpt2"
    params = {}
    for key, l in tensors.items():
        assert key.startswith("base_model.model.") and key.endswith(".ia3_l"), key
        module = key[len("base_model.model.") : -len(".ia3_l")]
        name = module[len("transformer.") :] if conv else module  # the file's tensor name
        is_ff = any(module == m or module.endswith("." + m) for m in ff)
        w = model.params[name + ".weight"]
        b = model.params.get(name + ".bias")
        l = l.clone().requires_grad_(True)
        params[key] = l

        def base(x, w=w, b=b, bias=True):
            y = torch.matmul(x, w) if conv else torch.matmul(x, w.t())
            return y + b if (bias and b is not None) else y

        if is_ff:
            assert list(l.shape) == [1, w.shape[0] if conv else w.shape[1]], (key, l.shape)
            # base(x*l) - base(x): the oracle adds this to its own base(x)
            hook = lambda x, l=l, base=base: base(x * l.flatten(), bias=False) - base(x, bias=False)
        else:
            assert list(l.shape) == [w.shape[1] if conv else w.shape[0], 1], (key, l.shape)
            hook = lambda x, l=l, base=base: base(x) * (l.flatten() - 1)
        model.linear_hooks[name] = hook

    with open(case_path) as f:
        case = json.load(f)
    model.set_trainable([])
    loss, logits, _ = model.loss(case["input_ids"], case.get("attention_mask"), case.get("labels"), inputs_embeds_grad=False)
    loss.backward()
    out = {"loss": loss.item(), "logits": flat(logits), "grads": {k: flat(p.grad) for k, p in params.items()}}
    with open(out_path, "w") as f:
        json.dump(out, f, allow_nan=False)


if __name__ == "__main__":
    main()
