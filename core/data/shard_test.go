package data

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// randomExamples makes n examples with ids below vocab, some labels
// ignored and some packed starts.
func randomExamples(rng *rand.Rand, n, vocab int) []Example {
	out := make([]Example, n)
	for i := range out {
		t := 1 + rng.IntN(40)
		ex := Example{IDs: make([]int, t), Labels: make([]int, t)}
		for j := range ex.IDs {
			ex.IDs[j] = rng.IntN(vocab)
			ex.Labels[j] = ex.IDs[j]
			if rng.IntN(3) == 0 {
				ex.Labels[j] = IgnoreIndex
			}
		}
		if rng.IntN(2) == 0 {
			ex.Starts = []int{0}
			for s := 1 + rng.IntN(5); s < t; s += 1 + rng.IntN(5) {
				ex.Starts = append(ex.Starts, s)
			}
		}
		out[i] = ex
	}
	return out
}

func writeShards(t *testing.T, dir string, exs []Example, shardTokens int64) {
	t.Helper()
	w, err := NewShardWriter(dir, shardTokens)
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range exs {
		if err := w.Add(ex); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestShardsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	exs := randomExamples(rng, 300, 50000)
	dir := t.TempDir()
	writeShards(t, dir, exs, 1000) // several files
	s, err := OpenShards(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Len() != len(exs) {
		t.Fatalf("Len = %d, want %d", s.Len(), len(exs))
	}
	if len(s.files) < 3 {
		t.Errorf("%d shard files, want several at 1000 tokens each", len(s.files))
	}
	var tokens int64
	for _, ex := range exs {
		tokens += int64(len(ex.IDs))
	}
	if s.Tokens() != tokens {
		t.Errorf("Tokens = %d, want %d", s.Tokens(), tokens)
	}
	// Random access in a shuffled order.
	for _, i := range rng.Perm(len(exs)) {
		got, err := s.Example(i)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, exs[i]) {
			t.Fatalf("example %d: got %+v, want %+v", i, got, exs[i])
		}
	}
	if _, err := s.Example(len(exs)); err == nil {
		t.Error("Example(Len()) did not fail")
	}
}

func TestShardsEmpty(t *testing.T) {
	dir := t.TempDir()
	writeShards(t, dir, nil, 0)
	s, err := OpenShards(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 0 {
		t.Errorf("Len = %d", s.Len())
	}
	s.Close()
}

// TestShardCorruption flips each byte of a small shard file in turn: every
// flip must be detected at open or when the example is read.
func TestShardCorruption(t *testing.T) {
	exs := []Example{
		{IDs: []int{5, 6, 7}, Labels: []int{IgnoreIndex, 6, 7}},
		{IDs: []int{1, 2, 3, 4}, Labels: []int{1, IgnoreIndex, 3, 4}, Starts: []int{0, 2}},
	}
	dir := t.TempDir()
	writeShards(t, dir, exs, 0)
	path := filepath.Join(dir, "00000.shard")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range orig {
		bad := bytes.Clone(orig)
		bad[i] ^= 0x40
		if err := readAll(bad); err == nil {
			t.Errorf("flipping byte %d of %d went unnoticed", i, len(orig))
		}
	}
	for n := 0; n < len(orig); n++ {
		if err := readAll(orig[:n]); err == nil {
			t.Errorf("file truncated to %d bytes went unnoticed", n)
		}
	}
	if err := readAll(orig); err != nil {
		t.Fatal(err)
	}
}

// readAll opens a shard file image and reads every example.
func readAll(data []byte) error {
	sf, err := openShard(bytes.NewReader(data), int64(len(data)), "test.shard")
	if err != nil {
		return err
	}
	for i := range sf.index {
		if _, err := sf.example(i); err != nil {
			return err
		}
	}
	return nil
}

func TestOpenShardsManifestMismatch(t *testing.T) {
	dir := t.TempDir()
	writeShards(t, dir, []Example{{IDs: []int{1, 2}, Labels: []int{1, 2}}}, 0)
	m := filepath.Join(dir, ManifestName)
	data, _ := os.ReadFile(m)
	os.WriteFile(m, bytes.Replace(data, []byte(`"examples": 1`), []byte(`"examples": 2`), 1), 0o644)
	if _, err := OpenShards(dir); !errors.Is(err, ErrCorrupt) {
		t.Errorf("manifest with the wrong count: err = %v, want ErrCorrupt", err)
	}
	os.Remove(filepath.Join(dir, "00000.shard"))
	if _, err := OpenShards(dir); err == nil {
		t.Error("missing shard file went unnoticed")
	}
}

func FuzzShardReader(f *testing.F) {
	var buf bytes.Buffer
	sw, _ := newShardWriter(&buf)
	for _, ex := range randomExamples(rand.New(rand.NewPCG(3, 4)), 3, 100) {
		sw.add(ex)
	}
	sw.finish()
	f.Add(buf.Bytes())
	f.Add([]byte(shardMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		sf, err := openShard(bytes.NewReader(data), int64(len(data)), "fuzz.shard")
		if err != nil {
			return
		}
		for i := range sf.index {
			ex, err := sf.example(i)
			if err != nil {
				continue
			}
			if len(ex.IDs) != len(ex.Labels) || len(ex.IDs) == 0 {
				t.Fatalf("example %d: %d ids, %d labels", i, len(ex.IDs), len(ex.Labels))
			}
		}
	})
}
