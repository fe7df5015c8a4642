#!/usr/bin/python3
"""Self-check of the torch oracle (hfmodel.py / run.py). Exits non-zero on failure.

    /usr/bin/python3 selfcheck.py [-v]

For each tiny variant (llama; llama tied+GQA+llama3 RoPE scaling+explicit
head_dim; qwen2 tied+GQA; gpt2 with stored buffers) it checks:
  * float32 vs float64 forward: relative loss error < 1e-5;
  * every parameter tensor (2 elements each) and the embedding-output gradient
    against central finite differences in float64: relative error < 1e-6;
  * padding: real-position logits of a right-padded row equal the unpadded
    row's, pad token values do not matter, padded loss == unpadded loss;
  * run.py end to end (JSON layout, names, values).
Plus loader checks (sharded index, F16/BF16 decoding, GPT-2 'transformer.'
prefix, rope_parameters / 'type' spellings) and structural checks (GQA equals
MHA with duplicated KV heads; a tied head equals an untied copy).
"""

import copy
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import hfmodel  # noqa: E402
import make_tiny  # noqa: E402
from hfmodel import CausalLM, load_checkpoint, load_config, load_safetensors, save_safetensors  # noqa: E402

VERBOSE = "-v" in sys.argv
FAILURES = []


def check(ok, what):
    status = "ok  " if ok else "FAIL"
    if not ok:
        FAILURES.append(what)
    if VERBOSE or not ok:
        print("  [%s] %s" % (status, what))
    return ok


def rel(a, b):
    a, b = float(a), float(b)
    return abs(a - b) / max(abs(a), abs(b), 1e-30)


VARIANTS = [
    ("llama", dict(arch="llama", seed=11)),
    ("llama-tied-gqa-llama3rope-hd16", dict(arch="llama", seed=12, tied=True, gqa=True, rope_scaling=True, head_dim=16)),
    ("qwen2-tied-gqa", dict(arch="qwen2", seed=13, tied=True, gqa=True)),
    ("gpt2", dict(arch="gpt2", seed=14, gpt2_buffers=True)),
]

# Row 0 is full length, row 1 is right-padded (last 3 positions are padding).
IDS = [[3, 17, 42, 5, 66, 0, 23, 9], [8, 8, 30, 61, 2, 7, 7, 7]]
MASK = [[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 0, 0, 0]]


def loss_of(model, ids=IDS, mask=MASK, labels=None):
    loss, logits, embeds = model.loss(ids, mask, labels, inputs_embeds_grad=False)
    return loss


def check_precision(name, d):
    m32 = CausalLM.from_dir(d, torch.float32)
    m64 = CausalLM.from_dir(d, torch.float64)
    m32.set_trainable()
    m64.set_trainable()
    l32, lg32, _ = m32.loss(IDS, MASK)
    l64, lg64, _ = m64.loss(IDS, MASK)
    l32.backward()
    l64.backward()
    r = rel(l32.item(), l64.item())
    check(r < 1e-5, "%s: fp32 vs fp64 loss rel err %.2e (< 1e-5)" % (name, r))
    # Informational: how far float32 is from float64 on logits and grads.
    lr = ((lg32.double() - lg64).abs().max() / lg64.abs().max()).item()
    gr = max(
        ((m32.params[n].grad.double() - m64.params[n].grad).norm() / m64.params[n].grad.norm().clamp_min(1e-30)).item()
        for n in m64.params
    )
    check(lr < 1e-5, "%s: fp32 vs fp64 logits max err / max|logit| %.2e (< 1e-5)" % (name, lr))
    check(gr < 1e-4, "%s: fp32 vs fp64 worst per-tensor grad rel L2 err %.2e (< 1e-4)" % (name, gr))
    return r, lr, gr


def check_finite_differences(name, d, rng):
    """Central differences in float64 against autograd, for 2 elements of every
    parameter tensor and 3 elements of the embedding output."""
    m = CausalLM.from_dir(d, torch.float64)
    m.set_trainable()
    loss, _, embeds = m.loss(IDS, MASK, inputs_embeds_grad=True)
    loss.backward()
    eps = 1e-6
    worst = 0.0
    with torch.no_grad():
        for pname, p in m.params.items():
            g = p.grad.reshape(-1)
            gmax = g.abs().max().item()
            if gmax == 0.0:
                check(False, "%s: %s has an all-zero gradient" % (name, pname))
                continue
            # the largest entry, and a random entry among the non-negligible ones
            big = torch.nonzero(g.abs() > 0.1 * gmax).reshape(-1).tolist()
            picks = [int(g.abs().argmax()), int(rng.choice(big))]
            flatp = p.view(-1)
            for k in picks:
                old = flatp[k].item()
                flatp[k] = old + eps
                lp = loss_of(m).item()
                flatp[k] = old - eps
                lm = loss_of(m).item()
                flatp[k] = old
                fd = (lp - lm) / (2 * eps)
                r = rel(fd, g[k].item())
                worst = max(worst, r)
                check(r < 1e-6, "%s: FD %s[%d] autograd %.6e fd %.6e rel %.1e" % (name, pname, k, g[k], fd, r))
        # embedding-output gradient: perturb the embeds fed to forward_embeds
        e0 = m.embed(torch.tensor(IDS)).detach()
        labels = hfmodel.default_labels(torch.tensor(IDS), torch.tensor(MASK))
        eg = embeds.grad
        for (b, t, h) in [(0, 0, 3), (0, 5, 17), (1, 2, 30)]:
            vals = []
            for s in (+1, -1):
                e = e0.clone()
                e[b, t, h] += s * eps
                vals.append(hfmodel.causal_lm_loss(m.forward_embeds(e, torch.tensor(MASK)), labels).item())
            fd = (vals[0] - vals[1]) / (2 * eps)
            r = rel(fd, eg[b, t, h].item())
            worst = max(worst, r)
            check(r < 1e-6, "%s: FD embeds[%d,%d,%d] autograd %.6e fd %.6e rel %.1e" % (name, b, t, h, eg[b, t, h], fd, r))
        # padded positions take no part in the loss, so their gradient is exactly 0
        check(bool((eg[1, 5:] == 0).all()), "%s: embeds grad at padded positions is exactly 0" % name)
    return worst


def check_padding(name, d):
    for dtype, tol in ((torch.float32, 1e-5), (torch.float64, 1e-12)):
        m = CausalLM.from_dir(d, dtype)
        with torch.no_grad():
            full, _ = m.forward(torch.tensor(IDS), torch.tensor(MASK), inputs_embeds_grad=False)
            alone, _ = m.forward(torch.tensor([IDS[1][:5]]), None, inputs_embeds_grad=False)
            err = ((full[1, :5] - alone[0]).abs().max() / alone.abs().max()).item()
            check(err < tol, "%s/%s: padded-row real logits == unpadded logits (rel %.1e < %g)" % (name, dtype, err, tol))
            # pad token values must not leak into real positions (bit-identical)
            ids2 = copy.deepcopy(IDS)
            ids2[1][5:] = [1, 50, 12]
            full2, _ = m.forward(torch.tensor(ids2), torch.tensor(MASK), inputs_embeds_grad=False)
            check(torch.equal(full[:, :5], full2[:, :5]) and torch.equal(full[0], full2[0]),
                  "%s/%s: pad token ids do not affect real logits" % (name, dtype))
            lpad = m.loss([IDS[1]], [MASK[1]], inputs_embeds_grad=False)[0].item()
            lalone = m.loss([IDS[1][:5]], None, inputs_embeds_grad=False)[0].item()
            check(rel(lpad, lalone) < tol, "%s/%s: padded loss %.8f == unpadded loss %.8f" % (name, dtype, lpad, lalone))

            # With right padding the causal mask alone already hides the pads, so
            # also test holes on the left and in the middle, where only the
            # key-padding part of the mask keeps real tokens from seeing them.
            hole_mask = torch.tensor([[0, 0, 1, 1, 1, 1, 1, 1], [1, 1, 0, 1, 0, 1, 1, 1]])
            real = hole_mask.bool()
            ids3 = torch.tensor(IDS)
            ids4 = ids3.clone()
            ids4[~real] = torch.tensor([1, 50, 12, 33])
            h3, _ = m.forward(ids3, hole_mask, inputs_embeds_grad=False)
            h4, _ = m.forward(ids4, hole_mask, inputs_embeds_grad=False)
            check(torch.equal(h3[real], h4[real]), "%s/%s: masked ids (left/middle holes) do not affect real logits" % (name, dtype))
            # causality: changing token 4 leaves positions 0..3 untouched and changes position 4
            ids5 = ids3.clone()
            ids5[:, 4] = (ids5[:, 4] + 1) % m.vocab
            h5, _ = m.forward(ids5, None, inputs_embeds_grad=False)
            h6, _ = m.forward(ids3, None, inputs_embeds_grad=False)
            check(torch.equal(h5[:, :4], h6[:, :4]) and not torch.equal(h5[:, 4], h6[:, 4]),
                  "%s/%s: causal: a later token does not affect earlier logits" % (name, dtype))
            if m.arch != "gpt2":
                # RoPE scores depend only on relative positions, so a left-padded
                # row gives the unpadded logits (up to rounding of the angles).
                alone0, _ = m.forward(ids3[:1, 2:], None, inputs_embeds_grad=False)
                err = ((h3[0, 2:] - alone0[0]).abs().max() / alone0.abs().max()).item()
                ltol = 1e-4 if dtype == torch.float32 else 1e-10
                check(err < ltol, "%s/%s: left-padded logits == unpadded logits (RoPE is relative; rel %.1e)" % (name, dtype, err))


def check_run_py(name, d, tmp):
    case = {"input_ids": IDS, "attention_mask": MASK}
    cpath = os.path.join(tmp, name + ".case.json")
    opath = os.path.join(tmp, name + ".out.json")
    with open(cpath, "w") as f:
        json.dump(case, f)
    subprocess.run([sys.executable, os.path.join(HERE, "run.py"), d, cpath, opath], check=True)
    with open(opath) as f:
        out = json.load(f)
    m = CausalLM.from_dir(d, torch.float32)
    m.set_trainable()
    loss, logits, embeds = m.loss(IDS, MASK)
    loss.backward()
    file_names = set(load_checkpoint(d))
    expect = {n for n in file_names if not n.endswith((".attn.bias", ".attn.masked_bias"))}
    if m.tied:
        expect.discard("lm_head.weight")
    ok = (
        out["loss"] == loss.item()
        and out["logits_shape"] == list(logits.shape)
        and out["logits"] == logits.double().reshape(-1).tolist()
        and out["embeds_grad"] == embeds.grad.double().reshape(-1).tolist()
        and set(out["grads"]) == expect
        and all(out["grads"][n] == m.params[n].grad.double().reshape(-1).tolist() for n in expect)
        and all(out["grad_shapes"][n] == list(m.params[n].shape) for n in expect)
    )
    check(ok, "%s: run.py output matches in-process values and file tensor names" % name)
    # a subset of trainable tensors, labels given explicitly, float64 mode
    pick = sorted(expect)[:2]
    labels = [[-100 if j % 3 == 0 else t for j, t in enumerate(row)] for row in IDS]
    case = {"input_ids": IDS, "attention_mask": MASK, "labels": labels, "trainable": pick}
    with open(cpath, "w") as f:
        json.dump(case, f)
    subprocess.run([sys.executable, os.path.join(HERE, "run.py"), d, cpath, opath, "--float64"], check=True)
    with open(opath) as f:
        out = json.load(f)
    m = CausalLM.from_dir(d, torch.float64)
    m.set_trainable(pick)
    loss, _, _ = m.loss(IDS, MASK, labels)
    check(sorted(out["grads"]) == pick and out["dtype"] == "float64" and out["loss"] == loss.item(),
          "%s: run.py with trainable subset, explicit labels, --float64" % name)


def check_loaders(tmp):
    # sharded checkpoint == single file
    d = os.path.join(tmp, "shard-src")
    make_tiny.make(d, "llama", seed=21)
    w = load_safetensors(os.path.join(d, "model.safetensors"))
    sd = os.path.join(tmp, "sharded")
    os.makedirs(sd)
    names = sorted(w)
    halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    wm = {}
    for shard, ns in halves.items():
        save_safetensors(os.path.join(sd, shard), {n: w[n] for n in ns})
        wm.update({n: shard for n in ns})
    with open(os.path.join(sd, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 0}, "weight_map": wm}, f)
    with open(os.path.join(d, "config.json")) as f:
        cfg = f.read()
    with open(os.path.join(sd, "config.json"), "w") as f:
        f.write(cfg)
    w2 = load_checkpoint(sd)
    check(set(w2) == set(w) and all(torch.equal(w[n], w2[n]) for n in w), "loader: sharded index == single file")

    # F16 / BF16 decoding, against torch's own conversions
    t = {"a": torch.randn(5, 7) * 3, "b": torch.tensor([1.0, -2.0, 0.15625, 65504.0, 1e-3])}
    for dt, conv in (("F16", torch.float16), ("BF16", torch.bfloat16)):
        p = os.path.join(tmp, dt + ".safetensors")
        save_safetensors(p, t, dtype=dt)
        back = load_safetensors(p)
        ok = all(back[n].dtype == torch.float32 and torch.equal(back[n], t[n].to(conv).float()) for n in t)
        check(ok, "loader: %s decodes to float32 like torch's conversion" % dt)
    # hand-made BF16 bytes: 0x3F80 = 1.0, 0xC000 = -2.0, 0x3E20 = 0.15625 (independent of torch)
    hdr = json.dumps({"__metadata__": {"x": "y"}, "v": {"dtype": "BF16", "shape": [3], "data_offsets": [0, 6]}}).encode()
    p = os.path.join(tmp, "hand.safetensors")
    with open(p, "wb") as f:
        f.write(struct.pack("<Q", len(hdr)) + hdr + struct.pack("<3H", 0x3F80, 0xC000, 0x3E20))
    check(load_safetensors(p)["v"].tolist() == [1.0, -2.0, 0.15625], "loader: hand-made BF16 bytes")

    # GPT-2 with 'transformer.' prefix == without
    a, b = os.path.join(tmp, "g-plain"), os.path.join(tmp, "g-prefix")
    make_tiny.make(a, "gpt2", seed=22)
    make_tiny.make(b, "gpt2", seed=22, gpt2_prefix=True, gpt2_buffers=True)
    la = loss_of(CausalLM.from_dir(a)).item()
    lb = loss_of(CausalLM.from_dir(b)).item()
    check(la == lb, "loader: GPT-2 names with and without 'transformer.' prefix give the same loss")

    # rope spellings: rope_scaling.rope_type, rope_scaling.type, v5 rope_parameters
    r = os.path.join(tmp, "rope")
    cfg, w = make_tiny.make(r, "llama", seed=23, rope_scaling=True)
    base = loss_of(CausalLM(cfg, w)).item()
    c2 = copy.deepcopy(cfg)
    c2["rope_scaling"]["type"] = c2["rope_scaling"].pop("rope_type")
    c3 = copy.deepcopy(cfg)
    c3["rope_parameters"] = dict(c3.pop("rope_scaling"), rope_theta=c3.pop("rope_theta"))
    c4 = copy.deepcopy(cfg)
    c4["rope_scaling"] = None
    l2, l3, l4 = (loss_of(CausalLM(c, w)).item() for c in (c2, c3, c4))
    check(l2 == base and l3 == base, "config: rope_scaling.type and rope_parameters spellings agree")
    check(l4 != base, "config: llama3 rope scaling changes the result (it is applied)")


def check_structure(tmp):
    """GQA == MHA with each KV head duplicated for its query group;
    tied head == untied model with lm_head = copy of the embedding."""
    d = os.path.join(tmp, "gqa")
    cfg, w = make_tiny.make(d, "llama", seed=31, gqa=True)
    nq, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg["head_dim"]
    g = nq // nkv
    cfg_mha = dict(cfg, num_key_value_heads=nq)
    w_mha = dict(w)
    for n in w:
        if n.endswith(("k_proj.weight", "v_proj.weight")):
            w_mha[n] = w[n].reshape(nkv, hd, -1).repeat_interleave(g, dim=0).reshape(nq * hd, -1)
    m1, m2 = CausalLM(cfg, w, torch.float64), CausalLM(cfg_mha, w_mha, torch.float64)
    with torch.no_grad():
        a = m1.forward(torch.tensor(IDS), torch.tensor(MASK), False)[0]
        b = m2.forward(torch.tensor(IDS), torch.tensor(MASK), False)[0]
    check((a - b).abs().max().item() < 1e-12, "structure: GQA == MHA with KV heads repeated per query group")

    d = os.path.join(tmp, "tied")
    cfg, w = make_tiny.make(d, "llama", seed=32, tied=True)
    cfg_u = dict(cfg, tie_word_embeddings=False)
    w_u = dict(w, **{"lm_head.weight": w["model.embed_tokens.weight"].clone()})
    mt, mu = CausalLM(cfg, w, torch.float64), CausalLM(cfg_u, w_u, torch.float64)
    mt.set_trainable()
    mu.set_trainable()
    lt = mt.loss(IDS, MASK)[0]
    lu = mu.loss(IDS, MASK)[0]
    lt.backward()
    lu.backward()
    ge = mu.params["model.embed_tokens.weight"].grad + mu.params["lm_head.weight"].grad
    ok = abs(lt.item() - lu.item()) < 1e-12 and (mt.params["model.embed_tokens.weight"].grad - ge).abs().max() < 1e-12
    check(bool(ok), "structure: tied embedding grad == untied embed grad + lm_head grad")


def main():
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        print("%-34s %12s %12s %12s %12s" % ("variant", "loss relerr", "logit err", "grad relerr", "FD worst"))
        for name, kw in VARIANTS:
            d = os.path.join(tmp, name)
            make_tiny.make(d, **kw)
            r, lr, gr = check_precision(name, d)
            fdw = check_finite_differences(name, d, rng)
            check_padding(name, d)
            check_run_py(name, d, tmp)
            print("%-34s %12.2e %12.2e %12.2e %12.2e" % (name, r, lr, gr, fdw))
        check_loaders(tmp)
        check_structure(tmp)
    if FAILURES:
        print("selfcheck: %d FAILED" % len(FAILURES))
        sys.exit(1)
    print("selfcheck: all checks passed")


if __name__ == "__main__":
    main()
