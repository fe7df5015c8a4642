#!/usr/bin/python3
"""PyTorch CPU sgemm GFLOP/s on the products of one training step.

    /usr/bin/python3 bench/torch_sgemm.py [--threads N] [--reps R]

The shapes and names are those of BenchmarkSgemm in core/tensor/bench_test.go
(SmolLM2-135M layer shape, batch 4 x 256 = 1024 tokens). op(A) is m x k and
op(B) k x n; a transposed operand is a transposed view of a contiguous
tensor, which torch hands to BLAS as a transpose flag, as lorafn's Gemm
receives it. Prints one line per shape: "sgemm NAME GFLOPS".
"""

import argparse
import time

import torch

SHAPES = [
    ("q_fwd", False, True, 1024, 576, 576),
    ("kv_fwd", False, True, 1024, 192, 576),
    ("up_fwd", False, True, 1024, 1536, 576),
    ("down_fwd", False, True, 1024, 576, 1536),
    ("up_dx", False, False, 1024, 576, 1536),
    ("head_fwd", False, True, 1024, 8192, 576),
    ("head_dx", False, False, 1024, 576, 8192),
    ("attn_qk", False, True, 256, 256, 64),
    ("attn_pv", False, False, 256, 64, 256),
    ("lora_dA", True, False, 8, 576, 1024),
]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    gen = torch.Generator().manual_seed(0)
    for name, ta, tb, m, n, k in SHAPES:
        A = torch.randn(k, m, generator=gen).t() if ta else torch.randn(m, k, generator=gen)
        B = torch.randn(n, k, generator=gen).t() if tb else torch.randn(k, n, generator=gen)
        C = torch.empty(m, n)
        torch.mm(A, B, out=C)  # warm-up
        times = []
        for _ in range(a.reps):
            t0 = time.perf_counter()
            torch.mm(A, B, out=C)
            times.append(time.perf_counter() - t0)
        med = sorted(times)[len(times) // 2]
        print("sgemm %s %.2f" % (name, 2.0 * m * n * k / med / 1e9))


if __name__ == "__main__":
    main()
