"""One job on a run: restore checkpoints/LATEST, train to the end (or a step
budget), write checkpoints/step-N/ (state file last) and only then move
LATEST, keep status.json and the training log, and write the PEFT adapter
to result/ when the run is done — the S3 layout of lorafn's functions/runs."""

import datetime
import json
import os
import tempfile
import time

from . import data, lora, store as stores
from .model import Model
from .train import STATE_FILE, Trainer, lora_groups, training_config


def _json(store, key):
    body, etag = store.get(key)
    if body is None:
        return None, None
    try:
        return json.loads(body), etag
    except ValueError as e:
        raise ValueError("%s: %s" % (key, e)) from None


def open_run(store, run_id, device, bf16, cache):
    """The run's model, adapter and trainer, restored from LATEST if any.
    Returns (trainer, adapter, latest etag)."""
    runs = "runs/%s/" % run_id
    manifest, _ = _json(store, runs + "manifest.json")
    if manifest is None:
        raise FileNotFoundError("%smanifest.json: no such run" % runs)
    cfg = manifest["config"]
    method = cfg["method"]
    if method.get("method") != "lora":
        raise ValueError("%smanifest.json: method.method = %r: the GPU trainer runs lora only" % (runs, method.get("method")))
    if method.get("init_adapter"):
        raise ValueError("%smanifest.json: method.init_adapter is not supported by the GPU trainer" % runs)
    tcfg = training_config(cfg["training"])
    base = stores.download(store, cfg["base_model"].rstrip("/") + "/", os.path.join(cache, "model"))
    prep = runs + "prep/"
    train_set = data.read_shards(stores.download(store, prep + "train/", os.path.join(cache, "train")))
    val_set = []
    if store.list(prep + "validation/"):
        val_set = data.read_shards(stores.download(store, prep + "validation/", os.path.join(cache, "validation")))
    latest, etag = store.get(runs + "checkpoints/LATEST")
    model = Model(base, device)
    adapter = lora.Adapter(model, method["lora"], tcfg["seed"], draw=latest is None)
    groups = lora_groups(adapter, float(method.get("loraplus_lr_ratio") or 0))
    tr = Trainer(model, groups, train_set, val_set, tcfg, bf16=bf16)
    if latest is not None:
        name = latest.decode().strip()
        key = runs + "checkpoints/%s/" % name
        folder = stores.download(store, key, os.path.join(cache, "restore"))
        try:
            tr.load(folder)
        except ValueError as e:
            if store.local_folder(key) is None:  # name the object, not the download
                raise ValueError("%s (%s)" % (str(e).replace(folder, key.rstrip("/")), key)) from None
            raise
    return tr, adapter, etag


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def train_run(store, run_id, device="cpu", bf16=False, max_steps=0, checkpoint_steps=0,
              checkpoint_seconds=600.0, cache=None, log=print, should_stop=lambda: False):
    """Trains run_id; returns the trainer. max_steps bounds this job's steps
    (0: to the end); a checkpoint is written every checkpoint_steps steps
    (0: off) or checkpoint_seconds of training, and when the job stops:
    at the end, after max_steps, or after the step during which
    should_stop() became true (Batch's SIGTERM before a spot reclaim)."""
    runs = "runs/%s/" % run_id
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        tr, adapter, etag = open_run(store, run_id, device, bf16, tmp)
        status, _ = _json(store, runs + "status.json")
        status = status or {}
        start = tr.state["step"]
        log("run %s: step %d of %d on %s%s" % (run_id, start, tr.total, device, " (bf16)" if tr.bf16 else ""))
        lines, last_ckpt, job_start, seg_start = [], time.time(), time.time(), start
        steps = 0
        while not tr.done() and not (max_steps > 0 and steps >= max_steps) and not should_stop():
            t0 = time.time()
            l = tr.step()
            steps += 1
            now = time.time()
            l["tokens_per_s"], l["elapsed_s"] = l["tokens"] / max(now - t0, 1e-9), now - job_start
            lines.append(l)
            log(json.dumps(l))
            due = (checkpoint_steps > 0 and steps % checkpoint_steps == 0) or now - last_ckpt >= checkpoint_seconds
            if due and not tr.done() and not (max_steps > 0 and steps >= max_steps) and not should_stop():
                etag = _checkpoint(store, runs, tr, etag, status, lines, seg_start, job_start)
                seg_start, lines, last_ckpt = tr.state["step"], [], time.time()
        if lines:
            etag = _checkpoint(store, runs, tr, etag, status, lines, seg_start, job_start)
        if tr.done():
            for name, body in adapter.files().items():
                stores.put_once(store, runs + "result/" + name, body)
            log("run %s: done at step %d; adapter in %sresult/" % (run_id, tr.state["step"], runs))
        status.update(run_id=run_id, step=tr.state["step"], total_steps=tr.total, done=tr.done(),
                      tokens=tr.state["tokens"], updated_at=_now())
        store.put(runs + "status.json", (json.dumps(status, indent=2) + "\n").encode())
        return tr


def _checkpoint(store, runs, tr, etag, status, lines, seg_start, job_start):
    """Writes checkpoints/step-N/ (state file last), the log part, then moves
    LATEST; returns LATEST's new etag."""
    t0 = time.time()
    step = tr.state["step"]
    files = tr.save()
    folder = runs + "checkpoints/step-%d/" % step
    for name in sorted(files, key=lambda n: n == STATE_FILE):
        stores.put_once(store, folder + name, files[name])
    part = "".join(json.dumps(l) + "\n" for l in lines).encode()
    store.put(runs + "train_log/part-%09d.jsonl" % seg_start, part)
    try:
        store.put(runs + "checkpoints/LATEST", ("step-%d\n" % step).encode(), if_none_match=etag is None, if_match=etag)
    except stores.PreconditionFailed:
        raise RuntimeError("%scheckpoints/LATEST was moved by another job meanwhile" % runs) from None
    _, etag = store.get(runs + "checkpoints/LATEST")
    last = lines[-1]
    status["loss"] = last["loss"]
    if "val_loss" in last:
        status["val_loss"] = last["val_loss"]
    status["chunks"] = status.get("chunks", 0) + 1
    status["checkpoint_seconds"] = time.time() - t0
    status["train_seconds"] = status.get("train_seconds", 0.0) + (time.time() - job_start)
    return etag
