"""Counter-based randomness shared with lorafn's Go core: SplitMix64's
finaliser for data order and dropout seeds, PCG-DXSM (Go's math/rand/v2
PCG) for a new adapter's initial A, and the dropout keep masks."""

import torch

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MUL1 = 0xBF58476D1CE4E5B9
MUL2 = 0x94D049BB133111EB


def mix64(z):
    """SplitMix64's finaliser (core/train/order.go, core/model/block.go)."""
    z = (z + GOLDEN) & M64
    z = ((z ^ (z >> 30)) * MUL1) & M64
    z = ((z ^ (z >> 27)) * MUL2) & M64
    return z ^ (z >> 31)


def permutation(n, seed, epoch, shuffle):
    """The order of epoch `epoch` over n examples (core/train/doc.go)."""
    p = list(range(n))
    if not shuffle:
        return p
    key = mix64((seed ^ mix64((epoch + 1) & M64)) & M64)
    for i in range(n - 1, 0, -1):
        j = mix64((key + i) & M64) % (i + 1)
        p[i], p[j] = p[j], p[i]
    return p


def dropout_seed(seed, step, micro):
    """Keys the dropout masks of micro-batch `micro` of optimizer step `step`."""
    return mix64((mix64(seed ^ 0x64726F706F7574) + (step << 16) + micro) & M64)


NUM_SLOTS = 8  # slots of a block's linears: q, k, v, qkv, o, gate, up, down
SLOT = {"q": 0, "k": 1, "v": 2, "qkv": 3, "o": 4, "gate": 5, "up": 6, "down": 7}


def layer_seed(pass_seed, layer, slot):
    """The dropout seed of one linear call in a pass (core/model/block.go)."""
    return mix64(pass_seed ^ mix64(layer * NUM_SLOTS + slot + 1))


def _signed(u):
    return u - (1 << 64) if u >= 1 << 63 else u


def _srl(z, k):
    """Logical right shift of int64 tensors holding uint64 bits."""
    return (z >> k) & ((1 << (64 - k)) - 1)


def keep_mask(seed, numel, p, device):
    """Dropout keep mask of `numel` elements as core/peft/lora's keepBits:
    element i survives when SplitMix64(seed + (i+1)·golden) >> 11 is at least
    p·2^53. int64 arithmetic wraps like uint64, and shifts are made logical."""
    threshold = int(float(p) * (1 << 53))
    i = torch.arange(1, numel + 1, dtype=torch.int64, device=device)
    z = i * _signed(GOLDEN) + _signed(seed)
    z = (z ^ _srl(z, 30)) * _signed(MUL1)
    z = (z ^ _srl(z, 27)) * _signed(MUL2)
    z = _srl(z ^ _srl(z, 31), 11)
    return z >= threshold


class PCG:
    """Go's math/rand/v2 PCG (128-bit LCG with the DXSM output), seeded as
    rand.NewPCG(hi, lo)."""

    MUL = (2549297995355413924 << 64) | 4865540595714422341
    INC = (6364136223846793005 << 64) | 1442695040888963407
    M128 = (1 << 128) - 1

    def __init__(self, hi, lo):
        self.state = ((hi & M64) << 64) | (lo & M64)

    def uint64(self):
        self.state = (self.state * self.MUL + self.INC) & self.M128
        hi, lo = self.state >> 64, self.state & M64
        hi ^= hi >> 32
        hi = (hi * 0xDA942042E4DD58B5) & M64
        hi ^= hi >> 48
        return (hi * (lo | 1)) & M64

    def float64(self):
        """rand.Float64: 53 random bits over 2^53."""
        return (self.uint64() & ((1 << 53) - 1)) / float(1 << 53)
