package tune

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/train"
)

const tinyLlama = `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 61,
	"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 3, "num_attention_heads": 4,
	"num_key_value_heads": 2, "head_dim": 8, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
	"rope_theta": 10000.0, "tie_word_embeddings": false, "hidden_act": "silu"}`

const tinyGPT2 = `{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 61,
	"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 32, "n_ctx": 32,
	"activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}`

// tinyBase writes a random model folder and returns its path.
func tinyBase(t testing.TB, config string, seed uint64) string {
	t.Helper()
	c, err := model.ParseConfig("config.json", []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(c, nil)
	m.InitRandom(seed, 0.2)
	dir := filepath.Join(t.TempDir(), "base")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func loadBase(t testing.TB, dir string) *model.Model {
	t.Helper()
	m, err := model.Load(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// randomExamples draws n sequences of 3..maxLen tokens; every third one has
// an ignored prompt, like prepared prompt/completion data.
func randomExamples(n, maxLen, vocab int, seed uint64) train.Examples {
	rng := rand.New(rand.NewPCG(seed, 7))
	var out train.Examples
	for i := 0; i < n; i++ {
		l := 3 + rng.IntN(maxLen-2)
		ex := train.Example{IDs: make([]int, l)}
		for j := range ex.IDs {
			ex.IDs[j] = rng.IntN(vocab)
		}
		if i%3 == 0 {
			ex.Labels = slices.Clone(ex.IDs)
			for j := 0; j < l/2; j++ {
				ex.Labels[j] = model.IgnoreIndex
			}
		}
		out = append(out, ex)
	}
	return out
}

// patternExamples is a learnable task: each sequence counts up modulo the
// vocabulary from a random start.
func patternExamples(n, length, vocab int, seed uint64) train.Examples {
	rng := rand.New(rand.NewPCG(seed, 8))
	var out train.Examples
	for i := 0; i < n; i++ {
		start := rng.IntN(vocab)
		ex := train.Example{IDs: make([]int, length)}
		for j := range ex.IDs {
			ex.IDs[j] = (start + 3*j) % vocab
		}
		out = append(out, ex)
	}
	return out
}

// hashDir returns the sha256 of every file in dir, keyed by name.
func hashDir(t testing.TB, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, f)
		f.Close()
		out[e.Name()] = hex.EncodeToString(h.Sum(nil))
	}
	return out
}

func copyTestFile(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
