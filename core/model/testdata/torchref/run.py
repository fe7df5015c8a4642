#!/usr/bin/python3
"""Reference forward + backward for one batch of a HF causal LM.

    /usr/bin/python3 run.py MODEL_DIR CASE.json OUT.json [--float64]

CASE.json:
  {"input_ids": [[int]],                 # [B, T]
   "attention_mask": [[0/1]],            # optional, 1 = real token, 0 = padding
   "labels": [[int]],                    # optional, -100 = ignored; default:
                                         #   input_ids with padded positions -100
   "trainable": ["hf tensor name", ...]} # optional; default: every parameter

OUT.json:
  {"loss": float,
   "logits": [B*T*V floats, row-major], "logits_shape": [B, T, V],
   "embeds_grad": [B*T*H floats], "embeds_shape": [B, T, H],
   "grads": {name: [floats in the file's layout]}, "grad_shapes": {name: shape},
   "dtype": "float32" | "float64"}

d loss/d embeds is taken at the embedding output (Llama: embed_tokens[ids];
GPT-2: wte[ids] + wpe[pos]). Gradient names are the safetensors tensor names;
a tied head adds its gradient to the embedding tensor and has no entry itself.
Floats are written as the repr of the exact float64 value of each number.
"""

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hfmodel import CausalLM  # noqa: E402


def flat(t):
    # .double() is exact for float32 values, so repr round-trips bit for bit
    return t.detach().to(torch.float64).reshape(-1).tolist()


def run_case(model, case):
    ids = torch.tensor(case["input_ids"], dtype=torch.long)
    if ids.dim() != 2:
        raise ValueError("input_ids must be [B, T]")
    mask = case.get("attention_mask")
    mask = None if mask is None else torch.tensor(mask, dtype=torch.long)
    labels = case.get("labels")
    labels = None if labels is None else torch.tensor(labels, dtype=torch.long)
    for name, t in (("attention_mask", mask), ("labels", labels)):
        if t is not None and t.shape != ids.shape:
            raise ValueError("%s shape %s != input_ids shape %s" % (name, list(t.shape), list(ids.shape)))

    trainable = model.set_trainable(case.get("trainable"))
    loss, logits, embeds = model.loss(ids, mask, labels, inputs_embeds_grad=True)
    loss.backward()

    grads, shapes = {}, {}
    for name in trainable:
        p = model.params[name]
        g = p.grad if p.grad is not None else torch.zeros_like(p)  # unused → zero
        grads[name] = flat(g)
        shapes[name] = list(p.shape)
    return {
        "loss": float(loss.item()),
        "logits": flat(logits),
        "logits_shape": list(logits.shape),
        "embeds_grad": flat(embeds.grad),
        "embeds_shape": list(embeds.shape),
        "grads": grads,
        "grad_shapes": shapes,
        "dtype": "float64" if model.dtype == torch.float64 else "float32",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model_dir")
    ap.add_argument("case")
    ap.add_argument("out")
    ap.add_argument("--float64", action="store_true", help="run the whole model in float64")
    a = ap.parse_args()

    torch.manual_seed(0)  # nothing is random, but keep runs reproducible anyway
    dtype = torch.float64 if a.float64 else torch.float32
    model = CausalLM.from_dir(a.model_dir, dtype=dtype)
    with open(a.case) as f:
        case = json.load(f)
    out = run_case(model, case)
    with open(a.out, "w") as f:
        # allow_nan=False: a NaN/Inf (e.g. no target tokens) fails loudly instead
        # of writing JSON that Go's encoding/json cannot read
        json.dump(out, f, allow_nan=False)


if __name__ == "__main__":
    main()
