package safetensors

import (
	"bytes"
	"encoding/binary"
	"maps"
	"testing"
)

// FuzzNewReader feeds arbitrary bytes to NewReader. Whatever it accepts must
// read back without error, honour the layout invariants, and survive a
// write/read round trip unchanged.
func FuzzNewReader(f *testing.F) {
	var valid bytes.Buffer
	Write(&valid, []Tensor{
		F32Tensor("a", []int{2, 2}, []float32{1, -2, 3.5, 0}),
		{Name: "h", DType: F16, Shape: []int{3}, Data: []byte{0x00, 0x3c, 0x01, 0x00, 0x00, 0x7c}},
		{Name: "b", DType: BF16, Shape: []int{}, Data: []byte{0x80, 0x3f}},
		{Name: "e", DType: I64, Shape: []int{0, 5}},
		{Name: "u", DType: U8, Shape: []int{3}, Data: []byte{1, 2, 3}},
	}, map[string]string{"format": "pt"})
	f.Add(valid.Bytes())
	f.Add(build(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}`, make([]byte, 12)))
	f.Add(build(`{"a":{"dtype":"F16","shape":[-1],"data_offsets":[0,2]}}  `, make([]byte, 2)))
	f.Add(build(`{"__metadata__":{"k":1}}`, nil))
	f.Add(binary.LittleEndian.AppendUint64(nil, 1<<62))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		var next int64
		var tensors []Tensor
		for _, name := range r.Names() {
			info, ok := r.Info(name)
			if !ok || info.Begin != next || info.End < info.Begin {
				t.Fatalf("tensor %q: Info %+v, %v, want Begin %d", name, info, ok, next)
			}
			next = info.End
			raw, err := r.Raw(name)
			if err != nil || int64(len(raw)) != info.End-info.Begin {
				t.Fatalf("Raw(%q): %d bytes, %v", name, len(raw), err)
			}
			vals, err := r.Float32(name)
			if isFloat := info.DType == F32 || info.DType == F16 || info.DType == BF16; isFloat != (err == nil) {
				t.Fatalf("Float32(%q) of %s: %v", name, info.DType, err)
			}
			if err == nil && int64(len(vals)) != info.NumElements() {
				t.Fatalf("Float32(%q): %d values, want %d", name, len(vals), info.NumElements())
			}
			tensors = append(tensors, Tensor{name, info.DType, info.Shape, raw})
		}
		if next != int64(len(data))-r.dataStart {
			t.Fatalf("tensors end at %d, data section is %d bytes", next, int64(len(data))-r.dataStart)
		}

		var buf bytes.Buffer
		if err := Write(&buf, tensors, r.Metadata()); err != nil {
			t.Fatalf("rewriting an accepted file: %v", err)
		}
		again, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatalf("reading the rewritten file: %v", err)
		}
		if len(r.Metadata()) > 0 && !maps.Equal(again.Metadata(), r.Metadata()) {
			t.Fatalf("metadata %v became %v", r.Metadata(), again.Metadata())
		}
		for _, want := range tensors {
			got, err := again.Raw(want.Name)
			if err != nil || !bytes.Equal(got, want.Data) {
				t.Fatalf("tensor %q changed in the round trip: %v", want.Name, err)
			}
		}
	})
}
