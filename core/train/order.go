package train

// mix64 is SplitMix64's finaliser: a bijection of uint64 that scatters
// nearby counters to unrelated values.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// permutation returns the order of epoch e over n examples (see the
// package documentation).
func permutation(n int, seed uint64, epoch int, shuffle bool) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	if !shuffle {
		return p
	}
	key := mix64(seed ^ mix64(uint64(epoch)+1))
	for i := n - 1; i > 0; i-- {
		j := int(mix64(key+uint64(i)) % uint64(i+1))
		p[i], p[j] = p[j], p[i]
	}
	return p
}

// dropoutSeed keys the dropout masks of micro-batch j of optimizer step s.
func dropoutSeed(seed uint64, step, micro int) uint64 {
	return mix64(mix64(seed^0x64726f706f7574) + uint64(step)<<16 + uint64(micro)) // "dropout"
}
