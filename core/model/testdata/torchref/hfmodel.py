"""Plain-PyTorch reference ("oracle") for Hugging Face causal language models.

This is the independent oracle that lorafn's Go model code is checked against.
It is written from /work/shared/reference/hf-models.md, not copied from
transformers, and only uses torch + numpy (no transformers/peft/safetensors).

Supported architectures (chosen from config.json):
  * Llama family: LlamaForCausalLM, Qwen2ForCausalLM (q/k/v bias),
    MistralForCausalLM (only for sequences shorter than its sliding window).
  * GPT-2: GPT2LMHeadModel.

Every parameter is kept under the exact name and layout it has in the
safetensors file (Linear [out,in], GPT-2 Conv1D [in,out]), so gradients can be
reported per file tensor without any renaming or transposing.
"""

import json
import math
import os
import struct
import sys

import numpy as np
import torch

# ---------------------------------------------------------------------------
# safetensors reading / writing (own implementation of the format)
# ---------------------------------------------------------------------------

# Little-endian numpy dtypes for the safetensors dtype strings we can read.
# BF16 is handled separately (numpy has no bfloat16).
_NP_DTYPES = {
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "BOOL": "?",
}


def _decode_tensor(dtype, shape, raw):
    """Decode one tensor's bytes. Floating types become float32 (F64 stays
    float64 so nothing is lost); integer/bool buffers keep their type."""
    count = int(np.prod(shape)) if shape else 1
    if dtype == "BF16":
        # bfloat16 is the top half of a float32: widen to uint32, shift, reinterpret.
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        arr = bits.view(np.float32)
    elif dtype in _NP_DTYPES:
        arr = np.frombuffer(raw, dtype=_NP_DTYPES[dtype])
        if dtype in ("F32", "F16"):
            arr = arr.astype(np.float32)
        elif dtype == "F64":
            arr = arr.astype(np.float64)
    else:
        raise ValueError("unsupported safetensors dtype %r" % dtype)
    if arr.size != count:
        raise ValueError("tensor byte size does not match shape %s (%s)" % (shape, dtype))
    # copy(): frombuffer arrays are read-only views of the file bytes
    return torch.from_numpy(arr.reshape(shape).copy())


def load_safetensors(path):
    """Parse a .safetensors file: u64 LE header length, JSON header, data.
    Returns {name: tensor}; '__metadata__' is ignored."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError("%s: too short for a safetensors file" % path)
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    base = 8 + header_len
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        if not (0 <= start <= end <= len(data) - base):
            raise ValueError("%s: bad data_offsets for %s" % (path, name))
        out[name] = _decode_tensor(info["dtype"], list(info["shape"]), data[base + start : base + end])
    return out


def save_safetensors(path, tensors, dtype="F32", metadata=None):
    """Write {name: tensor} as safetensors with all floats stored as `dtype`
    (F32, F16 or BF16). Used by make_tiny.py and the self-check."""
    header = {"__metadata__": dict(metadata or {"format": "pt"})}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        if dtype == "F32":
            raw = t.to(torch.float32).numpy().astype("<f4").tobytes()
        elif dtype == "F16":
            raw = t.to(torch.float32).numpy().astype("<f2").tobytes()
        elif dtype == "BF16":
            # torch rounds to nearest-even; view the 16 bits as int16 to get bytes.
            raw = t.to(torch.bfloat16).view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raise ValueError("unsupported dtype %r" % dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hdr = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hdr += b" " * ((8 - len(hdr) % 8) % 8)  # the reference writer pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)))
        f.write(hdr)
        for raw in blobs:
            f.write(raw)


def load_checkpoint(model_dir):
    """Load all tensors of a HF folder: model.safetensors, or the sharded form
    model.safetensors.index.json + shards listed in its weight_map."""
    single = os.path.join(model_dir, "model.safetensors")
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(single):
        return load_safetensors(single)
    if not os.path.exists(index):
        raise FileNotFoundError("%s: neither model.safetensors nor model.safetensors.index.json" % model_dir)
    with open(index) as f:
        weight_map = json.load(f)["weight_map"]
    shards = {}
    for shard in sorted(set(weight_map.values())):
        shards[shard] = load_safetensors(os.path.join(model_dir, shard))
    # Resolve each tensor through weight_map (the index is authoritative).
    out = {}
    for name, shard in weight_map.items():
        if name not in shards[shard]:
            raise KeyError("%s listed in weight_map but missing from %s" % (name, shard))
        out[name] = shards[shard][name]
    return out


def load_config(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        return json.load(f)


# ---------------------------------------------------------------------------
# Small math helpers
# ---------------------------------------------------------------------------


def rms_norm(x, weight, eps):
    """Llama RMSNorm: x / sqrt(mean(x^2) + eps) in (at least) fp32, then * weight."""
    dt = x.dtype
    xf = x.to(torch.promote_types(dt, torch.float32))
    var = (xf * xf).mean(dim=-1, keepdim=True)
    xf = xf * torch.rsqrt(var + eps)
    return weight * xf.to(dt)  # HF casts back to the input dtype before the weight


def layer_norm(x, weight, bias, eps):
    """GPT-2 LayerNorm: subtract the mean, divide by sqrt(biased var + eps)."""
    mean = x.mean(dim=-1, keepdim=True)
    xc = x - mean
    var = (xc * xc).mean(dim=-1, keepdim=True)
    return xc * torch.rsqrt(var + eps) * weight + bias


def silu(z):
    return z * torch.sigmoid(z)


def gelu_new(x):
    """NewGELUActivation: tanh approximation of GELU."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def gelu_exact(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


_GPT2_ACTS = {
    "gelu_new": gelu_new,
    "gelu_pytorch_tanh": gelu_new,  # same function, different kernel in HF
    "gelu": gelu_exact,
    "relu": torch.relu,
    "silu": silu,
    "swish": silu,
}


def rotate_half(x):
    """HF RoPE convention: dimension i pairs with i + d/2."""
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def repeat_kv(x, groups):
    """[B, nkv, T, d] -> [B, nkv*groups, T, d]; KV head j serves query heads
    j*groups .. j*groups+groups-1."""
    if groups == 1:
        return x
    b, nkv, t, d = x.shape
    return x[:, :, None, :, :].expand(b, nkv, groups, t, d).reshape(b, nkv * groups, t, d)


def additive_attention_mask(attention_mask, batch, seq, dtype):
    """[B, 1, T, T] additive mask: 0 where query i may attend key j (j <= i and
    key j is not padding), finfo(dtype).min elsewhere, as HF eager attention."""
    allowed = torch.ones(seq, seq, dtype=torch.bool).tril()[None, None].expand(batch, 1, seq, seq)
    if attention_mask is not None:
        allowed = allowed & (attention_mask[:, None, None, :] != 0)
    mask = torch.zeros(batch, 1, seq, seq, dtype=dtype)
    return mask.masked_fill(~allowed, torch.finfo(dtype).min)


def attention(q, k, v, mask, scale_div):
    """softmax(q k^T / scale_div + mask) v, softmax in at least fp32.
    q: [B, n, T, d]; k, v: [B, n, T, d] (already repeated for GQA)."""
    scores = torch.matmul(q, k.transpose(-1, -2)) / scale_div
    scores = scores + mask
    probs = torch.softmax(scores, dim=-1, dtype=torch.promote_types(scores.dtype, torch.float32)).to(q.dtype)
    return torch.matmul(probs, v)


def causal_lm_loss(logits, labels, ignore_index=-100):
    """HF ForCausalLMLoss: position t predicts labels[t+1]; targets equal to
    ignore_index are skipped; mean over the remaining targets."""
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))
    b, t, v = logits.shape
    # pad on the right with ignore_index, then shift left by one
    pad = torch.full((b, 1), ignore_index, dtype=labels.dtype)
    targets = torch.cat([labels[:, 1:], pad], dim=1).reshape(-1)
    logp = torch.log_softmax(logits.reshape(-1, v), dim=-1)
    valid = targets != ignore_index
    safe = torch.where(valid, targets, torch.zeros_like(targets))  # gather needs in-range ids
    nll = -logp.gather(1, safe[:, None])[:, 0]
    nll = torch.where(valid, nll, torch.zeros_like(nll))
    return nll.sum() / valid.sum()  # 0/0 = nan when nothing is predicted, like HF


def default_labels(input_ids, attention_mask=None):
    """labels = input_ids with padded positions (attention_mask == 0) set to -100."""
    labels = input_ids.clone()
    if attention_mask is not None:
        labels[attention_mask == 0] = -100
    return labels


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------

_LLAMA_ARCHS = {
    "LlamaForCausalLM": "llama",
    "Qwen2ForCausalLM": "qwen2",
    "MistralForCausalLM": "mistral",
}
_MODEL_TYPES = {"llama": "llama", "qwen2": "qwen2", "mistral": "mistral", "gpt2": "gpt2"}


def detect_arch(config):
    for a in config.get("architectures") or []:
        if a in _LLAMA_ARCHS:
            return _LLAMA_ARCHS[a]
        if a == "GPT2LMHeadModel":
            return "gpt2"
    mt = config.get("model_type")
    if mt in _MODEL_TYPES:
        return _MODEL_TYPES[mt]
    raise ValueError("unsupported architecture: %r / model_type %r" % (config.get("architectures"), mt))


def _warn(msg):
    print("hfmodel: " + msg, file=sys.stderr)


class CausalLM:
    """A HF causal LM from config.json + weights, in plain torch.

    self.params: {file tensor name: tensor} with the file's names and layouts.
    A tied head is the embedding tensor itself (no separate 'lm_head.weight').
    self.linear_hooks: {module name (e.g. 'model.layers.0.self_attn.q_proj'):
    fn(x) -> delta}; the delta is added to that linear's output (used for LoRA).
    """

    def __init__(self, config, weights, dtype=torch.float32):
        if dtype not in (torch.float32, torch.float64):
            raise ValueError("dtype must be float32 or float64")
        self.config = config
        self.dtype = dtype
        self.arch = detect_arch(config)
        self.params = {}
        self.linear_hooks = {}
        if self.arch == "gpt2":
            self._init_gpt2(dict(weights))
        else:
            self._init_llama(dict(weights))

    @classmethod
    def from_dir(cls, model_dir, dtype=torch.float32):
        return cls(load_config(model_dir), load_checkpoint(model_dir), dtype=dtype)

    # -- loading ------------------------------------------------------------

    def _take(self, weights, name, shape):
        if name not in weights:
            raise KeyError("missing tensor %s" % name)
        t = weights.pop(name)
        if list(t.shape) != list(shape):
            raise ValueError("%s: shape %s, want %s" % (name, list(t.shape), list(shape)))
        self.params[name] = t.to(self.dtype).contiguous()

    def _take_head(self, weights, embed_name, vocab, hidden):
        if self.tied:
            if "lm_head.weight" in weights:
                # HF ties the head to the embedding, so a stored copy is not used.
                lm = weights.pop("lm_head.weight")
                if lm.shape != self.params[embed_name].shape or not torch.equal(
                    lm.to(self.dtype), self.params[embed_name]
                ):
                    _warn("tied model ships an lm_head.weight that differs from %s; ignoring it" % embed_name)
            self.head_name = embed_name
        else:
            self._take(weights, "lm_head.weight", [vocab, hidden])
            self.head_name = "lm_head.weight"

    def _check_leftovers(self, weights, skip_suffixes):
        extra = [n for n in weights if not any(n.endswith(s) for s in skip_suffixes)]
        if extra:
            raise ValueError("unexpected tensors in checkpoint: %s" % sorted(extra)[:10])

    def _init_llama(self, weights):
        c = self.config
        self.hidden = H = c["hidden_size"]
        self.n_heads = nq = c["num_attention_heads"]
        self.n_kv = nkv = c.get("num_key_value_heads") or nq
        self.head_dim = d = c.get("head_dim") or H // nq
        self.n_layers = c["num_hidden_layers"]
        self.vocab = V = c["vocab_size"]
        inter = c["intermediate_size"]
        self.eps = c.get("rms_norm_eps", 1e-6)
        self.tied = bool(c.get("tie_word_embeddings", False))
        if nq % nkv != 0:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        if c.get("hidden_act", "silu") != "silu":
            raise ValueError("unsupported hidden_act %r" % c.get("hidden_act"))
        if self.arch == "qwen2" and c.get("use_sliding_window", False):
            raise ValueError("Qwen2 sliding-window attention is not supported")
        qkv_bias = bool(c.get("attention_bias", False)) or self.arch == "qwen2"
        mlp_bias = bool(c.get("mlp_bias", False))
        self._init_rope(c)

        self._take(weights, "model.embed_tokens.weight", [V, H])
        for i in range(self.n_layers):
            p = "model.layers.%d." % i
            self._take(weights, p + "input_layernorm.weight", [H])
            self._take(weights, p + "post_attention_layernorm.weight", [H])
            for proj, out in (("q_proj", nq * d), ("k_proj", nkv * d), ("v_proj", nkv * d)):
                self._take(weights, p + "self_attn.%s.weight" % proj, [out, H])
                if qkv_bias:
                    self._take(weights, p + "self_attn.%s.bias" % proj, [out])
            self._take(weights, p + "self_attn.o_proj.weight", [H, nq * d])
            if c.get("attention_bias", False):  # plain Llama with attention_bias also biases o_proj
                self._take(weights, p + "self_attn.o_proj.bias", [H])
            for proj, shape in (("gate_proj", [inter, H]), ("up_proj", [inter, H]), ("down_proj", [H, inter])):
                self._take(weights, p + "mlp.%s.weight" % proj, shape)
                if mlp_bias:
                    self._take(weights, p + "mlp.%s.bias" % proj, [shape[0]])
        self._take(weights, "model.norm.weight", [H])
        self._take_head(weights, "model.embed_tokens.weight", V, H)
        # Old checkpoints may carry the rotary inv_freq buffer; it is recomputed.
        self._check_leftovers(weights, ["rotary_emb.inv_freq"])

    def _init_rope(self, c):
        params = c.get("rope_parameters") or {}
        self.rope_theta = float(c.get("rope_theta") or params.get("rope_theta") or 10000.0)
        scaling = c.get("rope_scaling") or params or {}
        self.rope_type = scaling.get("rope_type", scaling.get("type", "default"))
        if self.rope_type not in ("default", "llama3"):
            raise ValueError("unsupported rope type %r" % self.rope_type)
        self.rope_scaling = scaling

    def _init_gpt2(self, weights):
        c = self.config
        self.hidden = H = c.get("n_embd", 768)
        self.n_heads = c.get("n_head", 12)
        self.head_dim = H // self.n_heads
        self.n_layers = c.get("n_layer", 12)
        self.vocab = V = c.get("vocab_size", 50257)
        self.n_positions = c.get("n_positions", 1024)
        inner = c.get("n_inner") or 4 * H
        self.eps = c.get("layer_norm_epsilon", 1e-5)
        self.tied = bool(c.get("tie_word_embeddings", True))
        self.scale_attn_weights = c.get("scale_attn_weights", True)
        self.scale_by_layer = c.get("scale_attn_by_inverse_layer_idx", False)
        act = c.get("activation_function", "gelu_new")
        if act not in _GPT2_ACTS:
            raise ValueError("unsupported activation_function %r" % act)
        self.act = _GPT2_ACTS[act]
        # Files store names with or without the 'transformer.' module prefix.
        self.prefix = "transformer." if "transformer.wte.weight" in weights else ""
        p0 = self.prefix
        self._take(weights, p0 + "wte.weight", [V, H])
        self._take(weights, p0 + "wpe.weight", [self.n_positions, H])
        for i in range(self.n_layers):
            p = "%sh.%d." % (p0, i)
            for ln in ("ln_1", "ln_2"):
                self._take(weights, p + ln + ".weight", [H])
                self._take(weights, p + ln + ".bias", [H])
            # Conv1D: weight [in, out], y = x @ W + b
            for name, shape in (
                ("attn.c_attn", [H, 3 * H]),
                ("attn.c_proj", [H, H]),
                ("mlp.c_fc", [H, inner]),
                ("mlp.c_proj", [inner, H]),
            ):
                self._take(weights, p + name + ".weight", shape)
                self._take(weights, p + name + ".bias", [shape[1]])
        self._take(weights, p0 + "ln_f.weight", [H])
        self._take(weights, p0 + "ln_f.bias", [H])
        self._take_head(weights, p0 + "wte.weight", V, H)
        # Non-parameter buffers (causal mask, masked_bias) are skipped.
        self._check_leftovers(weights, [".attn.bias", ".attn.masked_bias"])

    # -- building blocks ----------------------------------------------------

    def linear(self, name, x):
        """nn.Linear with the file's [out, in] weight, plus an optional hook delta."""
        y = torch.matmul(x, self.params[name + ".weight"].t())
        b = self.params.get(name + ".bias")
        if b is not None:
            y = y + b
        return self._hooked(name, x, y)

    def conv1d(self, name, x):
        """GPT-2 Conv1D with the file's [in, out] weight: y = x @ W + b."""
        y = torch.matmul(x, self.params[name + ".weight"]) + self.params[name + ".bias"]
        return self._hooked(name, x, y)

    def _hooked(self, name, x, y):
        hook = self.linear_hooks.get(name)
        return y if hook is None else y + hook(x)

    def rope_tables(self, seq):
        """cos, sin of shape [T, d] for positions 0..T-1. HF computes inv_freq
        and the angles in fp32; in float64 mode they are computed in float64."""
        d = self.head_dim
        cd = torch.promote_types(self.dtype, torch.float32)
        inv_freq = 1.0 / (self.rope_theta ** (torch.arange(0, d, 2, dtype=torch.int64).to(cd) / d))
        if self.rope_type == "llama3":
            inv_freq = self._llama3_inv_freq(inv_freq)
        pos = torch.arange(seq, dtype=torch.int64).to(cd)
        freqs = pos[:, None] * inv_freq[None, :]  # [T, d/2]
        emb = torch.cat([freqs, freqs], dim=-1)  # [T, d]
        return emb.cos().to(self.dtype), emb.sin().to(self.dtype)

    def _llama3_inv_freq(self, inv_freq):
        """Llama-3 RoPE scaling (hf-models.md 4.6)."""
        s = self.rope_scaling
        factor = float(s["factor"])
        low = float(s["low_freq_factor"])
        high = float(s["high_freq_factor"])
        orig = float(s["original_max_position_embeddings"])
        wavelen = 2 * math.pi / inv_freq
        smooth = (orig / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_freq / factor + smooth * inv_freq
        out = torch.where(wavelen > orig / low, inv_freq / factor, inv_freq)  # low freq: divide
        medium = (wavelen <= orig / low) & (wavelen >= orig / high)
        return torch.where(medium, smoothed, out)  # high freq (wavelen < orig/high): unchanged

    # -- forward ------------------------------------------------------------

    def embed(self, input_ids):
        """Embedding output: embed_tokens[ids] (Llama) or wte[ids] + wpe[pos] (GPT-2)."""
        if self.arch == "gpt2":
            t = input_ids.shape[1]
            if t > self.n_positions:
                raise ValueError("sequence length %d exceeds n_positions %d" % (t, self.n_positions))
            wte = self.params[self.prefix + "wte.weight"]
            wpe = self.params[self.prefix + "wpe.weight"]
            return wte[input_ids] + wpe[torch.arange(t)][None]
        return self.params["model.embed_tokens.weight"][input_ids]

    def forward(self, input_ids, attention_mask=None, inputs_embeds_grad=True):
        """Returns (logits [B,T,V], embeds [B,T,H]). With inputs_embeds_grad the
        embeds tensor collects d loss/d embeds in embeds.grad after backward."""
        input_ids = torch.as_tensor(input_ids, dtype=torch.long)
        if input_ids.min() < 0 or input_ids.max() >= self.vocab:
            raise ValueError("input id out of range [0, %d)" % self.vocab)
        embeds = self.embed(input_ids)
        if inputs_embeds_grad:
            if embeds.requires_grad:
                # keep the graph to the (trainable) embedding weights, but
                # also record the gradient at this intermediate tensor
                embeds.retain_grad()
            else:
                embeds = embeds.detach().requires_grad_(True)
        return self.forward_embeds(embeds, attention_mask), embeds

    def forward_embeds(self, embeds, attention_mask=None):
        """Everything after the embedding layer; positions are 0..T-1."""
        b, t, _ = embeds.shape
        if attention_mask is not None:
            attention_mask = torch.as_tensor(attention_mask)
        mask = additive_attention_mask(attention_mask, b, t, self.dtype)
        if self.arch == "gpt2":
            return self._gpt2_body(embeds, mask)
        return self._llama_body(embeds, mask)

    def _llama_body(self, h, mask):
        if self.arch == "mistral":
            window = self.config.get("sliding_window")
            if window is not None and h.shape[1] > window:
                raise ValueError("sequence longer than Mistral sliding_window is not supported")
        cos, sin = self.rope_tables(h.shape[1])
        for i in range(self.n_layers):
            p = "model.layers.%d." % i
            x = rms_norm(h, self.params[p + "input_layernorm.weight"], self.eps)
            h = h + self._llama_attention(p + "self_attn.", x, cos, sin, mask)
            x = rms_norm(h, self.params[p + "post_attention_layernorm.weight"], self.eps)
            h = h + self._llama_mlp(p + "mlp.", x)
        h = rms_norm(h, self.params["model.norm.weight"], self.eps)
        return torch.matmul(h, self.params[self.head_name].t())

    def _llama_attention(self, p, x, cos, sin, mask):
        b, t, _ = x.shape
        nq, nkv, d = self.n_heads, self.n_kv, self.head_dim
        q = self.linear(p + "q_proj", x).view(b, t, nq, d).transpose(1, 2)  # [B, nq, T, d]
        k = self.linear(p + "k_proj", x).view(b, t, nkv, d).transpose(1, 2)
        v = self.linear(p + "v_proj", x).view(b, t, nkv, d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = repeat_kv(k, nq // nkv)
        v = repeat_kv(v, nq // nkv)
        o = attention(q, k, v, mask, math.sqrt(d))
        o = o.transpose(1, 2).reshape(b, t, nq * d)
        return self.linear(p + "o_proj", o)

    def _llama_mlp(self, p, x):
        return self.linear(p + "down_proj", silu(self.linear(p + "gate_proj", x)) * self.linear(p + "up_proj", x))

    def _gpt2_body(self, h, mask):
        p0 = self.prefix
        for i in range(self.n_layers):
            p = "%sh.%d." % (p0, i)
            x = layer_norm(h, self.params[p + "ln_1.weight"], self.params[p + "ln_1.bias"], self.eps)
            h = h + self._gpt2_attention(p + "attn.", x, mask, i)
            x = layer_norm(h, self.params[p + "ln_2.weight"], self.params[p + "ln_2.bias"], self.eps)
            h = h + self.conv1d(p + "mlp.c_proj", self.act(self.conv1d(p + "mlp.c_fc", x)))
        h = layer_norm(h, self.params[p0 + "ln_f.weight"], self.params[p0 + "ln_f.bias"], self.eps)
        return torch.matmul(h, self.params[self.head_name].t())

    def _gpt2_attention(self, p, x, mask, layer_idx):
        b, t, hdim = x.shape
        n, d = self.n_heads, self.head_dim
        qkv = self.conv1d(p + "c_attn", x)
        q, k, v = (z.view(b, t, n, d).transpose(1, 2) for z in qkv.split(hdim, dim=-1))
        div = 1.0
        if self.scale_attn_weights:
            div *= math.sqrt(d)
        if self.scale_by_layer:
            div *= float(layer_idx + 1)
        o = attention(q, k, v, mask, div)
        o = o.transpose(1, 2).reshape(b, t, hdim)
        return self.conv1d(p + "c_proj", o)

    # -- training helpers ---------------------------------------------------

    def set_trainable(self, names=None):
        """requires_grad on the named file tensors (all when names is None)."""
        names = list(self.params) if names is None else list(names)
        unknown = [n for n in names if n not in self.params]
        if unknown:
            raise KeyError("not a parameter of this checkpoint: %s" % unknown)
        wanted = set(names)
        for n, t in self.params.items():
            t.requires_grad_(n in wanted)
            t.grad = None
        return names

    def loss(self, input_ids, attention_mask=None, labels=None, inputs_embeds_grad=True):
        """Forward + HF causal-LM loss. Returns (loss, logits, embeds)."""
        input_ids = torch.as_tensor(input_ids, dtype=torch.long)
        if attention_mask is not None:
            attention_mask = torch.as_tensor(attention_mask, dtype=torch.long)
        if labels is None:
            labels = default_labels(input_ids, attention_mask)
        labels = torch.as_tensor(labels, dtype=torch.long)
        logits, embeds = self.forward(input_ids, attention_mask, inputs_embeds_grad)
        return causal_lm_loss(logits, labels), logits, embeds
