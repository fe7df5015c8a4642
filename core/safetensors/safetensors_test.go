package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// build lays out a file by hand: length field, header text, data bytes.
func build(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func newReader(t *testing.T, b []byte) *File {
	t.Helper()
	f, err := NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	return f
}

func encode(t *testing.T, tensors []Tensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, tensors, meta); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

func u16s(vals ...uint16) []byte {
	var b []byte
	for _, v := range vals {
		b = binary.LittleEndian.AppendUint16(b, v)
	}
	return b
}

var allDTypes = []DType{F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, C64,
	F8E4M3, F8E5M2, F8E8M0, F8E4M3FNUZ, F8E5M2FNUZ}

func TestRoundTripAllDTypes(t *testing.T) {
	var tensors []Tensor
	for i, dt := range allDTypes {
		shape := []int{2, 3}
		data := make([]byte, 6*dt.Size())
		for k := range data {
			data[k] = byte(i*31 + k*7)
		}
		tensors = append(tensors, Tensor{Name: "t." + string(dt), DType: dt, Shape: shape, Data: data})
	}
	tensors = append(tensors,
		F32Tensor("scalar", []int{}, []float32{3.5}),
		Tensor{Name: "empty", DType: BF16, Shape: []int{0, 4}, Data: []byte{}},
		F32Tensor("after.empty", []int{1}, []float32{-2}))
	meta := map[string]string{"format": "pt", "note": `quotes " and <html> & ünïcode`}
	b := encode(t, tensors, meta)

	if n := binary.LittleEndian.Uint64(b); (8+n)%8 != 0 {
		t.Errorf("data section starts at %d, not 8-byte aligned", 8+n)
	}
	f := newReader(t, b)
	if got := f.Metadata(); !reflect.DeepEqual(got, meta) {
		t.Errorf("Metadata = %v, want %v", got, meta)
	}
	var want []string
	var offset int64
	for _, tt := range tensors {
		want = append(want, tt.Name)
		info, ok := f.Info(tt.Name)
		wantInfo := TensorInfo{tt.Name, tt.DType, tt.Shape, offset, offset + int64(len(tt.Data))}
		if !ok || !reflect.DeepEqual(info, wantInfo) {
			t.Errorf("Info(%q) = %+v, %v; want %+v", tt.Name, info, ok, wantInfo)
		}
		offset += int64(len(tt.Data))
		raw, err := f.Raw(tt.Name)
		if err != nil || !bytes.Equal(raw, tt.Data) {
			t.Errorf("Raw(%q) = %v, %v; want %v", tt.Name, raw, err, tt.Data)
		}
		vals, err := f.Float32(tt.Name)
		switch tt.DType {
		case F32, F16, BF16:
			if err != nil || int64(len(vals)) != info.NumElements() {
				t.Errorf("Float32(%q) = %d values, %v; want %d", tt.Name, len(vals), err, info.NumElements())
			}
		default:
			if err == nil || !strings.Contains(err.Error(), string(tt.DType)) {
				t.Errorf("Float32(%q) of %s: err = %v, want an error naming the dtype", tt.Name, tt.DType, err)
			}
		}
	}
	// Names follow data offsets; the zero-size tensor sorts before the one sharing its offset.
	if got := f.Names(); !reflect.DeepEqual(got, want) {
		t.Errorf("Names = %v, want %v", got, want)
	}
	if v, _ := f.Float32("scalar"); len(v) != 1 || v[0] != 3.5 {
		t.Errorf("scalar = %v, want [3.5]", v)
	}
}

func TestWriteMatchesReferenceLayout(t *testing.T) {
	b := encode(t, []Tensor{F32Tensor("a", []int{2}, []float32{1, 2})}, map[string]string{"format": "pt"})
	header := `{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`
	for len(header)%8 != 0 {
		header += " "
	}
	want := build(header, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40})
	if !bytes.Equal(b, want) {
		t.Errorf("Write =\n%q\nwant\n%q", b, want)
	}
}

func TestF16ToFloat32Known(t *testing.T) {
	for _, tc := range []struct {
		h    uint16
		want uint32 // float32 bits
	}{
		{0x3C00, 0x3F800000},                       // 1
		{0xBC00, 0xBF800000},                       // -1
		{0x0000, 0x00000000},                       // +0
		{0x8000, 0x80000000},                       // -0
		{0x0001, math.Float32bits(0x1p-24)},        // smallest subnormal
		{0x8001, math.Float32bits(-0x1p-24)},       // negative subnormal
		{0x03FF, math.Float32bits(1023 * 0x1p-24)}, // largest subnormal
		{0x0400, math.Float32bits(0x1p-14)},        // smallest normal
		{0x7BFF, math.Float32bits(65504)},          // largest finite
		{0x3555, math.Float32bits(0.333251953125)}, // 1/3 rounded to half
		{0x7C00, math.Float32bits(float32(math.Inf(1)))},
		{0xFC00, math.Float32bits(float32(math.Inf(-1)))},
		{0x7E00, 0x7FC00000}, // quiet NaN
		{0x7C01, 0x7F802000}, // signalling NaN payload kept
	} {
		if got := math.Float32bits(F16ToFloat32(tc.h)); got != tc.want {
			t.Errorf("F16ToFloat32(%#04x) = %#08x, want %#08x", tc.h, got, tc.want)
		}
	}
}

// TestF16ToFloat32Exhaustive checks every half value against the defining formula.
func TestF16ToFloat32Exhaustive(t *testing.T) {
	for h := range 1 << 16 {
		sign, exp, mant := h>>15, (h>>10)&0x1f, h&0x3ff
		got := float64(F16ToFloat32(uint16(h)))
		var want float64
		switch {
		case exp == 0x1f && mant == 0:
			want = math.Inf(1)
		case exp == 0x1f:
			if !math.IsNaN(got) {
				t.Fatalf("%#04x: got %v, want NaN", h, got)
			}
			continue
		case exp == 0:
			want = math.Ldexp(float64(mant), -24)
		default:
			want = math.Ldexp(float64(mant+1024), exp-25)
		}
		if sign == 1 {
			want = -want
		}
		if got != want || math.Signbit(got) != (sign == 1) {
			t.Fatalf("%#04x: got %v, want %v", h, got, want)
		}
	}
}

func TestBF16ToFloat32Known(t *testing.T) {
	for _, tc := range []struct {
		h    uint16
		want uint32
	}{
		{0x3F80, 0x3F800000}, // 1
		{0xC000, 0xC0000000}, // -2
		{0x8000, 0x80000000}, // -0
		{0x0001, 0x00010000}, // subnormal 2^-133
		{0x7F80, 0x7F800000}, // +Inf
		{0xFF80, 0xFF800000}, // -Inf
		{0x7FC0, 0x7FC00000}, // NaN
		{0x3EAB, 0x3EAB0000}, // ~1/3
	} {
		if got := math.Float32bits(BF16ToFloat32(tc.h)); got != tc.want {
			t.Errorf("BF16ToFloat32(%#04x) = %#08x, want %#08x", tc.h, got, tc.want)
		}
	}
	if v := BF16ToFloat32(0x0001); v != 0x1p-133 {
		t.Errorf("BF16 0x0001 = %g, want 2^-133", v)
	}
}

// TestFloat32FromFile decodes half tensors through the file, longer than one
// conversion chunk so the chunked loop is exercised.
func TestFloat32FromFile(t *testing.T) {
	n := chunkBytes + 123
	half := make([]uint16, n)
	for i := range half {
		half[i] = uint16(i * 40503)
	}
	var f32 []float32
	for i := range n {
		f32 = append(f32, float32(i)*0.25-7)
	}
	b := encode(t, []Tensor{
		{Name: "h", DType: F16, Shape: []int{n}, Data: u16s(half...)},
		{Name: "b", DType: BF16, Shape: []int{n, 1}, Data: u16s(half...)},
		F32Tensor("f", []int{1, n}, f32),
	}, nil)
	f := newReader(t, b)
	for _, tc := range []struct {
		name string
		want func(i int) float32
	}{
		{"h", func(i int) float32 { return F16ToFloat32(half[i]) }},
		{"b", func(i int) float32 { return BF16ToFloat32(half[i]) }},
		{"f", func(i int) float32 { return f32[i] }},
	} {
		got, err := f.Float32(tc.name)
		if err != nil || len(got) != n {
			t.Fatalf("Float32(%q): %d values, %v", tc.name, len(got), err)
		}
		for i, v := range got {
			if math.Float32bits(v) != math.Float32bits(tc.want(i)) {
				t.Fatalf("Float32(%q)[%d] = %v, want %v", tc.name, i, v, tc.want(i))
			}
		}
	}
}

func TestNewReaderRejects(t *testing.T) {
	f32x2 := `"dtype":"F32","shape":[2]`
	for _, tc := range []struct {
		name, want string
		file       []byte
	}{
		{"empty file", "too short", nil},
		{"truncated length", "too short", []byte{8, 0, 0}},
		{"truncated header", "exceeds the 12 bytes", build(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, make([]byte, 4))[:20]},
		{"huge header length", "exceeds the 100000000-byte limit", binary.LittleEndian.AppendUint64(nil, 1<<62)},
		{"header length over limit", "limit", append(binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1), "{}"...)},
		{"length wraps negative", "limit", append(binary.LittleEndian.AppendUint64(nil, math.MaxUint64), "{}"...)},
		{"overlapping offsets", `"b": data_offsets [4, 12]: an overlap at offset 8`,
			build(`{"a":{`+f32x2+`,"data_offsets":[0,8]},"b":{`+f32x2+`,"data_offsets":[4,12]}}`, make([]byte, 12))},
		{"gap between offsets", `"b": data_offsets [12, 20]: a gap before offset 8`,
			build(`{"a":{`+f32x2+`,"data_offsets":[0,8]},"b":{`+f32x2+`,"data_offsets":[12,20]}}`, make([]byte, 20))},
		{"gap at start", "a gap before offset 0", build(`{"a":{`+f32x2+`,"data_offsets":[4,12]}}`, make([]byte, 12))},
		{"trailing bytes", "cover 8 bytes but the data section is 9",
			build(`{"a":{`+f32x2+`,"data_offsets":[0,8]}}`, make([]byte, 9))},
		{"data shorter than offsets", `"a": data_offsets: 8 is beyond the 4-byte data section`,
			build(`{"a":{`+f32x2+`,"data_offsets":[0,8]}}`, make([]byte, 4))},
		{"wrong byte length for shape", "needs 12 bytes",
			build(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8))},
		{"unknown dtype", `"a": dtype "F8_XYZ" is unknown`,
			build(`{"a":{"dtype":"F8_XYZ","shape":[2],"data_offsets":[0,2]}}`, make([]byte, 2))},
		{"sub-byte dtype", `dtype "F4"`, build(`{"a":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}`, make([]byte, 1))},
		{"negative shape", `"a": shape: -1 is negative`,
			build(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}`, nil)},
		{"fractional dimension", "shape: 2.0 is not a 64-bit integer",
			build(`{"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}}`, make([]byte, 8))},
		{"shape overflow", "overflows",
			build(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4294967296,0],"data_offsets":[0,0]}}`, nil)},
		{"bytes overflow", "overflows",
			build(`{"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,0]}}`, nil)},
		{"duplicate tensor names", `duplicate key "a"`,
			build(`{"a":{`+f32x2+`,"data_offsets":[0,8]},"a":{`+f32x2+`,"data_offsets":[8,16]}}`, make([]byte, 16))},
		{"duplicate field", `duplicate key "dtype"`,
			build(`{"a":{"dtype":"F32",`+f32x2+`,"data_offsets":[0,8]}}`, make([]byte, 8))},
		{"unknown field", `"a": unknown field "offsets"`,
			build(`{"a":{`+f32x2+`,"data_offsets":[0,8],"offsets":[0,8]}}`, make([]byte, 8))},
		{"missing data_offsets", `"a": missing data_offsets`, build(`{"a":{`+f32x2+`}}`, nil)},
		{"missing dtype", `"a": missing dtype`, build(`{"a":{"shape":[],"data_offsets":[0,0]}}`, nil)},
		{"missing shape", `"a": missing shape`, build(`{"a":{"dtype":"F32","data_offsets":[0,0]}}`, nil)},
		{"shape not array", `"a": shape: want array, got string "2"`,
			build(`{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}`, make([]byte, 8))},
		{"dtype not string", `"a": dtype: want string, got number 4`,
			build(`{"a":{"dtype":4,"shape":[2],"data_offsets":[0,8]}}`, make([]byte, 8))},
		{"three offsets", "want [begin, end], got 3 values",
			build(`{"a":{`+f32x2+`,"data_offsets":[0,8,8]}}`, make([]byte, 8))},
		{"begin after end", "end before they begin",
			build(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}`, make([]byte, 8))},
		{"entry not object", `"a": want object, got "["`, build(`{"a":[1]}`, nil)},
		{"metadata non-string", `__metadata__: key "n": want string, got number 1`,
			build(`{"__metadata__":{"n":1}}`, nil)},
		{"metadata null value", `key "n": want string, got null`, build(`{"__metadata__":{"n":null}}`, nil)},
		{"metadata not object", `__metadata__: want object`, build(`{"__metadata__":["pt"]}`, nil)},
		{"metadata null", `__metadata__: want object, got null`, build(`{"__metadata__":null}`, nil)},
		{"duplicate metadata key", `duplicate key "k"`, build(`{"__metadata__":{"k":"a","k":"b"}}`, nil)},
		{"invalid JSON", "header:", build(`{"a":{"dtype":}`, nil)},
		{"unterminated object", "unexpected end of JSON", build(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]}`, make([]byte, 4))},
		{"not an object", "does not start with '{'", build(`[1,2]`, nil)},
		{"leading space", "does not start with '{'", build(` {}`, nil)},
		{"empty header", "does not start with '{'", build(``, nil)},
		{"trailing garbage", `unexpected string "x" after the top-level object`, build(`{} "x"`, nil)},
		{"second object", "after the top-level object", build(`{}{}`, nil)},
		{"invalid UTF-8", "UTF-8", build("{\"a\xff\":{}}", nil)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewReader(bytes.NewReader(tc.file), int64(len(tc.file)))
			if err == nil {
				t.Fatalf("NewReader accepted %q: names %v", tc.file, f.Names())
			}
			t.Log(err)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant ErrInvalid mentioning %q", err, tc.want)
			}
		})
	}
}

func TestNewReaderAccepts(t *testing.T) {
	a := `"a":{"dtype":"I8","shape":[2],"data_offsets":[0,2]}`
	for _, tc := range []struct {
		name  string
		file  []byte
		names []string
	}{
		{"no tensors", build(`{}`, nil), []string{}},
		{"trailing spaces and newline", build("{"+a+"}  \n  ", []byte{1, 2}), []string{"a"}},
		{"unpadded header", build("{"+a+"}", []byte{1, 2}), []string{"a"}},
		{"keys out of offset order", build(`{"z":{"dtype":"U8","shape":[],"data_offsets":[2,3]},`+a+`}`, []byte{1, 2, 3}),
			[]string{"a", "z"}},
		{"zero-size tensors", build(`{"e":{"dtype":"F16","shape":[3,0],"data_offsets":[2,2]},`+a+
			`,"d":{"dtype":"F16","shape":[0],"data_offsets":[2,2]}}`, []byte{1, 2}), []string{"a", "d", "e"}},
		{"empty name", build(`{"":{"dtype":"BOOL","shape":[1],"data_offsets":[0,1]}}`, []byte{1}), []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newReader(t, tc.file)
			if got := f.Names(); !reflect.DeepEqual(got, tc.names) {
				t.Errorf("Names = %v, want %v", got, tc.names)
			}
			for _, name := range tc.names {
				info, _ := f.Info(name)
				if raw, err := f.Raw(name); err != nil || int64(len(raw)) != info.End-info.Begin {
					t.Errorf("Raw(%q) = %v, %v", name, raw, err)
				}
			}
		})
	}
}

func TestErrorsNamePathAndTensor(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.safetensors")
	os.WriteFile(path, build(`{"w.q":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}`, make([]byte, 8)), 0o644)
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"w.q"`) {
		t.Errorf("Open error = %v; want it to name %s and the tensor", err, path)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing) = %v, want ErrNotExist", err)
	}
}

func TestLookupErrors(t *testing.T) {
	f := newReader(t, encode(t, []Tensor{{Name: "i", DType: I32, Shape: []int{1}, Data: make([]byte, 4)}}, nil))
	if _, err := f.Raw("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Raw(nope) = %v, want ErrNotFound", err)
	}
	if _, err := f.Float32("nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Float32(nope) = %v, want ErrNotFound", err)
	}
	if _, ok := f.Info("nope"); ok {
		t.Error("Info(nope) reported ok")
	}
	info, _ := f.Info("i")
	info.Shape[0] = 99
	if again, _ := f.Info("i"); again.Shape[0] != 1 {
		t.Error("Info returned a shape aliasing the File's copy")
	}
	if f.Metadata() != nil {
		t.Errorf("Metadata = %v, want nil when absent", f.Metadata())
	}
}

// TestShortRead covers a source that ends early after the header was read.
func TestShortRead(t *testing.T) {
	b := encode(t, []Tensor{F32Tensor("a", []int{4}, []float32{1, 2, 3, 4})}, nil)
	f, err := NewReader(bytes.NewReader(b[:len(b)-3]), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Raw("a"); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Raw = %v, want ErrUnexpectedEOF", err)
	}
	if _, err := f.Float32("a"); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Float32 = %v, want ErrUnexpectedEOF", err)
	}
}

func TestConcurrentReads(t *testing.T) {
	var tensors []Tensor
	for i := range 8 {
		vals := make([]float32, 1000)
		for k := range vals {
			vals[k] = float32(i*1000 + k)
		}
		tensors = append(tensors, F32Tensor(string(rune('a'+i)), []int{1000}, vals))
	}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	if err := WriteFile(path, tensors, nil); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			name := f.Names()[g%8]
			v, err := f.Float32(name)
			if err != nil || v[999] != float32((g%8)*1000+999) {
				t.Errorf("Float32(%s) = ..., %v", name, err)
			}
		})
	}
	wg.Wait()
}

func TestWriteRejects(t *testing.T) {
	ok := F32Tensor("a", []int{2}, []float32{1, 2})
	for _, tc := range []struct {
		name, want string
		tensors    []Tensor
	}{
		{"duplicate names", `duplicate tensor name "a"`, []Tensor{ok, ok}},
		{"data length", `"b": shape [3] of F32 needs 12 bytes, Data has 8`, []Tensor{{Name: "b", DType: F32, Shape: []int{3}, Data: ok.Data}}},
		{"unknown dtype", `"F8_XYZ"`, []Tensor{{Name: "b", DType: "F8_XYZ", Shape: []int{1}, Data: []byte{0}}}},
		{"negative dim", "negative", []Tensor{{Name: "b", DType: U8, Shape: []int{-1}}}},
		{"reserved name", `"__metadata__" is reserved`, []Tensor{{Name: "__metadata__", DType: U8, Shape: []int{}, Data: []byte{0}}}},
	} {
		var buf bytes.Buffer
		err := Write(&buf, tc.tensors, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want mention of %q", tc.name, err, tc.want)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: wrote %d bytes before failing", tc.name, buf.Len())
		}
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n--; w.n < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWritePropagatesWriterError(t *testing.T) {
	tensors := []Tensor{F32Tensor("a", []int{1}, []float32{1}), F32Tensor("b", []int{1}, []float32{2})}
	if err := Write(&failWriter{n: 2}, tensors, nil); err == nil || !strings.Contains(err.Error(), `"b": disk full`) {
		t.Errorf("err = %v, want disk full naming tensor b", err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "adapter_model.safetensors")
	good := []Tensor{F32Tensor("a", []int{2}, []float32{1, 2})}
	bad := []Tensor{good[0], good[0]}

	if err := WriteFile(path, bad, nil); err == nil {
		t.Fatal("WriteFile with duplicate names succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("failed WriteFile left %v", entries)
	}

	if err := WriteFile(path, good, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	if err := WriteFile(path, bad, nil); err == nil {
		t.Fatal("WriteFile with duplicate names succeeded")
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) {
		t.Error("failed WriteFile changed the existing file")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("folder holds %d entries, want only the file", len(entries))
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v, err := f.Float32("a"); err != nil || !reflect.DeepEqual(v, []float32{1, 2}) {
		t.Errorf("Float32 = %v, %v", v, err)
	}
	if err := WriteFile(filepath.Join(dir, "no", "such", "x"), good, nil); err == nil {
		t.Error("WriteFile into a missing folder succeeded")
	}
}

func BenchmarkFloat32BF16(b *testing.B) {
	const n = 1 << 20
	data := make([]byte, 2*n)
	for i := range n {
		binary.LittleEndian.PutUint16(data[2*i:], uint16(i))
	}
	var buf bytes.Buffer
	if err := Write(&buf, []Tensor{{Name: "w", DType: BF16, Shape: []int{1024, 1024}, Data: data}}, nil); err != nil {
		b.Fatal(err)
	}
	f, err := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(2 * n)
	for b.Loop() {
		if _, err := f.Float32("w"); err != nil {
			b.Fatal(err)
		}
	}
}
