#!/usr/bin/python3
"""Write a tiny random Hugging Face model folder (config.json + model.safetensors).

    /usr/bin/python3 make_tiny.py OUT_DIR --arch {llama,qwen2,gpt2} [--tied] [--gqa]
        [--rope-scaling] [--head-dim D] [--gpt2-prefix] [--gpt2-buffers]
        [--dtype F32|F16|BF16] --seed N

Weights are N(0, 0.2), norm weights 1 + N(0, 0.1), biases N(0, 0.1), so that
every part of the network visibly affects the output (a freshly initialised
HF model with zero biases and unit norms would hide bugs in those paths).
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hfmodel import save_safetensors  # noqa: E402

VOCAB = 67
HIDDEN = 32
LAYERS = 2
HEADS = 4
INTER = 48
MAX_POS = 64


def llama_config(args):
    nkv = 2 if args.gqa else HEADS
    head_dim = args.head_dim or HIDDEN // HEADS
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": head_dim,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTER,
        "max_position_embeddings": MAX_POS,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "num_key_value_heads": nkv,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "tie_word_embeddings": bool(args.tied),
        "torch_dtype": "float32",
        "transformers_version": "4.45.2",
        "use_cache": True,
        "vocab_size": VOCAB,
    }
    if args.rope_scaling:
        # Chosen for head_dim 8 / theta 1e4 (wavelengths 6.3, 63, 628, 6283) so that
        # the high-frequency, smoothed and low-frequency branches all occur.
        cfg["rope_scaling"] = {
            "factor": 8.0,
            "high_freq_factor": 4.0,
            "low_freq_factor": 1.0,
            "original_max_position_embeddings": 64,
            "rope_type": "llama3",
        }
    return cfg


def qwen2_config(args):
    nkv = 2 if args.gqa else HEADS
    cfg = {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": 65,
        "eos_token_id": 66,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTER,
        "max_position_embeddings": MAX_POS,
        "max_window_layers": LAYERS,
        "model_type": "qwen2",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "num_key_value_heads": nkv,
        "rms_norm_eps": 1e-06,
        "rope_scaling": None,
        "rope_theta": 1000000.0,
        "sliding_window": MAX_POS,
        "tie_word_embeddings": bool(args.tied),
        "torch_dtype": "float32",
        "transformers_version": "4.45.2",
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": VOCAB,
    }
    if args.head_dim:
        cfg["head_dim"] = args.head_dim  # newer Qwen2 configs may carry it
    return cfg


def gpt2_config(args):
    # Mirrors openai-community/gpt2's config.json (which has no tie_word_embeddings: default true).
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": 0.1,
        "bos_token_id": VOCAB - 1,
        "embd_pdrop": 0.1,
        "eos_token_id": VOCAB - 1,
        "initializer_range": 0.02,
        "layer_norm_epsilon": 1e-05,
        "model_type": "gpt2",
        "n_ctx": MAX_POS,
        "n_embd": HIDDEN,
        "n_head": HEADS,
        "n_inner": None,
        "n_layer": LAYERS,
        "n_positions": MAX_POS,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": 0.1,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "torch_dtype": "float32",
        "transformers_version": "4.45.2",
        "use_cache": True,
        "vocab_size": VOCAB,
    }


class Init:
    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def _t(self, a):
        return torch.from_numpy(np.asarray(a, dtype=np.float32))

    def matrix(self, *shape):
        return self._t(self.rng.normal(0.0, 0.2, size=shape))

    def norm(self, n):
        return self._t(1.0 + self.rng.normal(0.0, 0.1, size=n))

    def bias(self, n):
        return self._t(self.rng.normal(0.0, 0.1, size=n))


def llama_weights(cfg, init):
    H, V, I = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    nq, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = cfg.get("head_dim") or H // nq
    qkv_bias = cfg.get("attention_bias", False) or cfg["architectures"][0] == "Qwen2ForCausalLM"
    w = {"model.embed_tokens.weight": init.matrix(V, H)}
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        w[p + "input_layernorm.weight"] = init.norm(H)
        w[p + "post_attention_layernorm.weight"] = init.norm(H)
        for proj, out in (("q_proj", nq * d), ("k_proj", nkv * d), ("v_proj", nkv * d)):
            w[p + "self_attn.%s.weight" % proj] = init.matrix(out, H)
            if qkv_bias:
                w[p + "self_attn.%s.bias" % proj] = init.bias(out)
        w[p + "self_attn.o_proj.weight"] = init.matrix(H, nq * d)
        w[p + "mlp.gate_proj.weight"] = init.matrix(I, H)
        w[p + "mlp.up_proj.weight"] = init.matrix(I, H)
        w[p + "mlp.down_proj.weight"] = init.matrix(H, I)
    w["model.norm.weight"] = init.norm(H)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = init.matrix(V, H)
    return w


def gpt2_weights(cfg, init, prefix, buffers):
    H, V, P = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    inner = cfg["n_inner"] or 4 * H
    w = {prefix + "wte.weight": init.matrix(V, H), prefix + "wpe.weight": init.matrix(P, H)}
    for i in range(cfg["n_layer"]):
        p = "%sh.%d." % (prefix, i)
        for ln in ("ln_1", "ln_2"):
            w[p + ln + ".weight"] = init.norm(H)
            w[p + ln + ".bias"] = init.bias(H)
        # Conv1D layout: [in, out]
        for name, (din, dout) in (
            ("attn.c_attn", (H, 3 * H)),
            ("attn.c_proj", (H, H)),
            ("mlp.c_fc", (H, inner)),
            ("mlp.c_proj", (inner, H)),
        ):
            w[p + name + ".weight"] = init.matrix(din, dout)
            w[p + name + ".bias"] = init.bias(dout)
        if buffers:
            # Old GPT-2 checkpoints carry these non-parameter buffers.
            w[p + "attn.bias"] = torch.ones(P, P).tril()[None, None]
            w[p + "attn.masked_bias"] = torch.tensor(-1e4)
    w[prefix + "ln_f.weight"] = init.norm(H)
    w[prefix + "ln_f.bias"] = init.bias(H)
    return w


def make(out_dir, arch, seed, tied=False, gqa=False, rope_scaling=False, head_dim=None,
         gpt2_prefix=False, gpt2_buffers=False, dtype="F32"):
    args = argparse.Namespace(tied=tied, gqa=gqa, rope_scaling=rope_scaling, head_dim=head_dim)
    init = Init(seed)
    if arch == "llama":
        cfg = llama_config(args)
        w = llama_weights(cfg, init)
    elif arch == "qwen2":
        cfg = qwen2_config(args)
        w = llama_weights(cfg, init)
    elif arch == "gpt2":
        if gqa or rope_scaling or head_dim:
            raise SystemExit("--gqa/--rope-scaling/--head-dim do not apply to gpt2")
        cfg = gpt2_config(args)
        w = gpt2_weights(cfg, init, "transformer." if gpt2_prefix else "", gpt2_buffers)
    else:
        raise SystemExit("unknown arch %r" % arch)
    cfg["torch_dtype"] = {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    save_safetensors(os.path.join(out_dir, "model.safetensors"), w, dtype=dtype)
    return cfg, w


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--arch", required=True, choices=["llama", "qwen2", "gpt2"])
    ap.add_argument("--tied", action="store_true", help="tie_word_embeddings (llama/qwen2; gpt2 is always tied)")
    ap.add_argument("--gqa", action="store_true", help="2 KV heads instead of 4")
    ap.add_argument("--rope-scaling", action="store_true", help="llama3 rope_scaling")
    ap.add_argument("--head-dim", type=int, default=None, help="explicit head_dim (default hidden/heads = 8)")
    ap.add_argument("--gpt2-prefix", action="store_true", help="store GPT-2 names with 'transformer.' prefix")
    ap.add_argument("--gpt2-buffers", action="store_true", help="also store attn.bias / attn.masked_bias buffers")
    ap.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"])
    ap.add_argument("--seed", type=int, required=True)
    a = ap.parse_args()
    make(a.out_dir, a.arch, a.seed, a.tied, a.gqa, a.rope_scaling, a.head_dim, a.gpt2_prefix, a.gpt2_buffers, a.dtype)


if __name__ == "__main__":
    main()
