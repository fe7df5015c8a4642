#!/usr/bin/python3
"""lorafn vs PyTorch (OpenBLAS) on CPU, side by side in one run.

    /usr/bin/python3 bench/compare.py [--threads 1,2] [--rounds 3] [--openblas DIR]

For each thread count and round, in turn: the measured single-core FMA
peak of each assembly kernel's ISA (BenchmarkPeak), lorafn's sgemm on
the training step's shapes (BenchmarkSgemm: gonum and each assembly
kernel),
PyTorch's (bench/torch_sgemm.py), lorafn's training step
(bench.BenchmarkTrainStep: gonum and Fast backends) and PyTorch's
(bench/torch_step.py). Rounds interleave the contenders so that load from
other processes hits them alike; the table gives medians over rounds and
the ratios lorafn/PyTorch and Fast/gonum, and each shape's best Fast
kernel as a percentage of its ISA's measured peak times the thread count.

PyTorch runs with glibc malloc tuned (MALLOC_MMAP_THRESHOLD_ etc.) and,
when an OpenBLAS directory is found (--openblas, default Debian's
libopenblas0-pthread location), with that libblas.so.3 first on
LD_LIBRARY_PATH, OPENBLAS_NUM_THREADS equal to the thread count and
OPENBLAS_CORETYPE=SkylakeX on AVX-512 machines (Haswell otherwise).
Without OpenBLAS Debian's torch uses the reference BLAS and the
comparison says so.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"


def run(cmd, env=None):
    r = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("%s failed:\n%s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return r.stdout


def torch_env(threads, openblas):
    env = dict(os.environ)
    env.update(MALLOC_MMAP_THRESHOLD_="4294967296", MALLOC_TRIM_THRESHOLD_="4294967296",
               MALLOC_TOP_PAD_="536870912", OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               # Idle OpenMP threads sleep instead of spinning: with OpenBLAS's own
               # threads beside them, spinning made torch's 2-thread step 3x slower
               # than its 1-thread step; passive is torch's best setting here.
               OMP_WAIT_POLICY="PASSIVE")
    if openblas:
        env["LD_LIBRARY_PATH"] = openblas + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        with open("/proc/cpuinfo") as f:
            avx512 = " avx512f " in f.read()
        env["OPENBLAS_CORETYPE"] = "SkylakeX" if avx512 else "Haswell"
    return env


def go_bench(binary, pattern, threads, benchtime, metric):
    """Returns {name: value} for lines 'BenchmarkX/name[-T] … value metric'."""
    out = run([binary, "-test.run", "^$", "-test.bench", pattern, "-test.cpu", str(threads),
               "-test.benchtime", benchtime])
    res = {}
    for line in out.splitlines():
        m = re.match(r"^Benchmark\w+/(\S+?)(-\d+)?\s+\d+\s+.*?([\d.]+) %s" % re.escape(metric), line)
        if m:
            res[m.group(1)] = float(m.group(3))
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--openblas", default="/usr/lib/x86_64-linux-gnu/openblas-pthread")
    ap.add_argument("--skip-gonum-step", action="store_true", help="skip the slow gonum training step")
    a = ap.parse_args()
    openblas = a.openblas if os.path.exists(os.path.join(a.openblas, "libblas.so.3")) else ""
    threads = [int(t) for t in a.threads.split(",")]

    tmp = tempfile.mkdtemp(prefix="lorafn-bench-")
    tensor_bin, bench_bin = os.path.join(tmp, "tensor.test"), os.path.join(tmp, "bench.test")
    run(["go", "test", "-c", "-o", tensor_bin, "./core/tensor"])
    run(["go", "test", "-c", "-o", bench_bin, "./bench"])

    info = run([PY, os.path.join(HERE, "torch_step.py"), "--threads", "1", "--steps", "1", "--warmup", "0"],
               torch_env(1, openblas))
    blas = next((l for l in info.splitlines() if l.startswith("blas:")), "blas: ?")
    print("torch %s" % blas)
    if "openblas" not in blas:
        print("WARNING: PyTorch is not using OpenBLAS; install libopenblas0-pthread or pass --openblas DIR")
    print("cpu: %s" % next((l for l in info.splitlines() if l.startswith("cpu:")), "?"))

    samples = {}  # (threads, what, name) -> [values]

    def add(t, what, d):
        for k, v in d.items():
            samples.setdefault((t, what, k), []).append(v)

    step_pat = "TrainStep/fast$" if a.skip_gonum_step else "TrainStep"
    for rnd in range(a.rounds):
        for t in threads:
            print("round %d, %d thread(s) …" % (rnd + 1, t), file=sys.stderr)
            add(t, "peak", go_bench(tensor_bin, "Peak", 1, "0.2s", "GFLOP/s"))
            add(t, "sgemm", go_bench(tensor_bin, "Sgemm", t, "5x", "GFLOP/s"))
            out = run([PY, os.path.join(HERE, "torch_sgemm.py"), "--threads", str(t)], torch_env(t, openblas))
            add(t, "sgemm", {m.group(1) + "/torch": float(m.group(2))
                             for m in re.finditer(r"^sgemm (\S+) ([\d.]+)$", out, re.M)})
            out = run([bench_bin, "-test.run", "^$", "-test.bench", step_pat, "-test.cpu", str(t),
                       "-test.benchtime", "3x"])
            for m in re.finditer(r"^BenchmarkTrainStep/(\w+)(-\d+)?\s.*?([\d.]+) cpu-ms/op\s+([\d.]+) tokens/s", out, re.M):
                add(t, "step", {m.group(1): float(m.group(4))})
                add(t, "cpu", {m.group(1): float(m.group(3))})
            out = run([PY, os.path.join(HERE, "torch_step.py"), "--threads", str(t), "--steps", "3"],
                      torch_env(t, openblas))
            m = re.search(r"= ([\d.]+) tokens/s \(median\)", out)
            add(t, "step", {"torch": float(m.group(1))})
            m = re.search(r"process CPU time median ([\d.]+) ms/step", out)
            add(t, "cpu", {"torch": float(m.group(1))})

    med = {k: statistics.median(v) for k, v in samples.items()}
    best = {k: max(v) for k, v in samples.items()}
    for t in threads:
        print("\n== %d thread(s), medians of %d rounds ==" % (t, a.rounds))
        shapes = []  # in the order the benchmarks ran
        for k in samples:
            s_ = k[2].split("/")[0]
            if k[0] == t and k[1] == "sgemm" and s_ not in shapes:
                shapes.append(s_)
        backends = sorted({k[2].split("/")[1] for k in med if k[0] == t and k[1] == "sgemm"} - {"torch"})
        peak = {k[2]: v for k, v in med.items() if k[0] == t and k[1] == "peak"}
        print("measured peak GFLOP/s per core: " + ", ".join("%s %.1f" % kv for kv in sorted(peak.items())))
        print("sgemm GFLOP/s    " + " ".join("%12s" % b for b in backends + ["torch"]) +
              "   best-fast/torch              best-fast %peak")
        for s in shapes:
            vals = [med.get((t, "sgemm", s + "/" + b), float("nan")) for b in backends + ["torch"]]
            fast = max((med.get((t, "sgemm", s + "/" + b), 0) for b in backends if b.startswith("fast-")), default=0)
            torch = med.get((t, "sgemm", s + "/torch"), float("nan"))
            bfast = max((best.get((t, "sgemm", s + "/" + b), 0) for b in backends if b.startswith("fast-")), default=0)
            btorch = best.get((t, "sgemm", s + "/torch"), float("nan"))
            fb = max((b for b in backends if b.startswith("fast-")),
                     key=lambda b: med.get((t, "sgemm", s + "/" + b), 0), default="")
            pk = peak.get(fb[len("fast-"):], 0) * t
            pct = "%5.1f%% of %s" % (100 * fast / pk, fb[len("fast-"):]) if pk else "  n/a"
            print("%-16s " % s + " ".join("%12.1f" % v for v in vals) +
                  "   %.2fx (best/best %.2fx)   %s" % (fast / torch, bfast / btorch, pct))
        st = {k[2]: v for k, v in med.items() if k[0] == t and k[1] == "step"}
        print("train step tokens/s: " + ", ".join("%s %.0f (best %.0f)" % (k, v, best[(t, "step", k)])
                                                  for k, v in sorted(st.items())))
        if "fast" in st and "torch" in st:
            print("  Fast/torch = %.2fx" % (st["fast"] / st["torch"]), end="")
        if "fast" in st and "gonum" in st:
            print(", Fast/gonum = %.2fx" % (st["fast"] / st["gonum"]), end="")
        if (t, "step", "fast") in best and (t, "step", "torch") in best:
            print("; best/best Fast/torch = %.2fx" % (best[(t, "step", "fast")] / best[(t, "step", "torch")]), end="")
        print()
        cpu = {k[2]: v for k, v in med.items() if k[0] == t and k[1] == "cpu"}
        if cpu:
            print("train step process CPU ms/step: " + ", ".join("%s %.0f" % kv for kv in sorted(cpu.items())))
            if "fast" in cpu and "torch" in cpu:
                print("  by CPU time, Fast/torch speed = %.2fx" % (cpu["torch"] / cpu["fast"]))


if __name__ == "__main__":
    main()
