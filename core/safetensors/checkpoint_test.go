package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func testTensors() []Tensor {
	var ts []Tensor
	for i, name := range []string{"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
		"model.layers.0.mlp.down_proj.weight", "model.norm.weight", "lm_head.weight"} {
		vals := make([]float32, 8*(i+1))
		for k := range vals {
			vals[k] = float32(i) + float32(k)/8
		}
		ts = append(ts, F32Tensor(name, []int{i + 1, 8}, vals))
	}
	ts = append(ts,
		Tensor{Name: "model.layers.1.input_layernorm.weight", DType: BF16, Shape: []int{4}, Data: u16s(0x3F80, 0xC000, 0x8000, 0x7F80)},
		Tensor{Name: "model.layers.1.post_attention_layernorm.weight", DType: F16, Shape: []int{3}, Data: u16s(0x3C00, 0x0001, 0xFC00)},
		Tensor{Name: "zero", DType: F32, Shape: []int{0}, Data: nil})
	return ts
}

func TestCheckpointShardedMatchesSingle(t *testing.T) {
	tensors := testTensors()
	meta := map[string]string{"format": "pt"}
	single, sharded := t.TempDir(), filepath.Join(t.TempDir(), "new")
	if err := WriteCheckpoint(single, tensors, meta, 0); err != nil {
		t.Fatal(err)
	}
	if err := WriteCheckpoint(sharded, tensors, meta, 100); err != nil {
		t.Fatal(err)
	}
	shards, _ := filepath.Glob(filepath.Join(sharded, "model-*-of-*.safetensors"))
	if len(shards) < 3 {
		t.Fatalf("got shards %v, want at least 3 for maxShardBytes=100", shards)
	}
	if want := fmt.Sprintf("model-00001-of-%05d.safetensors", len(shards)); filepath.Base(shards[0]) != want {
		t.Errorf("first shard is named %s", filepath.Base(shards[0]))
	}
	if _, err := os.Stat(filepath.Join(sharded, SingleFileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("sharded checkpoint also has %s", SingleFileName)
	}
	var idx struct {
		Metadata  map[string]int64  `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	raw, _ := os.ReadFile(filepath.Join(sharded, IndexFileName))
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, ts := range tensors {
		total += int64(len(ts.Data))
	}
	if idx.Metadata["total_size"] != total || len(idx.WeightMap) != len(tensors) {
		t.Errorf("index metadata %v with %d entries, want total_size %d and %d entries", idx.Metadata, len(idx.WeightMap), total, len(tensors))
	}

	a, err := OpenCheckpoint(single)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := OpenCheckpoint(sharded)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var want []string
	for _, ts := range tensors {
		want = append(want, ts.Name)
	}
	slices.Sort(want)
	if !reflect.DeepEqual(a.Names(), want) || !reflect.DeepEqual(b.Names(), want) {
		t.Fatalf("Names: single %v, sharded %v, want %v", a.Names(), b.Names(), want)
	}
	for _, ts := range tensors {
		ia, _ := a.Info(ts.Name)
		ib, ok := b.Info(ts.Name)
		if !ok || ia.DType != ib.DType || !reflect.DeepEqual(ia.Shape, ib.Shape) || !reflect.DeepEqual(ib.Shape, ts.Shape) {
			t.Errorf("Info(%s): single %+v, sharded %+v", ts.Name, ia, ib)
		}
		ra, _ := a.Raw(ts.Name)
		rb, err := b.Raw(ts.Name)
		if err != nil || string(ra) != string(rb) || string(rb) != string(ts.Data) {
			t.Errorf("Raw(%s) differs: %v", ts.Name, err)
		}
		fa, errA := a.Float32(ts.Name)
		fb, errB := b.Float32(ts.Name)
		if errA != nil || errB != nil || !reflect.DeepEqual(fa, fb) {
			t.Errorf("Float32(%s): single %v %v, sharded %v %v", ts.Name, fa, errA, fb, errB)
		}
	}
	if v, _ := b.Float32("model.layers.1.post_attention_layernorm.weight"); v[0] != 1 || v[1] != 0x1p-24 || v[2] > -1e38 {
		t.Errorf("F16 values = %v", v)
	}
	if _, err := b.Float32("missing"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Float32(missing) = %v, want ErrNotFound", err)
	}
	if _, ok := b.Info("missing"); ok {
		t.Error("Info(missing) reported ok")
	}
}

// TestWriteCheckpointReplacesLayout makes sure a rewrite in the other layout
// leaves nothing that would shadow it.
func TestWriteCheckpointReplacesLayout(t *testing.T) {
	dir := t.TempDir()
	old := []Tensor{F32Tensor("old", []int{1}, []float32{1})}
	cur := []Tensor{F32Tensor("new", []int{1}, []float32{2})}
	if err := WriteCheckpoint(dir, old, nil, 1); err != nil {
		t.Fatal(err)
	}
	if err := WriteCheckpoint(dir, cur, nil, 0); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Names(); !reflect.DeepEqual(got, []string{"new"}) {
		t.Errorf("after single-file rewrite Names = %v, want [new]", got)
	}
	c.Close()
	if err := WriteCheckpoint(dir, old, nil, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, SingleFileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("sharded rewrite kept %s: %v", SingleFileName, err)
	}
	empty := t.TempDir()
	if err := WriteCheckpoint(empty, append(cur, cur...), nil, 1); err == nil {
		t.Error("WriteCheckpoint with duplicate names succeeded")
	}
	if entries, _ := os.ReadDir(empty); len(entries) != 0 {
		t.Errorf("failed WriteCheckpoint left %v", entries)
	}
	if err := WriteCheckpoint(empty, nil, nil, 1); err != nil {
		t.Fatal(err)
	}
	if c, err := OpenCheckpoint(empty); err != nil || len(c.Names()) != 0 {
		t.Errorf("empty sharded checkpoint: %v", err)
	}
}

func TestOpenCheckpointPrefersIndex(t *testing.T) {
	dir := t.TempDir()
	if err := WriteFile(filepath.Join(dir, SingleFileName), []Tensor{F32Tensor("single", []int{}, []float32{1})}, nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "s.safetensors"), []Tensor{F32Tensor("sharded", []int{}, []float32{1})}, nil); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, IndexFileName), []byte(`{"metadata":{"total_size":4},"weight_map":{"sharded":"s.safetensors"}}`), 0o644)
	c, err := OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Names(); !reflect.DeepEqual(got, []string{"sharded"}) {
		t.Errorf("Names = %v, want [sharded]", got)
	}
}

func TestOpenCheckpointRejects(t *testing.T) {
	// Two shards: a.safetensors holds x and y, b.safetensors holds z.
	base := t.TempDir()
	WriteFile(filepath.Join(base, "a.safetensors"), []Tensor{F32Tensor("x", []int{1}, []float32{1}), F32Tensor("y", []int{1}, []float32{2})}, nil)
	WriteFile(filepath.Join(base, "b.safetensors"), []Tensor{F32Tensor("z", []int{1}, []float32{3})}, nil)
	WriteFile(filepath.Join(base, "dup.safetensors"), []Tensor{F32Tensor("x", []int{1}, []float32{1})}, nil)
	WriteFile(filepath.Join(filepath.Dir(base), "outside.safetensors"), []Tensor{F32Tensor("z", []int{1}, []float32{3})}, nil)
	const ab = `"x":"a.safetensors","y":"a.safetensors","z":"b.safetensors"`
	for _, tc := range []struct {
		name, index, want string
		is                error
	}{
		{"missing tensor", `{"weight_map":{` + ab + `,"w":"b.safetensors"}}`, `maps "w" to b.safetensors, which does not hold it`, ErrNotFound},
		{"missing shard", `{"weight_map":{` + ab + `,"w":"c.safetensors"}}`, "c.safetensors", fs.ErrNotExist},
		{"parent traversal", `{"weight_map":{"x":"a.safetensors","y":"a.safetensors","z":"../outside.safetensors"}}`, `shard "../outside.safetensors" is not a plain file name`, ErrInvalid},
		{"absolute path", `{"weight_map":{"z":"` + filepath.Join(base, "b.safetensors") + `"}}`, "not a plain file name", ErrInvalid},
		{"subfolder", `{"weight_map":{"z":"sub/b.safetensors"}}`, "not a plain file name", ErrInvalid},
		{"backslash", `{"weight_map":{"z":"..\\b.safetensors"}}`, "not a plain file name", ErrInvalid},
		{"dot", `{"weight_map":{"z":"."}}`, "not a plain file name", ErrInvalid},
		{"tensor in two shards", `{"weight_map":{` + ab + `,"q":"dup.safetensors"}}`, `"x" is in both`, ErrInvalid},
		{"shard tensor not listed", `{"weight_map":{"x":"a.safetensors","z":"b.safetensors"}}`, `"y" in a.safetensors is not listed`, ErrInvalid},
		{"tensor in wrong shard", `{"weight_map":{"x":"a.safetensors","y":"b.safetensors","z":"b.safetensors"}}`, `"y" is in a.safetensors but weight_map maps it to b.safetensors`, ErrInvalid},
		{"duplicate weight_map key", `{"weight_map":{` + ab + `,"x":"b.safetensors"}}`, `duplicate key "x"`, ErrInvalid},
		{"weight_map missing", `{"metadata":{"total_size":12}}`, "weight_map is missing", ErrInvalid},
		{"shard not a string", `{"weight_map":{"x":1}}`, `tensor "x": want string`, ErrInvalid},
		{"invalid JSON", `{"weight_map":`, "unexpected end of JSON", ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(filepath.Join(base, IndexFileName), []byte(tc.index), 0o644)
			c, err := OpenCheckpoint(base)
			if err == nil {
				c.Close()
				t.Fatalf("OpenCheckpoint accepted index %s", tc.index)
			}
			t.Log(err)
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant %v mentioning %q", err, tc.is, tc.want)
			}
		})
	}
}

func TestOpenCheckpointEmptyFolder(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenCheckpoint(dir)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), dir) {
		t.Errorf("err = %v, want ErrNotExist naming %s", err, dir)
	}
	os.WriteFile(filepath.Join(dir, SingleFileName), []byte("garbage!garbage!"), 0o644)
	if _, err := OpenCheckpoint(dir); !errors.Is(err, ErrInvalid) {
		t.Errorf("corrupt model.safetensors: err = %v, want ErrInvalid", err)
	}
}
