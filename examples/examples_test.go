package examples

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"testing"

	"github.com/lorafn/lorafn/core/data"
	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/safetensors"
	"github.com/lorafn/lorafn/core/tokenizer"
	"github.com/lorafn/lorafn/functions/runs"
)

// readJSON decodes an embedded JSON file into a generic map.
func readJSON(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := FS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

func TestEmbeddedFiles(t *testing.T) {
	for _, name := range []string{
		"base/config.json", "base/model.safetensors", "base/tokenizer.json",
		"base/tokenizer_config.json", "base/generation_config.json", "base/README.md",
		"spam/train.jsonl", "spam/test.jsonl", "spam/lorafn.json", "general/text.jsonl",
	} {
		if _, err := fs.Stat(FS, name); err != nil {
			t.Errorf("embedded %s: %v", name, err)
		}
	}
	// Size limits: the base model folder at most 20 MB, each dataset
	// at most 5 MB.
	limits := map[string]int64{"base": 20e6, "spam": 5e6, "general": 5e6}
	for dir, limit := range limits {
		var total int64
		err := fs.WalkDir(FS, dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			total += info.Size()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if total > limit {
			t.Errorf("%s/ holds %d bytes, over the %d limit", dir, total, limit)
		}
	}
}

// TestBaseConfig checks config.json against what transformers'
// LlamaConfig and LlamaForCausalLM need to load the folder.
func TestBaseConfig(t *testing.T) {
	c := readJSON(t, "base/config.json")
	if a, _ := c["architectures"].([]any); len(a) != 1 || a[0] != "LlamaForCausalLM" {
		t.Errorf("architectures = %v, want [LlamaForCausalLM]", c["architectures"])
	}
	if c["model_type"] != "llama" {
		t.Errorf("model_type = %v, want llama", c["model_type"])
	}
	for _, f := range []string{"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
		"num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings",
		"rms_norm_eps", "rope_theta", "initializer_range", "bos_token_id", "eos_token_id"} {
		if _, ok := c[f].(float64); !ok {
			t.Errorf("config.json: %s = %v, want a number", f, c[f])
		}
	}
	if c["hidden_act"] != "silu" || c["tie_word_embeddings"] != true || c["torch_dtype"] != "float32" {
		t.Errorf("hidden_act %v, tie_word_embeddings %v, torch_dtype %v: want silu, true, float32",
			c["hidden_act"], c["tie_word_embeddings"], c["torch_dtype"])
	}
	h, nq, d := c["hidden_size"].(float64), c["num_attention_heads"].(float64), c["head_dim"].(float64)
	if nq*d != h || math.Mod(nq, c["num_key_value_heads"].(float64)) != 0 {
		t.Errorf("heads %v × head_dim %v != hidden %v, or heads not a multiple of key-value heads", nq, d, h)
	}
}

// TestBaseWeights checks model.safetensors' names and shapes against the
// Llama layout (tied: no lm_head.weight) and loads the model with
// core/model.
func TestBaseWeights(t *testing.T) {
	m, err := model.Load("base", nil)
	if err != nil {
		t.Fatal(err)
	}
	c := m.Config
	if n := m.NumParams(); n < 2e6 || n > 10e6 {
		t.Errorf("%d parameters, want 2-10 M", n)
	}
	ck, err := safetensors.OpenCheckpoint("base")
	if err != nil {
		t.Fatal(err)
	}
	defer ck.Close()
	H, I, V := c.Hidden, c.Intermediate, c.VocabSize
	q, kv := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	want := map[string][]int{"model.embed_tokens.weight": {V, H}, "model.norm.weight": {H}}
	for i := range c.Layers {
		p := fmt.Sprintf("model.layers.%d.", i)
		want[p+"input_layernorm.weight"] = []int{H}
		want[p+"post_attention_layernorm.weight"] = []int{H}
		want[p+"self_attn.q_proj.weight"] = []int{q, H}
		want[p+"self_attn.k_proj.weight"] = []int{kv, H}
		want[p+"self_attn.v_proj.weight"] = []int{kv, H}
		want[p+"self_attn.o_proj.weight"] = []int{H, q}
		want[p+"mlp.gate_proj.weight"] = []int{I, H}
		want[p+"mlp.up_proj.weight"] = []int{I, H}
		want[p+"mlp.down_proj.weight"] = []int{H, I}
	}
	names := ck.Names()
	if len(names) != len(want) {
		t.Errorf("%d tensors, want %d", len(names), len(want))
	}
	for _, name := range names {
		info, _ := ck.Info(name)
		shape, ok := want[name]
		if !ok {
			t.Errorf("unexpected tensor %s", name)
			continue
		}
		if fmt.Sprint(info.Shape) != fmt.Sprint(shape) || info.DType != safetensors.F32 {
			t.Errorf("%s: %v %v, want F32 %v", name, info.DType, info.Shape, shape)
		}
	}
}

// TestBaseTokenizer checks the tokenizer against the model: the same
// vocabulary size, special tokens that exist and match config.json's ids,
// and a lossless round trip.
func TestBaseTokenizer(t *testing.T) {
	tok, err := tokenizer.Load("base/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	tc, err := tokenizer.LoadConfig("base/tokenizer_config.json")
	if err != nil {
		t.Fatal(err)
	}
	c := readJSON(t, "base/config.json")
	gc := readJSON(t, "base/generation_config.json")
	if got := float64(tok.VocabSize()); got != c["vocab_size"] {
		t.Errorf("tokenizer has %v tokens, config.json vocab_size %v", got, c["vocab_size"])
	}
	for _, s := range []struct {
		token string
		field string
	}{{tc.BOSToken, "bos_token_id"}, {tc.EOSToken, "eos_token_id"}} {
		id, ok := tok.TokenID(s.token)
		if !ok {
			t.Errorf("tokenizer_config.json token %q is not in the vocabulary", s.token)
			continue
		}
		if float64(id) != c[s.field] || float64(id) != gc[s.field] {
			t.Errorf("%s: token %q is id %d; config.json says %v, generation_config.json %v", s.field, s.token, id, c[s.field], gc[s.field])
		}
	}
	text := "Call me Ishmael. The Congress met on 3 December 1850 — and “whales” café.\n"
	if got := tok.Decode(tok.Encode(text, true), false); got != text {
		t.Errorf("round trip: %q, want %q", got, text)
	}
	// A trained BPE vocabulary compresses English prose to well under one
	// token per 3 bytes; raw bytes would be one per byte.
	prose := "It is the duty of the government to protect the people and to promote the welfare of the nation."
	if ids := tok.Encode(prose, true); len(ids)*3 > len(prose) {
		t.Errorf("%d tokens for %d bytes: the vocabulary does not compress", len(ids), len(prose))
	}
}

// TestBaseModelIsTrained scores a few general reference records: a trained
// model's loss is far below that of uniform guessing, ln(vocab).
func TestBaseModelIsTrained(t *testing.T) {
	m, err := model.Load("base", nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Load("base/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	recs := readRecords(t, "general/text.jsonl")
	var sum float64
	var n int
	for _, r := range recs[:8] {
		ids := tok.Encode(r.Text, true)
		res, err := m.Loss(&model.Batch{B: 1, T: len(ids), IDs: ids, Labels: ids})
		if err != nil {
			t.Fatal(err)
		}
		sum, n = sum+res.SumLoss, n+res.Tokens
	}
	loss, uniform := sum/float64(n), math.Log(float64(m.Config.VocabSize))
	t.Logf("general loss %.3f over %d tokens (uniform %.3f)", loss, n, uniform)
	if loss > uniform-2.5 {
		t.Errorf("loss on held-out text %.3f, want below %.3f (uniform guessing %.3f)", loss, uniform-2.5, uniform)
	}
}

func readRecords(t *testing.T, name string) []data.Record {
	t.Helper()
	f, err := FS.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := data.NewJSONLReader(f, name)
	var out []data.Record
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rec)
	}
}

// TestSpamData checks that every task record parses as text/label, that
// both splits are balanced, and that no text is in both.
func TestSpamData(t *testing.T) {
	inTrain := map[string]bool{}
	for _, split := range []string{"train", "test"} {
		recs := readRecords(t, "spam/"+split+".jsonl")
		counts := map[string]int{}
		for _, r := range recs {
			if r.Format != data.FormatTextLabel {
				t.Fatalf("%s:%d: format %s, want text_label", r.File, r.Line, r.Format)
			}
			counts[r.Label]++
			if split == "train" {
				inTrain[r.Text] = true
			} else if inTrain[r.Text] {
				t.Errorf("%s:%d: text also in train.jsonl", r.File, r.Line)
			}
		}
		if len(counts) != 2 || counts["spam"] == 0 || counts["spam"] != counts["ham"] {
			t.Errorf("%s: label counts %v, want as many spam as ham and nothing else", split, counts)
		}
	}
}

// TestGeneralData checks the forgetting set: plain text records, none of
// them in the spam task.
func TestGeneralData(t *testing.T) {
	recs := readRecords(t, "general/text.jsonl")
	if len(recs) < 100 || len(recs) > 300 {
		t.Errorf("%d records, want 100-300", len(recs))
	}
	for _, r := range recs {
		if r.Format != data.FormatText || r.Text == "" {
			t.Fatalf("%s:%d: format %s, want non-empty text", r.File, r.Line, r.Format)
		}
	}
}

// TestRunConfig checks spam/lorafn.json against the run configuration:
// known fields only, valid values, and the paths the example layout uses.
func TestRunConfig(t *testing.T) {
	raw, err := FS.ReadFile("spam/lorafn.json")
	if err != nil {
		t.Fatal(err)
	}
	c := runs.DefaultConfig()
	if err := c.Merge("spam/lorafn.json", raw); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Name != "spam" || c.BaseModel != "models/base/" || c.GeneralEval != "datasets/general/text.jsonl" {
		t.Errorf("name %q, base_model %q, general_eval %q", c.Name, c.BaseModel, c.GeneralEval)
	}
	if c.Method.Method != "lora" {
		t.Errorf("method %q, want lora", c.Method.Method)
	}
}
