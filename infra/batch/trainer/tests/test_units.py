"""Unit checks of the trainer's parts against independent references: the
counter-based generators against plain-integer SplitMix64 and values
computed by Go, the Go JSON float text, the CRC-32C check value, the
safetensors round trip, and the model's loss and gradients against the
plain-PyTorch Hugging Face oracle in core/model/testdata/torchref."""

import json
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

from trainer import data, jsonfmt, rng, safetensors
from trainer.model import Model

ORACLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "core", "model", "testdata", "torchref")


def splitmix_keep_bits(seed, i):
    z = (seed + (i + 1) * 0x9E3779B97F4A7C15) & rng.M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & rng.M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & rng.M64
    return (z ^ (z >> 31)) >> 11


class RandomnessTest(unittest.TestCase):
    def test_keep_mask_is_splitmix(self):
        for seed in (0, 1, 2**63 + 12345, rng.M64, rng.dropout_seed(42, 3, 1)):
            for p in (0.05, 0.5):
                mask = rng.keep_mask(seed, 300, np.float32(p), "cpu").tolist()
                th = int(float(np.float32(p)) * (1 << 53))
                want = [splitmix_keep_bits(seed, i) >= th for i in range(300)]
                self.assertEqual(mask, want, "seed %d p %g" % (seed, p))

    def test_values_computed_by_go(self):
        # rand.New(rand.NewPCG(42, 0x6c6f7261)).Float64() and dropoutSeed(42, 3, 1) in Go.
        self.assertEqual(rng.PCG(42, 0x6C6F7261).float64(), 0.9435079677507613)
        self.assertEqual(rng.dropout_seed(42, 3, 1), 1900046780559114042)
        self.assertEqual(rng.permutation(10, 42, 0, True), [4, 9, 7, 2, 6, 5, 3, 8, 1, 0])

    def test_permutation(self):
        for n in (1, 2, 7, 100):
            p = rng.permutation(n, 42, 0, True)
            self.assertEqual(sorted(p), list(range(n)))
            self.assertEqual(rng.permutation(n, 42, 5, False), list(range(n)))
            if n >= 7:
                self.assertNotEqual(p, rng.permutation(n, 42, 1, True))


class FormatTest(unittest.TestCase):
    def test_go_floats(self):
        cases = {1e-8: "1e-8", 2e-4: "0.0002", 16.0: "16", 0.1: "0.1", 1e21: "1e+21", 1.5e-7: "1.5e-7",
                 123456.789: "123456.789", 0.0: "0", 3e-3: "0.003", 1e20: "100000000000000000000"}
        for v, want in cases.items():
            self.assertEqual(jsonfmt.go_float(v), want)

    def test_marshal_indent(self):
        got = jsonfmt.dumps({"a": [1, 2], "b": {}, "c": [], "d": {"x": True, "y": None, "z": "<"}})
        want = '{\n  "a": [\n    1,\n    2\n  ],\n  "b": {},\n  "c": [],\n  "d": {\n    "x": true,\n    "y": null,\n    "z": "\\u003c"\n  }\n}'
        self.assertEqual(got, want)

    def test_crc32c_check_value(self):
        self.assertEqual(data.crc32c(b"123456789"), 0xE3069283)

    def test_crc32c_records(self):
        buf = bytes(range(256)) * 9
        offs, lens = [0, 5, 100, 700, 2000], [0, 1, 37, 900, 304]
        got = data.crc32c_records(buf, offs, lens)
        self.assertEqual([int(c) for c in got], [data.crc32c(buf[o:o + l]) for o, l in zip(offs, lens)])

    def test_safetensors_round_trip(self):
        ts = [("b", torch.arange(6, dtype=torch.float32).reshape(2, 3)), ("a", torch.tensor([1.5]))]
        raw = safetensors.encode(ts, {"step": "3", "format": "pt"})
        n = int.from_bytes(raw[:8], "little")
        self.assertEqual((8 + n) % 8, 0)
        self.assertTrue(raw[8:].startswith(b'{"__metadata__":{"format":"pt","step":"3"},"b":'))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.safetensors")
            with open(path, "wb") as f:
                f.write(raw)
            got, meta = safetensors.read(path)
            self.assertEqual(meta, {"format": "pt", "step": "3"})
            self.assertTrue(torch.equal(got["b"], ts[0][1]))
            with open(path, "wb") as f:
                f.write(raw[:-3])
            with self.assertRaisesRegex(ValueError, "x.safetensors"):
                safetensors.read(path)


def shard_bytes(examples):
    """A shard file in core/data's layout (written here from its format
    description, so the reader is checked against the format, not itself)."""
    import struct

    recs, index, off = b"", b"", 16
    for ids, labels in examples:
        rec = struct.pack("<%di" % len(ids), *ids) + struct.pack("<%di" % len(labels), *labels)
        index += struct.pack("<QIII", off, len(ids), 0, data.crc32c(rec))
        recs += rec
        off += len(rec)
    footer = struct.pack("<QQQI", off, len(examples), sum(len(e[0]) for e in examples), data.crc32c(index))
    footer += struct.pack("<I", data.crc32c(footer)) + b"LFNSEND\x00"
    return b"LFNSHARD" + struct.pack("<II", 1, 0) + recs + index + footer


class CorruptionTest(unittest.TestCase):
    """Damaged files fail with a ValueError that names the file, never with
    another exception or wrong data."""

    def test_shard_bit_flips_and_truncation(self):
        exs = [([5, 6, 7], [-100, 6, 7]), ([1, 2], [1, 2]), ([9] * 40, [9] * 40)]
        raw = shard_bytes(exs)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "00000.shard")
            with open(path, "wb") as f:
                f.write(raw)
            got = data.read_shard(path)
            self.assertEqual([(list(i), list(l)) for i, l in got], [(list(i), list(l)) for i, l in exs])
            gen = np.random.default_rng(1)
            cases = [bytes(raw[:n]) for n in gen.integers(0, len(raw), 30)]
            for pos in list(range(16)) + list(range(len(raw) - 100, len(raw))) + list(gen.integers(16, len(raw), 60)):
                b = bytearray(raw)
                b[pos] ^= 1 << int(gen.integers(0, 8))
                cases.append(bytes(b))
            for c in cases:
                with open(path, "wb") as f:
                    f.write(c)
                with self.assertRaisesRegex(ValueError, "00000.shard"):
                    data.read_shard(path)

    def test_safetensors_garbage(self):
        good = safetensors.encode([("w", torch.ones(2, 3))], {"format": "pt"})
        gen = np.random.default_rng(2)
        cases = [good[:n] for n in gen.integers(0, len(good), 20)]
        cases += [good[:8] + b'{"w": 1}', good[:8] + b"[1, 2]", (8).to_bytes(8, "little") + b'{"w":{}} ']
        for _ in range(200):
            b = bytearray(good)
            b[int(gen.integers(8, len(good)))] = int(gen.integers(0, 256))
            cases.append(bytes(b))
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.safetensors")
            for c in cases:
                with open(path, "wb") as f:
                    f.write(c)
                try:
                    safetensors.read(path)
                except ValueError as e:
                    self.assertIn("x.safetensors", str(e))


class ModelTest(unittest.TestCase):
    """Loss and input gradients against the independent oracle."""

    def check(self, config, seed):
        sys.path.insert(0, ORACLE)
        try:
            import hfmodel
        finally:
            sys.path.pop(0)
        g = torch.Generator().manual_seed(seed)
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(config, f)
            # Draw weights by building the model once from random tensors of the right shapes.
            shapes = self.shapes(config)
            weights = {k: (torch.randn(s, generator=g) * 0.2 if len(s) == 2 else 1 + 0.1 * torch.randn(s, generator=g)) for k, s in shapes.items()}
            with open(os.path.join(d, "model.safetensors"), "wb") as f:
                f.write(safetensors.encode(sorted(weights.items())))
            ours = Model(d)
            ref = hfmodel.CausalLM.from_dir(d)
            ids = torch.randint(0, config.get("vocab_size"), (2, 7), generator=g)
            mask = torch.ones(2, 7, dtype=torch.bool)
            mask[1, 5:] = False
            labels = ids.clone()
            labels[~mask] = -100
            labels[0, :3] = -100
            want, _, _ = ref.loss(ids, mask.long(), labels)
            total, n = ours.loss(ids, mask, labels)
            self.assertAlmostEqual(float(total) / n, float(want), delta=1e-5 * abs(float(want)))

    @staticmethod
    def shapes(c):
        if c["architectures"] == ["GPT2LMHeadModel"]:
            H, V, P, I = c["n_embd"], c["vocab_size"], c["n_positions"], 4 * c["n_embd"]
            s = {"wte.weight": [V, H], "wpe.weight": [P, H], "ln_f.weight": [H], "ln_f.bias": [H]}
            for i in range(c["n_layer"]):
                p = "h.%d." % i
                s.update({p + "ln_1.weight": [H], p + "ln_1.bias": [H], p + "ln_2.weight": [H], p + "ln_2.bias": [H],
                          p + "attn.c_attn.weight": [H, 3 * H], p + "attn.c_attn.bias": [3 * H],
                          p + "attn.c_proj.weight": [H, H], p + "attn.c_proj.bias": [H],
                          p + "mlp.c_fc.weight": [H, I], p + "mlp.c_fc.bias": [I],
                          p + "mlp.c_proj.weight": [I, H], p + "mlp.c_proj.bias": [H]})
            return s
        H, V, I = c["hidden_size"], c["vocab_size"], c["intermediate_size"]
        d = c.get("head_dim") or H // c["num_attention_heads"]
        q, kv = c["num_attention_heads"] * d, c["num_key_value_heads"] * d
        s = {"model.embed_tokens.weight": [V, H], "model.norm.weight": [H]}
        if not c.get("tie_word_embeddings"):
            s["lm_head.weight"] = [V, H]
        for i in range(c["num_hidden_layers"]):
            p = "model.layers.%d." % i
            s.update({p + "input_layernorm.weight": [H], p + "post_attention_layernorm.weight": [H],
                      p + "self_attn.q_proj.weight": [q, H], p + "self_attn.k_proj.weight": [kv, H],
                      p + "self_attn.v_proj.weight": [kv, H], p + "self_attn.o_proj.weight": [H, q],
                      p + "mlp.gate_proj.weight": [I, H], p + "mlp.up_proj.weight": [I, H], p + "mlp.down_proj.weight": [H, I]})
            if c["architectures"] == ["Qwen2ForCausalLM"]:
                s.update({p + "self_attn.q_proj.bias": [q], p + "self_attn.k_proj.bias": [kv], p + "self_attn.v_proj.bias": [kv]})
        return s

    def test_llama3_gqa_tied(self):
        self.check({"architectures": ["LlamaForCausalLM"], "vocab_size": 37, "hidden_size": 16, "intermediate_size": 24,
                    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-5,
                    "rope_theta": 500000.0, "tie_word_embeddings": True, "max_position_embeddings": 64,
                    "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                     "high_freq_factor": 4.0, "original_max_position_embeddings": 4}}, 1)

    def test_qwen2(self):
        self.check({"architectures": ["Qwen2ForCausalLM"], "vocab_size": 29, "hidden_size": 16, "intermediate_size": 20,
                    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 1, "rms_norm_eps": 1e-6,
                    "max_position_embeddings": 64}, 2)

    def test_gpt2(self):
        self.check({"architectures": ["GPT2LMHeadModel"], "vocab_size": 31, "n_embd": 16, "n_layer": 2, "n_head": 2,
                    "n_positions": 16}, 3)


if __name__ == "__main__":
    unittest.main()
