#!/usr/bin/python3
"""PyTorch reference for a prefix-tuning adapter, written from PEFT's
get_prompt and Hugging Face's past_key_values semantics.

    /usr/bin/python3 prefix_ref.py MODEL_DIR ADAPTER_DIR CASE.json OUT.json

prompt_embeddings [P, num_layers*2*token_dim] is viewed as
[P, num_layers*2, num_heads, head_dim] (num_heads = the KV heads) and
permuted so that layer l's past key is row 2l and its value row 2l+1,
[num_heads, P, head_dim]. Those enter attention as a cache would: without
RoPE, visible to every query (P leading ones in the attention mask), and the
real tokens take positions P..P+T-1 (RoPE angles, GPT-2 position
embeddings). CASE.json holds input_ids, attention_mask and labels. OUT.json
gets the loss, the logits and the gradient of prompt_embeddings.
"""

import json
import math
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "model", "testdata", "torchref"))
from hfmodel import CausalLM, attention, causal_lm_loss, load_safetensors, repeat_kv, rotate_half  # noqa: E402


def flat(t):
    return t.detach().to(torch.float64).reshape(-1).tolist()


class PrefixLM(CausalLM):
    """The oracle with per-layer past keys and values in front."""

    def set_prefix(self, emb, cfg):
        P, L, heads = cfg["num_virtual_tokens"], cfg["num_layers"], cfg["num_attention_heads"]
        d = cfg["token_dim"] // heads
        assert list(emb.shape) == [P, L * 2 * heads * d], emb.shape
        self.P = P
        # [P, 2L, heads, d] -> [2L, heads, P, d], as PEFT's permute([2, 0, 3, 1, 4]) without the batch
        self.past = emb.view(P, L * 2, heads, d).permute(1, 2, 0, 3)

    def rope_tables(self, seq):
        cos, sin = super().rope_tables(self.P + seq)
        return cos[self.P :], sin[self.P :]

    def _past(self, layer, b):
        k, v = self.past[2 * layer], self.past[2 * layer + 1]
        return k[None].expand(b, *k.shape), v[None].expand(b, *v.shape)

    def _llama_attention(self, p, x, cos, sin, mask):
        layer = int(p.split(".")[2])
        b, t, _ = x.shape
        nq, nkv, d = self.n_heads, self.n_kv, self.head_dim
        q = self.linear(p + "q_proj", x).view(b, t, nq, d).transpose(1, 2)
        k = self.linear(p + "k_proj", x).view(b, t, nkv, d).transpose(1, 2)
        v = self.linear(p + "v_proj", x).view(b, t, nkv, d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        pk, pv = self._past(layer, b)
        k = repeat_kv(torch.cat([pk, k], dim=2), nq // nkv)
        v = repeat_kv(torch.cat([pv, v], dim=2), nq // nkv)
        o = attention(q, k, v, mask, math.sqrt(d))
        return self.linear(p + "o_proj", o.transpose(1, 2).reshape(b, t, nq * d))

    def _gpt2_attention(self, p, x, mask, layer_idx):
        b, t, hdim = x.shape
        n, d = self.n_heads, self.head_dim
        q, k, v = (z.view(b, t, n, d).transpose(1, 2) for z in self.conv1d(p + "c_attn", x).split(hdim, dim=-1))
        pk, pv = self._past(layer_idx, b)
        k, v = torch.cat([pk, k], dim=2), torch.cat([pv, v], dim=2)
        div = math.sqrt(d) if self.scale_attn_weights else 1.0
        if self.scale_by_layer:
            div *= float(layer_idx + 1)
        o = attention(q, k, v, mask, div)
        return self.conv1d(p + "c_proj", o.transpose(1, 2).reshape(b, t, hdim))

    def run(self, ids, attention_mask):
        b, t = ids.shape
        P = self.P
        if self.arch == "gpt2":
            h = self.params[self.prefix + "wte.weight"][ids] + self.params[self.prefix + "wpe.weight"][P : P + t][None]
        else:
            h = self.params["model.embed_tokens.weight"][ids]
        allowed = torch.ones(t, P + t, dtype=torch.bool).tril(diagonal=P)[None, None].expand(b, 1, t, P + t)
        keys = torch.cat([torch.ones(b, P, dtype=torch.bool), attention_mask != 0], dim=1)
        allowed = allowed & keys[:, None, None, :]
        mask = torch.zeros(b, 1, t, P + t, dtype=self.dtype).masked_fill(~allowed, torch.finfo(self.dtype).min)
        return self._gpt2_body(h, mask) if self.arch == "gpt2" else self._llama_body(h, mask)


def main():
    model_dir, adapter_dir, case_path, out_path = sys.argv[1:5]
    model = PrefixLM.from_dir(model_dir)
    with open(os.path.join(adapter_dir, "adapter_config.json")) as f:
        cfg = json.load(f)
    assert cfg["peft_type"] == "PREFIX_TUNING" and cfg["task_type"] == "CAUSAL_LM", cfg
    tensors = load_safetensors(os.path.join(adapter_dir, "adapter_model.safetensors"))
    assert list(tensors) == ["prompt_embeddings"], list(tensors)
    emb = tensors["prompt_embeddings"].requires_grad_(True)
    model.set_prefix(emb, cfg)
    with open(case_path) as f:
        case = json.load(f)
    ids = torch.tensor(case["input_ids"], dtype=torch.long)
    mask = torch.tensor(case["attention_mask"], dtype=torch.long)
    labels = torch.tensor(case["labels"], dtype=torch.long)
    model.set_trainable([])
    logits = model.run(ids, mask)
    loss = causal_lm_loss(logits, labels)
    loss.backward()
    out = {"loss": loss.item(), "logits": flat(logits), "grads": {"prompt_embeddings": flat(emb.grad)}}
    with open(out_path, "w") as f:
        json.dump(out, f, allow_nan=False)


if __name__ == "__main__":
    main()
