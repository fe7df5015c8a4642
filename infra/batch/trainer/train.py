"""The training loop of lorafn's core/train in torch: the data order,
micro-batches collated with right padding, the loss scaled by 1/(target
tokens of the step), torch's clip_grad_norm_ with the Go code's float64
sums, AdamW with every float32 rounding of torch's single-tensor AdamW,
Hugging Face's schedules, evaluation and early stopping, and checkpoints in
lorafn's format (trainer_state.json, params.safetensors,
optimizer.safetensors) that the Go trainer loads and writes."""

import contextlib
import json
import math
import os

import numpy as np
import torch

from . import data, jsonfmt, rng, safetensors

FORMAT = "lorafn-trainer/1"
STATE_FILE, PARAMS_FILE, OPTIMIZER_FILE = "trainer_state.json", "params.safetensors", "optimizer.safetensors"

# train.Config's JSON fields in the Go struct's order.
CONFIG_FIELDS = (
    "learning_rate", "lr_scheduler_type", "warmup_steps", "weight_decay", "adam_beta1", "adam_beta2",
    "adam_epsilon", "max_grad_norm", "per_device_train_batch_size", "gradient_accumulation_steps",
    "max_seq_length", "max_steps", "num_train_epochs", "seed", "shuffle", "adapter_dropout",
    "eval_steps", "early_stopping_patience", "early_stopping_threshold",
)
FLOAT_FIELDS = {"learning_rate", "weight_decay", "adam_beta1", "adam_beta2", "adam_epsilon", "max_grad_norm",
                "num_train_epochs", "early_stopping_threshold"}
SCHEDULES = ("constant", "constant_with_warmup", "linear", "cosine")


def training_config(raw):
    """The run's training object, checked and in train.Config's order."""
    missing = [k for k in CONFIG_FIELDS if k not in raw]
    unknown = [k for k in raw if k not in CONFIG_FIELDS]
    if missing or unknown:
        raise ValueError("training config: missing fields %s, unknown fields %s" % (missing, unknown))
    c = {k: (float(raw[k]) if k in FLOAT_FIELDS else raw[k]) for k in CONFIG_FIELDS}
    if c["lr_scheduler_type"] not in SCHEDULES:
        raise ValueError("training config: lr_scheduler_type %r: want one of %s" % (c["lr_scheduler_type"], SCHEDULES))
    if c["per_device_train_batch_size"] <= 0 or c["gradient_accumulation_steps"] <= 0 or c["max_seq_length"] < 2:
        raise ValueError("training config: batch size, accumulation steps and max_seq_length must be positive")
    return c


def total_steps(cfg, n):
    if cfg["max_steps"] > 0:
        return cfg["max_steps"]
    return int(math.ceil(cfg["num_train_epochs"] * n / (cfg["per_device_train_batch_size"] * cfg["gradient_accumulation_steps"])))


def schedule_factor(name, warmup, total, i):
    """Hugging Face's LambdaLR factor of optimizer step i (core/train/schedule.go)."""
    if name == "constant":
        return 1.0
    if i < warmup:
        return float(i) / float(max(1, warmup))
    if name == "linear":
        return max(0.0, float(total - i) / float(max(1, total - warmup)))
    if name == "cosine":
        progress = float(i - warmup) / float(max(1, total - warmup))
        return max(0.0, 0.5 * (1 + math.cos(math.pi * 0.5 * 2 * progress)))
    return 1.0


class Group:
    def __init__(self, name, params, lr_scale, decay):
        self.name, self.params, self.lr_scale, self.decay = name, params, lr_scale, decay


def lora_groups(adapter, loraplus_ratio):
    """core/tune's groups: decayed matrices, undecayed vectors, and with
    LoRA+ the B matrices at lr·ratio."""
    decay, no_decay, fast = [], [], []
    for name, t in adapter.params():
        if loraplus_ratio > 0 and name.endswith(".lora_B.weight"):
            fast.append((name, t))
        elif t.dim() >= 2:
            decay.append((name, t))
        else:
            no_decay.append((name, t))
    groups = [Group("decay", decay, 1.0, True), Group("no_decay", no_decay, 1.0, False),
              Group("lora_B", fast, float(loraplus_ratio) if loraplus_ratio > 0 else 1.0, True)]
    return [g for g in groups if g.params]


def _f32(x, device):
    return torch.tensor(np.float32(x), dtype=torch.float32, device=device)


class Order:
    """The data order of core/train/doc.go: an endless stream of epoch
    permutations; optimizer step s takes stream positions [s·G·B, (s+1)·G·B)
    in G micro-batches of B examples."""

    def __init__(self, train_set, cfg):
        self.train, self.cfg = train_set, cfg
        self._epoch, self._perm = -1, None

    def example(self, g):
        n = len(self.train)
        if g // n != self._epoch:
            self._epoch = g // n
            self._perm = rng.permutation(n, self.cfg["seed"], self._epoch, self.cfg["shuffle"])
        return self.train[self._perm[g % n]]

    def step_batches(self, s):
        """The collated micro-batches of optimizer step s and their target tokens."""
        B, G = self.cfg["per_device_train_batch_size"], self.cfg["gradient_accumulation_steps"]
        out, tokens = [], 0
        for j in range(G):
            b, n = data.collate([self.example((s * G + j) * B + r) for r in range(B)], self.cfg["max_seq_length"])
            out.append(b)
            tokens += n
        return out, tokens


class Trainer:
    def __init__(self, model, groups, train_set, val_set, cfg, bf16=False):
        self.model, self.groups, self.cfg = model, groups, cfg
        self.train, self.val = train_set, val_set or []
        if not self.train:
            raise ValueError("train: the training set is empty")
        self.device = model.device
        self.bf16 = bf16 and self.device.type == "cuda"
        for name, ds in (("training", self.train), ("validation", self.val)):
            for i, ex in enumerate(ds):
                data.check_example(name, i, ex, model.cfg.vocab, cfg["max_seq_length"])
        self.params = [p for g in groups for p in g.params]
        for _, t in self.params:
            t.requires_grad_(True)
        self.total = total_steps(cfg, len(self.train))
        self.moments = {name: (torch.zeros_like(t), torch.zeros_like(t)) for name, t in self.params}
        self.state = {"step": 0, "tokens": 0, "evals": 0, "best_val_loss": 0.0, "bad_evals": 0, "early_stopped": False}
        self.order = Order(self.train, cfg)

    def done(self):
        return self.state["step"] >= self.total or self.state["early_stopped"]

    def _tensors(self, batch):
        ids, mask, labels = batch
        d = self.device
        return torch.from_numpy(ids).to(d), torch.from_numpy(mask).to(d), torch.from_numpy(labels).to(d)

    def _autocast(self):
        if self.bf16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def step(self):
        """One optimizer step; returns its log (as core/train's StepLog)."""
        if self.done():
            raise RuntimeError("train: the run is already done")
        s = self.state["step"]
        batches, tokens = self.order.step_batches(s)
        for _, t in self.params:
            t.grad = None
        scale = float(np.float32(1 / float(tokens)))
        total = 0.0
        for j, b in enumerate(batches):
            noise = rng.dropout_seed(self.cfg["seed"], s, j) if self.cfg["adapter_dropout"] else None
            with self._autocast():
                loss, _ = self.model.loss(*self._tensors(b), noise=noise)
            (loss * scale).backward()
            total += float(loss.detach().double())
        norm = self._clip()
        if not math.isfinite(norm):
            raise FloatingPointError("train: step %d: gradient norm is %r (loss %r); lower the learning rate" % (s, norm, total / tokens))
        factor = schedule_factor(self.cfg["lr_scheduler_type"], self.cfg["warmup_steps"], self.total, s)
        with torch.no_grad():
            for g in self.groups:
                self._adamw(g, self.cfg["learning_rate"] * g.lr_scale * factor, s + 1)
        self.state["step"] += 1
        self.state["tokens"] += tokens
        log = {"step": self.state["step"], "loss": total / tokens, "lr": self.cfg["learning_rate"] * factor,
               "grad_norm": norm, "tokens": tokens}
        if self.val and self._eval_due():
            v, _ = self.evaluate(self.val)
            log["val_loss"] = v
            self._observe(v)
        return log

    def _clip(self):
        """clip_grad_norm_ as core/train/clip.go: per-tensor norms from
        float64 sums kept in float32, their norm, then the float32 scale."""
        grads = [t.grad if t.grad is not None else torch.zeros_like(t) for _, t in self.params]
        sums = torch.stack([g.double().pow(2).sum() for g in grads]).tolist()  # one device sync
        total = 0.0
        for s in sums:
            n = float(np.float32(math.sqrt(s)))
            total += n * n
        norm = np.float32(math.sqrt(total))
        max_norm = self.cfg["max_grad_norm"]
        if max_norm > 0:
            coef = np.float32(max_norm) / (norm + np.float32(1e-6))
            if coef < 1:
                c = _f32(coef, self.device)
                for g in grads:
                    g.mul_(c)
        for (_, t), g in zip(self.params, grads):
            t.grad = g
        return float(norm)

    def _adamw(self, g, lr, t):
        """torch.optim.AdamW's single-tensor update with core/train/adamw.go's
        float32 scalars; each tensor operation rounds to float32 on its own."""
        c, d = self.cfg, self.device
        decay = _f32(1 - lr * c["weight_decay"], d) if g.decay else None
        b1, b2 = _f32(c["adam_beta1"], d), _f32(c["adam_beta2"], d)
        omb1, omb2 = _f32(1 - c["adam_beta1"], d), _f32(1 - c["adam_beta2"], d)
        bc1 = 1 - math.pow(c["adam_beta1"], t)
        bc2 = 1 - math.pow(c["adam_beta2"], t)
        neg_step = _f32(-lr / bc1, d)
        bc2_sqrt = _f32(math.sqrt(bc2), d)
        eps = _f32(c["adam_epsilon"], d)
        for name, w in g.params:
            m, v = self.moments[name]
            grad = w.grad
            if decay is not None:
                w.mul_(decay)
            m.copy_(m * b1 + omb1 * grad)
            v.copy_(v * b2 + (omb2 * grad) * grad)
            denom = torch.sqrt(v) / bc2_sqrt + eps
            w.copy_(w + neg_step * (m / denom))

    def _eval_due(self):
        n, e = self.state["step"], self.cfg["eval_steps"]
        return n == self.total or (e > 0 and n % e == 0)

    def _observe(self, v):
        """Hugging Face's EarlyStoppingCallback, as core/train."""
        st, c = self.state, self.cfg
        if st["evals"] == 0 or (v < st["best_val_loss"] and st["best_val_loss"] - v > c["early_stopping_threshold"]):
            st["best_val_loss"], st["bad_evals"] = v, 0
        else:
            st["bad_evals"] += 1
        st["evals"] += 1
        p = c["early_stopping_patience"]
        if p > 0 and st["bad_evals"] >= p:
            st["early_stopped"] = True

    def evaluate(self, ds):
        """Mean loss per target token over ds in batches of the batch size."""
        B, total, tokens = self.cfg["per_device_train_batch_size"], 0.0, 0
        with torch.no_grad():
            for i in range(0, len(ds), B):
                b, _ = data.collate(ds[i : i + B], self.cfg["max_seq_length"])
                with self._autocast():
                    loss, n = self.model.loss(*self._tensors(b))
                total += float(loss.double())
                tokens += n
        return (total / tokens if tokens else float("nan")), tokens

    # -- checkpoints ---------------------------------------------------------

    def identity(self):
        groups = [{"name": g.name, "lr_scale": g.lr_scale, "decay": g.decay,
                   "params": [{"name": n, "shape": list(t.shape)} for n, t in g.params]} for g in self.groups]
        return {"config": dict(self.cfg), "total_steps": self.total, "train_examples": len(self.train),
                "val_examples": len(self.val), "groups": groups}

    def save(self):
        """{file name: bytes} of the checkpoint, as train.Trainer.Save writes it."""
        meta = {"format": "pt", "step": str(self.state["step"])}
        params = [(n, t) for n, t in self.params]
        moments = []
        for n, _ in self.params:
            m, v = self.moments[n]
            moments += [(n + ".exp_avg", m), (n + ".exp_avg_sq", v)]
        st = dict(self.state)
        st["best_val_loss"] = float(st["best_val_loss"])
        state = {"format": FORMAT, "state": st, "identity": self.identity()}
        return {
            PARAMS_FILE: safetensors.encode(params, meta),
            OPTIMIZER_FILE: safetensors.encode(moments, meta),
            STATE_FILE: (jsonfmt.dumps(state) + "\n").encode("utf-8"),
        }

    def load(self, folder):
        """Restores a checkpoint of this same run (written by either trainer)."""
        path = os.path.join(folder, STATE_FILE)
        with open(path) as f:
            sf = json.load(f)
        if sf.get("format") != FORMAT:
            raise ValueError("%s: format %r, want %r" % (path, sf.get("format"), FORMAT))
        saved, run = sf["identity"], self.identity()
        fields = [("total_steps", saved.get("total_steps"), run["total_steps"]),
                  ("train_examples", saved.get("train_examples"), run["train_examples"]),
                  ("val_examples", saved.get("val_examples"), run["val_examples"]),
                  ("groups", saved.get("groups"), run["groups"])]
        fields += [(k, saved.get("config", {}).get(k), run["config"][k]) for k in sorted(run["config"])]
        for name, a, b in fields:
            if jsonfmt.dumps(_norm_json(a)) != jsonfmt.dumps(_norm_json(b)):
                raise ValueError("%s: checkpoint of another run: %s is %s there, %s here" % (path, name, a, b))
        step = str(sf["state"]["step"])
        want = {n: t for n, t in self.params}
        self._read_into(os.path.join(folder, PARAMS_FILE), step, want)
        mom = {}
        for n, _ in self.params:
            mom[n + ".exp_avg"], mom[n + ".exp_avg_sq"] = self.moments[n]
        self._read_into(os.path.join(folder, OPTIMIZER_FILE), step, mom)
        st = sf["state"]
        self.state = {k: st[k] for k in ("step", "tokens", "evals", "best_val_loss", "bad_evals", "early_stopped")}

    @staticmethod
    def _read_into(path, step, want):
        tensors, meta = safetensors.read(path)
        if meta.get("step") != step:
            raise ValueError("%s: written at step %r, but the state is at step %s" % (path, meta.get("step"), step))
        if set(tensors) != set(want):
            raise ValueError("%s: tensors %s, want %s" % (path, sorted(set(tensors) ^ set(want))[:4], "the run's"))
        with torch.no_grad():
            for n, dst in want.items():
                src = tensors[n]
                if src.shape != dst.shape:
                    raise ValueError("%s: tensor %s has shape %s, want %s" % (path, n, list(src.shape), list(dst.shape)))
                dst.copy_(src)


def _norm_json(v):
    """Numbers compared by value, as Go compares re-marshalled values."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, dict):
        return {k: _norm_json(x) for k, x in v.items()}
    return [_norm_json(x) for x in v]
