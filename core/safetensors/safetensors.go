// Package safetensors reads and writes the Hugging Face safetensors format
// and sharded model checkpoints built from it.
//
// A file is laid out as
//
//	[8 bytes]  N, the header length, uint64 little-endian
//	[N bytes]  UTF-8 JSON object, starting with '{', possibly right-padded with spaces
//	[rest]     data section: raw little-endian, row-major tensor bytes
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]},
// with offsets relative to the start of the data section and end exclusive. The
// optional key "__metadata__" holds a string-to-string map.
//
// The reader is strict, like the reference implementation: the header is at most
// MaxHeaderSize bytes, keys are unique, every tensor's byte span matches its shape
// and dtype, and the spans sorted by offset tile the data section exactly, from 0 to
// its last byte, with no gap, overlap or trailing bytes. Rank-0 tensors (shape [])
// hold one element; tensors with a zero dimension hold none and have begin == end.
// Tensor data is read lazily with positioned reads, so a File is safe for
// concurrent use by multiple goroutines.
package safetensors

import (
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
)

// MaxHeaderSize is the largest header accepted, the reference reader's limit.
const MaxHeaderSize = 100_000_000

// chunkBytes bounds the scratch buffer Float32 converts through, so that
// converting a tensor never holds its raw bytes and its float32 copy at once.
const chunkBytes = 1 << 16

// constError lets the sentinel errors be constants rather than package variables.
type constError string

func (e constError) Error() string { return string(e) }

const (
	// ErrInvalid is wrapped by every error about malformed file contents.
	ErrInvalid = constError("invalid format")
	// ErrNotFound is wrapped by errors for a tensor name that is not present.
	ErrNotFound = constError("tensor not found")
)

// DType names an element type as spelled in the header.
type DType string

// Known dtypes. The sub-byte F4 and F6 types are not supported.
const (
	F64        DType = "F64"
	F32        DType = "F32"
	F16        DType = "F16"
	BF16       DType = "BF16"
	I64        DType = "I64"
	I32        DType = "I32"
	I16        DType = "I16"
	I8         DType = "I8"
	U64        DType = "U64"
	U32        DType = "U32"
	U16        DType = "U16"
	U8         DType = "U8"
	BOOL       DType = "BOOL"
	C64        DType = "C64"
	F8E4M3     DType = "F8_E4M3"
	F8E5M2     DType = "F8_E5M2"
	F8E8M0     DType = "F8_E8M0"
	F8E4M3FNUZ DType = "F8_E4M3FNUZ"
	F8E5M2FNUZ DType = "F8_E5M2FNUZ"
)

// Size returns the bytes per element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64, C64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case I8, U8, BOOL, F8E4M3, F8E5M2, F8E8M0, F8E4M3FNUZ, F8E5M2FNUZ:
		return 1
	}
	return 0
}

// TensorInfo describes one tensor. Begin and End are byte offsets relative to
// the start of the data section, End exclusive.
type TensorInfo struct {
	Name       string
	DType      DType
	Shape      []int
	Begin, End int64
}

// NumElements returns the product of the shape (1 for a scalar).
func (t TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= int64(d)
	}
	return n
}

// numBytes returns the byte size of shape × dtype, failing on negative
// dimensions and on overflow rather than wrapping.
func numBytes(dt DType, shape []int) (int64, error) {
	size := int64(dt.Size())
	if size == 0 {
		return 0, fmt.Errorf("dtype %q is unknown or unsupported", dt)
	}
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d != 0 && n > math.MaxInt64/int64(d) {
			return 0, fmt.Errorf("shape %v overflows", shape)
		}
		n *= int64(d)
	}
	if n > math.MaxInt64/size {
		return 0, fmt.Errorf("shape %v of %s overflows", shape, dt)
	}
	return n * size, nil
}

// File is one opened safetensors file. Only the header is held in memory.
type File struct {
	path      string // for error messages; "" when built by NewReader
	r         io.ReaderAt
	closer    io.Closer // nil unless Open created r
	dataStart int64
	meta      map[string]string
	infos     []TensorInfo // sorted by Begin
	byName    map[string]int
}

// Open opens and validates the safetensors file at path.
func Open(path string) (*File, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	st, err := fd.Stat()
	if err != nil {
		fd.Close()
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := newFile(path, fd, st.Size())
	if err != nil {
		fd.Close()
		return nil, err
	}
	f.closer = fd
	return f, nil
}

// NewReader parses and validates the header of a safetensors file of size
// bytes read through r. The File does not take ownership of r.
func NewReader(r io.ReaderAt, size int64) (*File, error) {
	return newFile("", r, size)
}

func newFile(path string, r io.ReaderAt, size int64) (*File, error) {
	f := &File{path: path, r: r}
	if size < 8 {
		return nil, f.invalid(fmt.Errorf("file is %d bytes, too short for the 8-byte header length", size))
	}
	var lenBuf [8]byte
	if err := readFull(r, lenBuf[:], 0); err != nil {
		return nil, f.errorf("reading header length: %w", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	// Check N before allocating: it is untrusted.
	if n > MaxHeaderSize {
		return nil, f.invalid(fmt.Errorf("header length %d exceeds the %d-byte limit", n, MaxHeaderSize))
	}
	if n > uint64(size-8) {
		return nil, f.invalid(fmt.Errorf("header length %d exceeds the %d bytes after the length field (truncated file?)", n, size-8))
	}
	header := make([]byte, n)
	if err := readFull(r, header, 8); err != nil {
		return nil, f.errorf("reading header: %w", err)
	}
	f.dataStart = 8 + int64(n)
	meta, infos, err := parseHeader(header, size-f.dataStart)
	if err != nil {
		return nil, f.invalid(err)
	}
	f.meta, f.infos = meta, infos
	f.byName = make(map[string]int, len(infos))
	for i, t := range infos {
		f.byName[t.Name] = i
	}
	return f, nil
}

// readFull reads len(p) bytes at off, treating a short read as unexpected EOF.
func readFull(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil // io.ReaderAt may report io.EOF alongside a full read
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (f *File) errorf(format string, args ...any) error {
	if f.path != "" {
		return fmt.Errorf("safetensors: %s: "+format, append([]any{f.path}, args...)...)
	}
	return fmt.Errorf("safetensors: "+format, args...)
}

func (f *File) invalid(err error) error { return f.errorf("%w: %w", ErrInvalid, err) }

// Close releases the file opened by Open; it is a no-op for NewReader files.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	err := f.closer.Close()
	f.closer = nil
	return err
}

// Metadata returns a copy of the "__metadata__" map (nil when absent).
func (f *File) Metadata() map[string]string { return maps.Clone(f.meta) }

// Names returns the tensor names in data-offset order.
func (f *File) Names() []string {
	names := make([]string, len(f.infos))
	for i, t := range f.infos {
		names[i] = t.Name
	}
	return names
}

// Info returns the description of the named tensor.
func (f *File) Info(name string) (TensorInfo, bool) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, false
	}
	t := f.infos[i]
	t.Shape = slices.Clone(t.Shape) // callers must not alter our copy
	return t, true
}

func (f *File) lookup(name string) (TensorInfo, error) {
	i, ok := f.byName[name]
	if !ok {
		return TensorInfo{}, f.errorf("%w: %q", ErrNotFound, name)
	}
	return f.infos[i], nil
}

// Raw returns the tensor's bytes as stored (little-endian, row-major).
func (f *File) Raw(name string) ([]byte, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, t.End-t.Begin) // validated against the file size at open
	if err := readFull(f.r, buf, f.dataStart+t.Begin); err != nil {
		return nil, f.errorf("tensor %q: %w", name, err)
	}
	return buf, nil
}

// Float32 reads an F32, F16 or BF16 tensor and converts it exactly to float32.
func (f *File) Float32(name string) ([]float32, error) {
	t, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	conv := converter(t.DType)
	if conv == nil {
		return nil, f.errorf("tensor %q: Float32 cannot convert dtype %s (want F32, F16 or BF16)", name, t.DType)
	}
	size := t.DType.Size()
	out := make([]float32, t.NumElements())
	buf := make([]byte, min(chunkBytes, t.End-t.Begin))
	off := f.dataStart + t.Begin
	for i := 0; i < len(out); {
		k := min(len(buf)/size, len(out)-i)
		b := buf[:k*size]
		if err := readFull(f.r, b, off); err != nil {
			return nil, f.errorf("tensor %q: %w", name, err)
		}
		conv(out[i:i+k], b)
		i += k
		off += int64(len(b))
	}
	return out, nil
}

// converter returns the decoder of dt into float32, or nil if there is none.
func converter(dt DType) func(dst []float32, src []byte) {
	switch dt {
	case F32:
		return func(dst []float32, src []byte) {
			for i := range dst {
				dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
			}
		}
	case F16:
		return func(dst []float32, src []byte) {
			src = src[:2*len(dst)]
			for i := range dst {
				dst[i] = F16ToFloat32(uint16(src[2*i]) | uint16(src[2*i+1])<<8)
			}
		}
	case BF16:
		return func(dst []float32, src []byte) {
			src = src[:2*len(dst)] // lets the compiler drop per-element bounds checks
			for i := range dst {
				dst[i] = math.Float32frombits(uint32(src[2*i])<<16 | uint32(src[2*i+1])<<24)
			}
		}
	}
	return nil
}

// BF16ToFloat32 converts bfloat16 bits exactly: bfloat16 is the top half of a float32.
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F16ToFloat32 converts IEEE half-precision bits exactly, keeping the sign of
// zero, infinities, NaN payloads and subnormals.
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // Inf or NaN: widen the payload
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal: rebias the exponent from 15 to 127
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
	// Zero or subnormal, mant × 2^-24: exact, since mant has at most 10 bits.
	v := float32(mant) * 0x1p-24
	return math.Float32frombits(sign | math.Float32bits(v))
}
