"""lorafn's prep shards (core/data/shard.go) and the trainer's collation
(core/train/data.go): every checksum is verified, and errors name the file
and the example."""

import json
import os
import struct

import numpy as np

IGNORE = -100

_MAGIC, _END = b"LFNSHARD", b"LFNSEND\x00"
_HEADER, _ENTRY, _FOOTER = 16, 20, 40


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data):
    """CRC-32C (Castagnoli), as Go's crc32.Checksum with the Castagnoli table."""
    try:
        import crc32c as fast  # optional accelerated module

        return fast.crc32c(bytes(data))
    except ImportError:
        pass
    c = 0xFFFFFFFF
    t = _TABLE
    for b in bytes(data):
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


_NP_TABLE = np.array(_TABLE, dtype=np.uint32)


def crc32c_records(buf, offsets, lengths):
    """CRC-32C of many records of buf at once: the records advance in
    lockstep, one byte position per numpy operation, longest first."""
    data = np.frombuffer(buf, dtype=np.uint8)
    offsets, lengths = np.asarray(offsets, dtype=np.int64), np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    off, ln = offsets[order], lengths[order]
    crc = np.full(len(order), 0xFFFFFFFF, dtype=np.uint32)
    active = len(order)
    for k in range(int(ln[0]) if len(ln) else 0):
        while active and ln[active - 1] <= k:
            active -= 1
        c = crc[:active]
        crc[:active] = _NP_TABLE[(c ^ data[off[:active] + k]) & 0xFF] ^ (c >> 8)
    out = np.empty_like(crc)
    out[order] = crc ^ 0xFFFFFFFF
    return out


class CorruptShard(ValueError):
    pass


def read_shard(path):
    """All examples of one shard file as [(ids, labels)] int64 arrays."""
    with open(path, "rb") as f:
        buf = f.read()
    size = len(buf)

    def bad(msg):
        return CorruptShard("%s: corrupt shard: %s" % (path, msg))

    if size < _HEADER + _FOOTER:
        raise bad("%d bytes is too short" % size)
    if buf[:8] != _MAGIC:
        raise bad("not a lorafn shard (magic %r)" % buf[:8])
    version, flags = struct.unpack_from("<II", buf, 8)
    if version != 1:
        raise ValueError("%s: shard version %d; this trainer reads version 1" % (path, version))
    if flags != 0:
        raise bad("unknown flags %#x" % flags)
    foot = buf[size - _FOOTER :]
    if foot[32:] != _END:
        raise bad("bad end marker (truncated file?)")
    if crc32c(foot[:28]) != struct.unpack_from("<I", foot, 28)[0]:
        raise bad("footer checksum mismatch")
    index_off, count, tokens, index_crc = struct.unpack_from("<QQQI", foot, 0)
    index_len = size - _FOOTER - index_off
    if index_off < _HEADER or index_off > size - _FOOTER or index_len != count * _ENTRY:
        raise bad("index at %d for %d examples does not fit a %d-byte file" % (index_off, count, size))
    raw_index = buf[index_off : index_off + index_len]
    if crc32c(raw_index) != index_crc:
        raise bad("index checksum mismatch")
    entries, nxt, total = [], _HEADER, 0
    for i in range(count):
        off, n, k, crc = struct.unpack_from("<QIII", raw_index, i * _ENTRY)
        if off != nxt or n == 0 or k > n:
            raise bad("index entry %d: record at %d with %d tokens and %d starts (expected at %d)" % (i, off, n, k, nxt))
        nxt = off + 8 * n + 4 * k
        if nxt > index_off:
            raise bad("index entry %d runs past the records" % i)
        entries.append((off, n, k, crc))
        total += n
    crcs = crc32c_records(buf, [e[0] for e in entries], [8 * e[1] + 4 * e[2] for e in entries])
    out = []
    for i, (off, n, k, crc) in enumerate(entries):
        if int(crcs[i]) != crc:
            raise bad("example %d: checksum mismatch" % i)
        vals = np.frombuffer(buf, dtype="<i4", count=2 * n, offset=off).astype(np.int64)
        ids, labels = vals[:n], vals[n:]
        if (ids < 0).any() or ((labels < 0) & (labels != IGNORE)).any():
            raise bad("example %d: negative id or label" % i)
        out.append((ids, labels))
    if nxt != index_off:
        raise bad("%d bytes between the last record and the index" % (index_off - nxt))
    if total != tokens:
        raise bad("footer says %d tokens, index %d" % (tokens, total))
    return out


def read_shards(folder):
    """The examples of a shard folder (manifest.json lists its files in order)."""
    path = os.path.join(folder, "manifest.json")
    with open(path) as f:
        try:
            m = json.load(f)
        except ValueError as e:
            raise ValueError("%s: %s" % (path, e)) from None
    if m.get("format") != "lorafn-shards" or m.get("version") != 1:
        raise ValueError("%s: format %r version %r; want \"lorafn-shards\" version 1" % (path, m.get("format"), m.get("version")))
    out = []
    for info in m.get("files") or []:
        name = info["name"]
        if name != os.path.basename(name) or not name.endswith(".shard"):
            raise ValueError("%s: bad shard name %r" % (path, name))
        exs = read_shard(os.path.join(folder, name))
        toks = sum(len(e[0]) for e in exs)
        if len(exs) != info["examples"] or toks != info["tokens"]:
            raise CorruptShard("%s: corrupt shard: %d examples and %d tokens, manifest says %d and %d"
                               % (os.path.join(folder, name), len(exs), toks, info["examples"], info["tokens"]))
        out.extend(exs)
    return out


def targets(ex, seq_len):
    """Tokens of ex (cut to seq_len) that carry a loss."""
    ids, labels = ex
    n = min(len(ids), seq_len)
    if labels is None:
        return max(0, n - 1)
    return int((labels[1:n] != IGNORE).sum())


def check_example(name, i, ex, vocab, seq_len):
    ids, labels = ex
    if len(ids) == 0:
        raise ValueError("train: %s example %d: no tokens" % (name, i))
    if labels is not None and len(labels) != len(ids):
        raise ValueError("train: %s example %d: %d labels for %d ids" % (name, i, len(labels), len(ids)))
    if (ids < 0).any() or (ids >= vocab).any():
        raise ValueError("train: %s example %d: token outside the vocabulary [0, %d)" % (name, i, vocab))
    if labels is not None and (((labels < 0) | (labels >= vocab)) & (labels != IGNORE)).any():
        raise ValueError("train: %s example %d: label neither %d nor in [0, %d)" % (name, i, IGNORE, vocab))
    if targets(ex, seq_len) == 0:
        raise ValueError("train: %s example %d: no token carries a loss within the first %d tokens" % (name, i, seq_len))


def collate(exs, seq_len):
    """Right-padded batch of examples cut to seq_len: (ids [B,T], mask [B,T]
    bool, labels [B,T]) as int64/bool numpy arrays, and the target tokens."""
    T = max(min(len(e[0]), seq_len) for e in exs)
    B = len(exs)
    ids = np.zeros((B, T), dtype=np.int64)
    mask = np.zeros((B, T), dtype=bool)
    labels = np.full((B, T), IGNORE, dtype=np.int64)
    tokens = 0
    for r, ex in enumerate(exs):
        n = min(len(ex[0]), seq_len)
        ids[r, :n] = ex[0][:n]
        mask[r, :n] = True
        labels[r, :n] = ex[0][:n] if ex[1] is None else ex[1][:n]
        tokens += targets(ex, seq_len)
    return (ids, mask, labels), tokens
