#!/usr/bin/python3
"""PyTorch CPU baseline for one LoRA training step (forward + loss + backward).

    /usr/bin/python3 bench/torch_step.py [--threads N] [--steps S] [--warmup W]

Model: the plain-torch oracle core/model/testdata/torchref/hfmodel.py with a
random Llama config of SmolLM2-135M's layer shape but 4 layers and an 8192
vocabulary (hidden 576, 9 heads / 3 KV heads, head_dim 64, MLP 1536, tied
embeddings, rope_theta 1e5), batch 4 x 256 tokens. Base weights are frozen;
LoRA r=8, alpha=16 on q_proj and v_proj (PEFT init: A ~ U(+-1/sqrt(in)), B = 0).
No optimizer step: the number measures forward + backward only, plus zero_grad.
"""

import argparse
import math
import os
import platform
import re
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "core", "model", "testdata", "torchref"))
from hfmodel import CausalLM  # noqa: E402

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 576,
    "intermediate_size": 1536,
    "num_attention_heads": 9,
    "num_key_value_heads": 3,
    "head_dim": 64,
    "num_hidden_layers": 4,
    "vocab_size": 8192,
    "rms_norm_eps": 1e-5,
    "rope_theta": 100000.0,
    "tie_word_embeddings": True,
    "hidden_act": "silu",
    "max_position_embeddings": 8192,
}
BATCH, SEQ = 4, 256
RANK, ALPHA = 8, 16
TARGETS = ("q_proj", "v_proj")


def random_weights(cfg, gen):
    """Random base weights (values do not matter for timing; std 0.02 keeps them sane)."""
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nq, nkv, d = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]

    def r(*s):
        return torch.randn(*s, generator=gen) * 0.02

    w = {"model.embed_tokens.weight": r(V, H), "model.norm.weight": torch.ones(H)}
    for i in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % i
        w[p + "input_layernorm.weight"] = torch.ones(H)
        w[p + "post_attention_layernorm.weight"] = torch.ones(H)
        w[p + "self_attn.q_proj.weight"] = r(nq * d, H)
        w[p + "self_attn.k_proj.weight"] = r(nkv * d, H)
        w[p + "self_attn.v_proj.weight"] = r(nkv * d, H)
        w[p + "self_attn.o_proj.weight"] = r(H, nq * d)
        w[p + "mlp.gate_proj.weight"] = r(I, H)
        w[p + "mlp.up_proj.weight"] = r(I, H)
        w[p + "mlp.down_proj.weight"] = r(H, I)
    return w


def add_lora(model, gen):
    """Attach LoRA deltas through the model's linear hooks; returns the trainable tensors."""
    scaling = ALPHA / RANK
    params = []
    for i in range(model.n_layers):
        for t in TARGETS:
            name = "model.layers.%d.self_attn.%s" % (i, t)
            out_f, in_f = model.params[name + ".weight"].shape
            bound = 1.0 / math.sqrt(in_f)  # kaiming_uniform(a=sqrt(5)) bound, as PEFT
            A = ((torch.rand(RANK, in_f, generator=gen) * 2 - 1) * bound).requires_grad_(True)
            B = torch.zeros(out_f, RANK, requires_grad=True)

            def delta(x, A=A, B=B):
                return scaling * torch.matmul(torch.matmul(x, A.t()), B.t())

            model.linear_hooks[name] = delta
            params += [A, B]
    return params


def step_gflop(cfg):
    """Matmul FLOPs of one step (2 per multiply-add). Frozen weights get no
    weight gradient, so backward costs one input-gradient matmul per forward one."""
    H, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    nq, nkv, d, L = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["num_hidden_layers"]
    tok = BATCH * SEQ
    dense = L * (H * nq * d + 2 * H * nkv * d + nq * d * H + 3 * H * I) + V * H  # layers + head
    fwd = 2 * tok * dense + L * 2 * (2 * BATCH * nq * SEQ * SEQ * d)  # + QK^T and PV
    lora = L * len(TARGETS) * 2 * tok * RANK * (H + nq * d)  # small; A/B also get weight grads
    return (2 * fwd + 3 * lora) / 1e9


def blas_info():
    cfg = torch.__config__.show()
    m = re.search(r"BLAS_INFO=([^,\s]+)", cfg)
    info = "BLAS_INFO=%s" % (m.group(1) if m else "?")
    # Debian's torch links the system libblas.so.3; report which file that is.
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if re.search(r"lib(open)?blas|mkl|blis", line)})
        info += "; loaded: " + ", ".join(os.path.realpath(l) for l in libs)
    except OSError:
        pass
    return info


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
    except OSError:
        return platform.processor()
    m = re.search(r"^model name\s*:\s*(.*)$", text, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", text, re.M)
    fl = set(flags.group(1).split()) if flags else set()
    simd = [x for x in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile") if x in fl]
    return "%s (%d logical CPUs visible, %s)" % (m.group(1) if m else "?", os.cpu_count() or 0, " ".join(simd))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--show-config", action="store_true", help="print the full torch.__config__.show()")
    a = ap.parse_args()

    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(0)
    model = CausalLM(CONFIG, random_weights(CONFIG, gen), dtype=torch.float32)
    model.set_trainable([])  # base frozen
    lora = add_lora(model, gen)
    ids = torch.randint(0, CONFIG["vocab_size"], (BATCH, SEQ), generator=gen)

    def step():
        for p in lora:  # zero_grad (set_to_none, as torch's default)
            p.grad = None
        loss, _, _ = model.loss(ids, None, None, inputs_embeds_grad=False)
        loss.backward()
        return loss.item()

    print("torch %s, python %s" % (torch.__version__, platform.python_version()))
    print("cpu: %s" % cpu_model())
    print("blas: %s" % blas_info())
    print("threads: torch.get_num_threads() = %d" % torch.get_num_threads())
    if a.show_config:
        print(torch.__config__.show())
    print(torch.__config__.parallel_info())
    n_lora = sum(p.numel() for p in lora)
    print("model: 4 layers SmolLM2 shape, vocab 8192, tied; batch %dx%d; LoRA r=%d on %s (%d params)"
          % (BATCH, SEQ, RANK, "/".join(TARGETS), n_lora))

    print("loadavg before: %s" % loadavg())
    for _ in range(a.warmup):
        step()
    times, cpu = [], []
    for _ in range(a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        loss = step()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    print("loadavg after:  %s" % loadavg())
    tok = BATCH * SEQ
    med, mn = sorted(times)[len(times) // 2], min(times)
    cmed = sorted(cpu)[len(cpu) // 2]
    print("loss %.4f" % loss)
    print("threads=%d steps=%d: wall median %.1f ms/step (min %.1f, mean %.1f) = %.1f tokens/s (median), %.1f tokens/s (best)"
          % (a.threads, a.steps, med * 1e3, mn * 1e3, sum(times) / len(times) * 1e3, tok / med, tok / mn))
    # CPU time summed over threads; on a shared machine it is a steadier measure
    # of the work done than wall time (wall >> cpu/threads means CPU contention).
    print("threads=%d: process CPU time median %.1f ms/step" % (a.threads, cmed * 1e3))
    gf = step_gflop(CONFIG)
    print("~%.1f GFLOP/step (matmuls) -> %.2f GFLOP/s at the median, %.2f at the best step" % (gf, gf / med, gf / mn))


if __name__ == "__main__":
    main()
