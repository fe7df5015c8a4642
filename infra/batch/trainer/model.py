"""The Llama family (Llama, Mistral, Qwen2) and GPT-2 in plain torch,
computing what lorafn's core/model computes: RMSNorm in float32, rotate-half
RoPE with Llama-3 scaling and float32 angles as core/model/rope.go, grouped
query attention, SwiGLU, tied heads, GPT-2's Conv1D, gelu_new and LayerNorm.
LoRA layers hook into the linear layers (see lora.py)."""

import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

from . import rng, safetensors

LLAMA_ARCHS = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM")
GPT2_ARCH = "GPT2LMHeadModel"


class Config:
    """The config.json fields that fix the arithmetic, with lorafn's defaults
    and its refusals (core/model/config.go)."""

    def __init__(self, raw, name="config.json"):
        def fail(field, why):
            raise ValueError("%s: field %r = %r: %s" % (name, field, raw.get(field), why))

        archs = raw.get("architectures") or []
        if len(archs) != 1 or archs[0] not in LLAMA_ARCHS + (GPT2_ARCH,):
            fail("architectures", "want exactly one of %s" % ", ".join(LLAMA_ARCHS + (GPT2_ARCH,)))
        self.arch = archs[0]
        self.gpt2 = self.arch == GPT2_ARCH
        g = lambda k, d: d if raw.get(k) is None else raw[k]
        if self.gpt2:
            self.vocab, self.hidden = g("vocab_size", 50257), g("n_embd", 768)
            self.layers, self.heads = g("n_layer", 12), g("n_head", 12)
            self.kv_heads, self.head_dim = self.heads, self.hidden // self.heads
            self.inter = g("n_inner", 4 * self.hidden)
            self.max_pos, self.eps = g("n_positions", 1024), g("layer_norm_epsilon", 1e-5)
            self.tied, self.qkv_bias, self.o_bias, self.mlp_bias = True, True, True, True
            if g("activation_function", "gelu_new") not in ("gelu_new", "gelu_pytorch_tanh"):
                fail("activation_function", 'only "gelu_new" is supported')
            if not g("scale_attn_weights", True) or g("scale_attn_by_inverse_layer_idx", False):
                fail("scale_attn_weights", "only the standard attention scaling is supported")
            self.inv_freq = None
            return
        self.vocab, self.hidden = g("vocab_size", 32000), g("hidden_size", 4096)
        self.inter, self.layers = g("intermediate_size", 11008), g("num_hidden_layers", 32)
        self.heads = g("num_attention_heads", 32)
        self.kv_heads = g("num_key_value_heads", self.heads)
        self.head_dim = g("head_dim", self.hidden // self.heads)
        self.max_pos, self.eps = g("max_position_embeddings", 2048), g("rms_norm_eps", 1e-6)
        self.tied = g("tie_word_embeddings", False)
        self.qkv_bias = g("attention_bias", False)
        self.o_bias, self.mlp_bias = self.qkv_bias, g("mlp_bias", False)
        if self.arch == "Qwen2ForCausalLM":
            self.qkv_bias, self.o_bias = True, False
        if g("hidden_act", "silu") != "silu":
            fail("hidden_act", 'only "silu" is supported for the Llama family')
        use_sw = g("use_sliding_window", self.arch == "MistralForCausalLM")
        if use_sw and raw.get("sliding_window") is not None and raw["sliding_window"] < self.max_pos:
            fail("sliding_window", "sliding-window attention is not supported")
        if self.heads % self.kv_heads:
            fail("num_key_value_heads", "must divide num_attention_heads")
        theta = float(g("rope_theta", 10000.0))
        rope = raw.get("rope_scaling") or raw.get("rope_parameters") or {}
        theta = float(rope.get("rope_theta", theta))
        kind = rope.get("rope_type") or rope.get("type") or "default"
        if kind not in ("default", "llama3"):
            fail("rope_scaling", 'only "default" and "llama3" are supported')
        self.inv_freq = rope_freqs(self.head_dim, theta, rope if kind == "llama3" else None)


def rope_freqs(d, theta, scaling):
    """Inverse frequencies in float32 arithmetic, as core/model/rope.go."""
    f32 = np.float32
    inv = np.empty(d // 2, dtype=np.float32)
    for i in range(d // 2):
        exp = f32(2 * i) / f32(d)
        inv[i] = f32(1) / f32(math.pow(theta, float(exp)))
    if scaling:
        factor = f32(scaling["factor"])
        low, high = f32(scaling["low_freq_factor"]), f32(scaling["high_freq_factor"])
        orig = f32(scaling["original_max_position_embeddings"])
        low_wl, high_wl = orig / low, orig / high
        for i, f in enumerate(inv.copy()):
            wl = f32(2 * math.pi) / f
            if wl > low_wl:
                inv[i] = f / factor
            elif wl < high_wl:
                pass
            else:
                smooth = (orig / wl - low) / f32(float(scaling["high_freq_factor"]) - float(scaling["low_freq_factor"]))
                inv[i] = (f32(1) - smooth) * f / factor + smooth * f
    return inv


def rope_table(inv, T):
    """cos and sin [T, d/2]: float32 angles, cos/sin in float64, as rope.go."""
    pos = np.arange(T, dtype=np.float32)[:, None]
    ang = (pos * inv[None, :]).astype(np.float64)
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


def load_weights(model_dir):
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(single):
        return safetensors.read(single)[0]
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if not os.path.exists(index):
        raise FileNotFoundError("%s: neither model.safetensors nor model.safetensors.index.json" % model_dir)
    with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    out = {}
    for shard in sorted(set(weight_map.values())):
        tensors, _ = safetensors.read(os.path.join(model_dir, shard))
        out.update({k: v for k, v in tensors.items() if weight_map.get(k) == shard})
    return out


class Linear:
    """One projection: W [out, in] (Conv1D stores [in, out]), optional bias,
    and the LoRA layer attached to it, if any."""

    def __init__(self, name, w, b, conv1d, slot):
        self.name, self.w, self.b, self.conv1d, self.slot = name, w, b, conv1d, slot
        self.lora = None
        self.inp = w.shape[0] if conv1d else w.shape[1]
        self.out = w.shape[1] if conv1d else w.shape[0]

    def __call__(self, x, layer, noise):
        y = x @ self.w if self.conv1d else x @ self.w.t()
        if self.b is not None:
            y = y + self.b
        if self.lora is not None:
            y = y + self.lora(x, None if noise is None else rng.layer_seed(noise, layer, self.slot))
        return y


class Block:
    pass


class Model:
    """A frozen base model on a device. blocks[i].linears lists the layer's
    projections in lorafn's order (q, k, v, qkv, o, gate, up, down)."""

    def __init__(self, model_dir, device="cpu"):
        with open(os.path.join(model_dir, "config.json")) as f:
            raw = json.load(f)
        self.cfg = c = Config(raw, os.path.join(model_dir, "config.json"))
        self.device = torch.device(device)
        w = load_weights(model_dir)
        if c.gpt2 and "transformer.wte.weight" in w:
            w = {k[len("transformer."):] if k.startswith("transformer.") else k: v for k, v in w.items()}
        self._w = w

        def take(name, shape):
            if name not in w:
                raise KeyError("%s: missing tensor %s" % (model_dir, name))
            t = w.pop(name)
            if list(t.shape) != list(shape):
                raise ValueError("%s: tensor %s has shape %s, want %s" % (model_dir, name, list(t.shape), list(shape)))
            return t.to(self.device)

        def lin(name, inp, out, bias, conv1d, slot):
            shape = [inp, out] if conv1d else [out, inp]
            b = take(name + ".bias", [out]) if bias else None
            return Linear(name, take(name + ".weight", shape), b, conv1d, slot)

        H, I, d = c.hidden, c.inter, c.head_dim
        qd, kvd = c.heads * d, c.kv_heads * d
        self.blocks = []
        S = rng.SLOT
        if c.gpt2:
            self.embed = take("wte.weight", [c.vocab, H])
            self.positions = take("wpe.weight", [c.max_pos, H])
            for i in range(c.layers):
                p, b = "h.%d." % i, Block()
                b.n1 = (take(p + "ln_1.weight", [H]), take(p + "ln_1.bias", [H]))
                b.n2 = (take(p + "ln_2.weight", [H]), take(p + "ln_2.bias", [H]))
                b.qkv = lin(p + "attn.c_attn", H, 3 * H, True, True, S["qkv"])
                b.o = lin(p + "attn.c_proj", H, H, True, True, S["o"])
                b.up = lin(p + "mlp.c_fc", H, I, True, True, S["up"])
                b.down = lin(p + "mlp.c_proj", I, H, True, True, S["down"])
                b.linears = [b.qkv, b.o, b.up, b.down]
                self.blocks.append(b)
            self.final = (take("ln_f.weight", [H]), take("ln_f.bias", [H]))
            self.head = self.embed
            w.pop("lm_head.weight", None)
        else:
            self.embed = take("model.embed_tokens.weight", [c.vocab, H])
            self.positions = None
            for i in range(c.layers):
                p, b = "model.layers.%d." % i, Block()
                b.n1 = (take(p + "input_layernorm.weight", [H]), None)
                b.n2 = (take(p + "post_attention_layernorm.weight", [H]), None)
                b.q = lin(p + "self_attn.q_proj", H, qd, c.qkv_bias, False, S["q"])
                b.k = lin(p + "self_attn.k_proj", H, kvd, c.qkv_bias, False, S["k"])
                b.v = lin(p + "self_attn.v_proj", H, kvd, c.qkv_bias, False, S["v"])
                b.o = lin(p + "self_attn.o_proj", qd, H, c.o_bias, False, S["o"])
                b.gate = lin(p + "mlp.gate_proj", H, I, c.mlp_bias, False, S["gate"])
                b.up = lin(p + "mlp.up_proj", H, I, c.mlp_bias, False, S["up"])
                b.down = lin(p + "mlp.down_proj", I, H, c.mlp_bias, False, S["down"])
                b.linears = [b.q, b.k, b.v, b.o, b.gate, b.up, b.down]
                self.blocks.append(b)
            self.final = (take("model.norm.weight", [H]), None)
            if c.tied:
                self.head = self.embed
                w.pop("lm_head.weight", None)
            else:
                self.head = take("lm_head.weight", [c.vocab, H])
        extra = [k for k in w if not k.endswith(("rotary_emb.inv_freq", ".attn.bias", ".attn.masked_bias"))]
        if extra:
            raise ValueError("%s: unexpected tensors %s" % (model_dir, sorted(extra)[:5]))
        del self._w

    def linears(self):
        return [l for b in self.blocks for l in b.linears]

    def module_path(self, lin):
        """PEFT's module path: the Hugging Face in-memory name."""
        return "transformer." + lin.name if self.cfg.gpt2 else lin.name

    def _norm(self, x, wb):
        w, b = wb
        xf = x.float()
        if self.cfg.gpt2:
            return F.layer_norm(xf, (xf.shape[-1],), w, b, self.cfg.eps)
        return xf * torch.rsqrt((xf * xf).mean(-1, keepdim=True) + self.cfg.eps) * w

    def hidden(self, ids, mask, noise=None):
        """Final normed states [B, T, H] of ids [B, T] (mask: real tokens).
        noise, when not None, is the pass's dropout seed."""
        c = self.cfg
        B, T = ids.shape
        x = self.embed[ids]
        if self.positions is not None:
            if T > c.max_pos:
                raise ValueError("sequence length %d exceeds n_positions = %d" % (T, c.max_pos))
            x = x + self.positions[:T][None]
        allowed = torch.ones(T, T, dtype=torch.bool, device=self.device).tril()[None, None] & mask[:, None, None, :]
        rope = None
        if c.inv_freq is not None:
            cos, sin = rope_table(c.inv_freq, T)
            cos = torch.from_numpy(np.concatenate([cos, cos], -1)).to(self.device)
            sin = torch.from_numpy(np.concatenate([sin, sin], -1)).to(self.device)
            rope = (cos, sin)
        for li, b in enumerate(self.blocks):
            n1 = self._norm(x, b.n1)
            if c.gpt2:
                q, k, v = b.qkv(n1, li, noise).split(c.hidden, dim=-1)
            else:
                q, k, v = b.q(n1, li, noise), b.k(n1, li, noise), b.v(n1, li, noise)
            att = self._attention(q, k, v, allowed, rope)
            h = x + b.o(att, li, noise)
            n2 = self._norm(h, b.n2)
            if c.gpt2:
                u = b.up(n2, li, noise)
                a = 0.5 * u * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (u + 0.044715 * u * u * u)))
            else:
                a = F.silu(b.gate(n2, li, noise)) * b.up(n2, li, noise)
            x = h + b.down(a, li, noise)
        return self._norm(x, self.final)

    def _attention(self, q, k, v, allowed, rope):
        """Causal attention over the real keys (allowed [B, 1, T, T])."""
        c = self.cfg
        B, T, _ = q.shape
        d = c.head_dim
        q = q.view(B, T, c.heads, d).transpose(1, 2)
        k = k.view(B, T, c.kv_heads, d).transpose(1, 2)
        v = v.view(B, T, c.kv_heads, d).transpose(1, 2)
        if rope is not None:
            cos, sin = rope
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
        g = c.heads // c.kv_heads
        if g > 1:
            k = k.repeat_interleave(g, dim=1)
            v = v.repeat_interleave(g, dim=1)
        if q.is_cuda and hasattr(F, "scaled_dot_product_attention"):
            # torch 2's fused kernels never hold the [T, T] scores of every
            # layer, which long sequences on a GPU need. They want one
            # dtype, and under autocast RoPE's float32 tables promote q, k.
            o = F.scaled_dot_product_attention(q.to(v.dtype), k.to(v.dtype), v, attn_mask=allowed)
        else:
            s = (q @ k.transpose(-1, -2)) / math.sqrt(d)
            s = s.masked_fill(~allowed, float("-inf"))
            o = torch.softmax(s.float(), dim=-1).to(q.dtype) @ v
        return o.transpose(1, 2).reshape(B, T, c.heads * d)

    def loss(self, ids, mask, labels, noise=None):
        """Summed cross-entropy (a float32 tensor) over the target tokens,
        and their number: position t predicts labels[t+1]."""
        hn = self.hidden(ids, mask, noise)
        tgt = torch.full_like(labels, -100)
        tgt[:, :-1] = labels[:, 1:]
        rows = (tgt != -100).reshape(-1)
        x = hn.reshape(-1, hn.shape[-1])[rows]
        logits = (x @ self.head.t().to(x.dtype)).float()
        total = F.cross_entropy(logits, tgt.reshape(-1)[rows], reduction="sum")
        return total, int(rows.sum())


def _rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)
