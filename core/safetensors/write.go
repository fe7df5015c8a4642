package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"

	"github.com/lorafn/lorafn/internal/atomicfile"
)

// Tensor is a tensor to write; Data holds its little-endian, row-major bytes.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// F32Tensor encodes data as a little-endian F32 tensor.
func F32Tensor(name string, shape []int, data []float32) Tensor {
	b := make([]byte, 4*len(data))
	for i, v := range data {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return Tensor{Name: name, DType: F32, Shape: slices.Clone(shape), Data: b}
}

// Write writes a safetensors file. Tensor data follows the order of tensors,
// and the header is space-padded so that the data section starts 8-byte aligned,
// as the reference writer does. Empty metadata is omitted.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	header, err := encodeHeader(tensors, metadata)
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if _, err := w.Write(header); err != nil {
		return fmt.Errorf("safetensors: writing header: %w", err)
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return fmt.Errorf("safetensors: writing tensor %q: %w", t.Name, err)
		}
	}
	return nil
}

// entry is a tensor's header value; field order matches the reference writer.
type entry struct {
	DType   DType    `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// encodeHeader validates tensors and returns the length field plus the padded header.
func encodeHeader(tensors []Tensor, metadata map[string]string) ([]byte, error) {
	buf := bytes.NewBuffer(make([]byte, 8, 64)) // length field, filled in below
	buf.WriteByte('{')
	if len(metadata) > 0 {
		writeJSON(buf, metadataKey, metadata) // maps marshal with sorted keys
	}
	seen := make(map[string]bool, len(tensors))
	var offset int64
	for i, t := range tensors {
		switch {
		case t.Name == metadataKey:
			return nil, fmt.Errorf("tensor %d: name %q is reserved", i, t.Name)
		case seen[t.Name]:
			return nil, fmt.Errorf("duplicate tensor name %q", t.Name)
		}
		seen[t.Name] = true
		n, err := numBytes(t.DType, t.Shape)
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		if n != int64(len(t.Data)) {
			return nil, fmt.Errorf("tensor %q: shape %v of %s needs %d bytes, Data has %d", t.Name, t.Shape, t.DType, n, len(t.Data))
		}
		if buf.Len() > 9 {
			buf.WriteByte(',')
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{} // a scalar's shape is [], not null
		}
		writeJSON(buf, t.Name, entry{t.DType, shape, [2]int64{offset, offset + n}})
		offset += n
	}
	buf.WriteByte('}')
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	b := buf.Bytes()
	n := len(b) - 8
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("header of %d bytes exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	binary.LittleEndian.PutUint64(b, uint64(n))
	return b, nil
}

// writeJSON writes a key-value member; marshalling strings, string maps and
// entries cannot fail.
func writeJSON(buf *bytes.Buffer, key string, value any) {
	k, _ := json.Marshal(key)
	v, _ := json.Marshal(value)
	buf.Write(k)
	buf.WriteByte(':')
	buf.Write(v)
}

// WriteFile writes a safetensors file atomically: it writes a temporary file in
// the same folder, syncs it and renames it over path, so path never holds a
// partial file.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	return writeAtomic(path, func(w io.Writer) error { return Write(w, tensors, metadata) })
}

func writeAtomic(path string, fill func(io.Writer) error) error {
	if err := atomicfile.Write(path, fill); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}
