"""python3 -m trainer --run-id ID --store s3://bucket | DIR [--device cuda|cpu] [--bf16]"""

import argparse
import signal
import sys

import torch

from . import store as stores
from .run import train_run


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m trainer", description="Train a lorafn run on a GPU (or CPU) from its latest checkpoint.")
    ap.add_argument("--run-id", required=True, help="the run's id (runs/<id>/ in the store)")
    ap.add_argument("--store", required=True, help="s3://bucket[/prefix], or a folder laid out like the bucket")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cuda or cpu")
    ap.add_argument("--bf16", action="store_true", help="bfloat16 autocast (CUDA only); float32 otherwise")
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: train to the end)")
    ap.add_argument("--checkpoint-steps", type=int, default=0, help="write a checkpoint every N steps (0: by time only)")
    ap.add_argument("--checkpoint-minutes", type=float, default=10, help="write a checkpoint after this much training time")
    ap.add_argument("--cache", default=None, help="folder for downloads (default: the system's temporary folder)")
    a = ap.parse_args(argv)
    if a.bf16 and not a.device.startswith("cuda"):
        ap.error("--bf16 needs --device cuda")
    # Batch sends SIGTERM before it stops a job (spot reclaim, timeout): the
    # step under way finishes, a checkpoint is written, and the job exits 143
    # so that its retry resumes from LATEST.
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    try:
        tr = train_run(stores.open_store(a.store), a.run_id, device=a.device, bf16=a.bf16, max_steps=a.max_steps,
                       checkpoint_steps=a.checkpoint_steps, checkpoint_seconds=a.checkpoint_minutes * 60,
                       cache=a.cache, should_stop=lambda: bool(stop))
    except (ValueError, KeyError, FileNotFoundError, RuntimeError, FloatingPointError) as e:
        print("trainer: %s" % e, file=sys.stderr)
        return 1
    if stop and not tr.done():
        print("trainer: stopped by SIGTERM at step %d; the checkpoint is in LATEST" % tr.state["step"], file=sys.stderr)
        return 143
    return 0


if __name__ == "__main__":
    sys.exit(main())
