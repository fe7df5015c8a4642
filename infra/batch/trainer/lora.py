"""LoRA as lorafn's core/peft/lora: y += scaling·(dropout(x)·Aᵀ)·Bᵀ with A
[r, in], B [out, r], rsLoRA scaling, a new adapter's A drawn exactly as the
Go code draws it, the counter-based dropout masks, and PEFT's files."""

import math
import re

import numpy as np
import torch

from . import jsonfmt, rng, safetensors

KEY_PREFIX = "base_model.model."


class Layer:
    def __init__(self, module, lin, r, scaling, dropout, device):
        self.module, self.base = module, lin
        self.a = torch.zeros(r, lin.inp, dtype=torch.float32, device=device)
        self.b = torch.zeros(lin.out, r, dtype=torch.float32, device=device)
        self.a_name = KEY_PREFIX + module + ".lora_A.weight"
        self.b_name = KEY_PREFIX + module + ".lora_B.weight"
        self.scaling = float(np.float32(scaling))
        self.p = np.float32(dropout)

    def __call__(self, x, seed):
        if seed is not None and self.p > 0:
            keep = rng.keep_mask(seed, x.numel(), self.p, x.device).view(x.shape)
            x = x * keep * float(np.float32(1) / (np.float32(1) - self.p))
        a, b = self.a.to(x.dtype), self.b.to(x.dtype)
        return ((x @ a.t()) @ b.t()) * self.scaling


def _matches(targets, path):
    if isinstance(targets, str):
        if targets == "all-linear":
            return True
        return re.fullmatch("(?:%s)" % targets, path) is not None
    return any(path == n or path.endswith("." + n) for n in targets)


def target_json(targets):
    """target_modules as Go's Targets.MarshalJSON writes it."""
    if isinstance(targets, str):
        return targets
    return sorted(set(targets))


class Adapter:
    """LoRA layers on a model, in model order."""

    def __init__(self, model, cfg, seed, draw=True):
        """cfg is the run's method.lora object; a new adapter's A is drawn
        from seed as lora.Apply does (unless draw is false: a checkpoint
        will fill it), B is zero."""
        self.cfg = dict(cfg)
        r = int(cfg["r"])
        alpha = float(cfg["lora_alpha"])
        if r <= 0 or not alpha > 0:
            raise ValueError("method.lora: r = %r and lora_alpha = %r must be positive" % (r, alpha))
        scaling = alpha / math.sqrt(r) if cfg.get("use_rslora") else alpha / r
        targets = cfg.get("target_modules")
        if not targets:
            targets = ["c_attn"] if model.cfg.gpt2 else ["q_proj", "v_proj"]
        self.layers = []
        for lin in model.linears():
            path = model.module_path(lin)
            if _matches(targets, path):
                self.layers.append(Layer(path, lin, r, scaling, float(cfg.get("lora_dropout", 0)), model.device))
        if not self.layers:
            raise ValueError("method.lora.target_modules %s match no layer of %s" % (target_json(targets), model.cfg.arch))
        if targets == "all-linear":
            targets = sorted({l.module.rsplit(".", 1)[-1] for l in self.layers})
        self.cfg["target_modules"] = targets
        self.fan_in_fan_out = model.cfg.gpt2
        pcg = rng.PCG(seed, 0x6C6F7261)  # "lora"
        for l in self.layers if draw else ():
            bound = 1 / math.sqrt(l.base.inp)
            vals = np.array([(2 * pcg.float64() - 1) * bound for _ in range(l.a.numel())], dtype=np.float64)
            l.a.copy_(torch.from_numpy(vals.astype(np.float32).reshape(l.a.shape)))
        for l in self.layers:
            l.base.lora = l

    def params(self):
        """[(name, tensor)]: A and B of every layer, in model order."""
        return [p for l in self.layers for p in ((l.a_name, l.a), (l.b_name, l.b))]

    def peft_config(self):
        c = self.cfg
        cfg = {
            "peft_type": "LORA",
            "task_type": "CAUSAL_LM",
            "base_model_name_or_path": c.get("base_model_name_or_path") or None,
            "revision": c.get("revision") or None,
            "inference_mode": True,
            "r": int(c["r"]),
            "lora_alpha": float(c["lora_alpha"]),
            "lora_dropout": float(c.get("lora_dropout", 0)),
            "target_modules": target_json(c["target_modules"]),
            "bias": "none",
            "fan_in_fan_out": self.fan_in_fan_out,
            "modules_to_save": None,
            "init_lora_weights": True,
            "layers_to_transform": None,
            "layers_pattern": None,
            "rank_pattern": {},
            "alpha_pattern": {},
            "use_rslora": bool(c.get("use_rslora", False)),
            "use_dora": False,
        }
        return dict(sorted(cfg.items()))

    def files(self):
        """{file name: bytes} of the PEFT adapter, as lora.Adapter.Save."""
        ts = sorted(self.params(), key=lambda p: p[0].encode("utf-8"))
        return {
            "adapter_model.safetensors": safetensors.encode(ts, {"format": "pt"}),
            "adapter_config.json": jsonfmt.dumps(self.peft_config()).encode("utf-8"),
        }
