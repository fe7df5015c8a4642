package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
)

// Shard file layout (version 1), all integers little-endian:
//
//	header   "LFNSHARD" | version u32 | flags u32 (0)                    16 bytes
//	records  per example: ids n×i32 | labels n×i32 | starts k×u32
//	index    per example: offset u64 | n u32 | k u32 | crc u32          20 bytes
//	footer   index offset u64 | examples u64 | tokens u64 |
//	         index crc u32 | footer crc u32 | "LFNSEND\x00"              40 bytes
//
// starts are the positions where packed examples begin (k = 0 for an
// unpacked example). Each crc is CRC-32C: an example's covers its record,
// the index crc the whole index, the footer crc the 32 footer bytes before
// it. Records are contiguous from byte 16 to the index.
const (
	shardMagic   = "LFNSHARD"
	shardEnd     = "LFNSEND\x00"
	shardVersion = 1
	headerSize   = 16
	indexEntry   = 20
	footerSize   = 40
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Example is one training sequence. Labels[t] is IgnoreIndex or the token
// position t is trained on (Hugging Face's unshifted convention). Starts
// lists where packed examples begin inside the sequence (nil when it holds
// one example); the label at each start is IgnoreIndex, so no loss crosses
// from one example into the next.
type Example struct {
	IDs    []int
	Labels []int
	Starts []int
}

// shardWriter streams examples into one shard file.
type shardWriter struct {
	w      io.Writer
	off    uint64
	index  []byte
	count  uint64
	tokens uint64
	buf    []byte
}

func newShardWriter(w io.Writer) (*shardWriter, error) {
	h := make([]byte, headerSize)
	copy(h, shardMagic)
	binary.LittleEndian.PutUint32(h[8:], shardVersion)
	if _, err := w.Write(h); err != nil {
		return nil, err
	}
	return &shardWriter{w: w, off: headerSize}, nil
}

func (s *shardWriter) add(ex Example) error {
	n, k := len(ex.IDs), len(ex.Starts)
	if len(ex.Labels) != n {
		return fmt.Errorf("data: example has %d ids and %d labels", n, len(ex.Labels))
	}
	s.buf = s.buf[:0]
	for _, v := range ex.IDs {
		s.buf = binary.LittleEndian.AppendUint32(s.buf, uint32(int32(v)))
	}
	for _, v := range ex.Labels {
		s.buf = binary.LittleEndian.AppendUint32(s.buf, uint32(int32(v)))
	}
	for _, v := range ex.Starts {
		s.buf = binary.LittleEndian.AppendUint32(s.buf, uint32(v))
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return err
	}
	s.index = binary.LittleEndian.AppendUint64(s.index, s.off)
	s.index = binary.LittleEndian.AppendUint32(s.index, uint32(n))
	s.index = binary.LittleEndian.AppendUint32(s.index, uint32(k))
	s.index = binary.LittleEndian.AppendUint32(s.index, crc32.Checksum(s.buf, castagnoli))
	s.off += uint64(len(s.buf))
	s.count++
	s.tokens += uint64(n)
	return nil
}

// finish writes the index and footer.
func (s *shardWriter) finish() error {
	if _, err := s.w.Write(s.index); err != nil {
		return err
	}
	f := make([]byte, 0, footerSize)
	f = binary.LittleEndian.AppendUint64(f, s.off)
	f = binary.LittleEndian.AppendUint64(f, s.count)
	f = binary.LittleEndian.AppendUint64(f, s.tokens)
	f = binary.LittleEndian.AppendUint32(f, crc32.Checksum(s.index, castagnoli))
	f = binary.LittleEndian.AppendUint32(f, crc32.Checksum(f, castagnoli))
	f = append(f, shardEnd...)
	_, err := s.w.Write(f)
	return err
}

// ErrCorrupt is wrapped by every error about a damaged or foreign shard
// file.
var ErrCorrupt = errors.New("corrupt shard")

// shardEntry locates one example in a shard file.
type shardEntry struct {
	off  int64
	n, k int
	crc  uint32
}

// shardFile reads examples from one shard file.
type shardFile struct {
	r      io.ReaderAt
	name   string
	index  []shardEntry
	tokens int64
}

// openShard checks a shard file's header, footer and index; examples are
// checked when read.
func openShard(r io.ReaderAt, size int64, name string) (*shardFile, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("data: %s: %w: %s", name, ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if size < headerSize+footerSize {
		return nil, bad("%d bytes is too short", size)
	}
	h := make([]byte, headerSize)
	if _, err := r.ReadAt(h, 0); err != nil {
		return nil, fmt.Errorf("data: %s: %w", name, err)
	}
	if string(h[:8]) != shardMagic {
		return nil, bad("not a lorafn shard (magic %q)", h[:8])
	}
	if v := binary.LittleEndian.Uint32(h[8:]); v != shardVersion {
		return nil, fmt.Errorf("data: %s: shard version %d; this lorafn reads version %d", name, v, shardVersion)
	}
	if flags := binary.LittleEndian.Uint32(h[12:]); flags != 0 {
		return nil, bad("unknown flags %#x", flags)
	}
	f := make([]byte, footerSize)
	if _, err := r.ReadAt(f, size-footerSize); err != nil {
		return nil, fmt.Errorf("data: %s: %w", name, err)
	}
	if string(f[32:]) != shardEnd {
		return nil, bad("bad end marker (truncated file?)")
	}
	if crc32.Checksum(f[:28], castagnoli) != binary.LittleEndian.Uint32(f[28:]) {
		return nil, bad("footer checksum mismatch")
	}
	indexOff := binary.LittleEndian.Uint64(f[0:])
	count := binary.LittleEndian.Uint64(f[8:])
	tokens := binary.LittleEndian.Uint64(f[16:])
	indexLen := uint64(size) - footerSize - indexOff
	if indexOff < headerSize || indexOff > uint64(size)-footerSize || count > math.MaxInt32 || indexLen != count*indexEntry {
		return nil, bad("index at %d for %d examples does not fit a %d-byte file", indexOff, count, size)
	}
	raw := make([]byte, indexLen)
	if _, err := r.ReadAt(raw, int64(indexOff)); err != nil {
		return nil, fmt.Errorf("data: %s: %w", name, err)
	}
	if crc32.Checksum(raw, castagnoli) != binary.LittleEndian.Uint32(f[24:]) {
		return nil, bad("index checksum mismatch")
	}
	sf := &shardFile{r: r, name: name, index: make([]shardEntry, count)}
	next := uint64(headerSize)
	var sum uint64
	for i := range sf.index {
		e := raw[i*indexEntry:]
		off := binary.LittleEndian.Uint64(e)
		n := uint64(binary.LittleEndian.Uint32(e[8:]))
		k := uint64(binary.LittleEndian.Uint32(e[12:]))
		if off != next || n == 0 || k > n {
			return nil, bad("index entry %d: record at %d with %d tokens and %d starts (expected at %d)", i, off, n, k, next)
		}
		next = off + 8*n + 4*k
		if next > indexOff {
			return nil, bad("index entry %d runs past the records", i)
		}
		sum += n
		sf.index[i] = shardEntry{off: int64(off), n: int(n), k: int(k), crc: binary.LittleEndian.Uint32(e[16:])}
	}
	if next != indexOff {
		return nil, bad("%d bytes between the last record and the index", indexOff-next)
	}
	if sum != tokens {
		return nil, bad("footer says %d tokens, index %d", tokens, sum)
	}
	sf.tokens = int64(tokens)
	return sf, nil
}

// example reads and checks example i.
func (s *shardFile) example(i int) (Example, error) {
	e := s.index[i]
	buf := make([]byte, 8*e.n+4*e.k)
	if _, err := s.r.ReadAt(buf, e.off); err != nil {
		return Example{}, fmt.Errorf("data: %s: example %d: %w", s.name, i, err)
	}
	if crc32.Checksum(buf, castagnoli) != e.crc {
		return Example{}, fmt.Errorf("data: %s: example %d: %w: checksum mismatch", s.name, i, ErrCorrupt)
	}
	ex := Example{IDs: make([]int, e.n), Labels: make([]int, e.n)}
	for t := 0; t < e.n; t++ {
		ex.IDs[t] = int(int32(binary.LittleEndian.Uint32(buf[4*t:])))
		ex.Labels[t] = int(int32(binary.LittleEndian.Uint32(buf[4*(e.n+t):])))
		if ex.IDs[t] < 0 || ex.Labels[t] < 0 && ex.Labels[t] != IgnoreIndex {
			return Example{}, fmt.Errorf("data: %s: example %d position %d: %w: id %d, label %d", s.name, i, t, ErrCorrupt, ex.IDs[t], ex.Labels[t])
		}
	}
	if e.k > 0 {
		ex.Starts = make([]int, e.k)
		for j := range ex.Starts {
			ex.Starts[j] = int(binary.LittleEndian.Uint32(buf[8*e.n+4*j:]))
			if ex.Starts[j] >= e.n || j == 0 && ex.Starts[j] != 0 || j > 0 && ex.Starts[j] <= ex.Starts[j-1] {
				return Example{}, fmt.Errorf("data: %s: example %d: %w: packed starts %v", s.name, i, ErrCorrupt, ex.Starts[:j+1])
			}
		}
	}
	return ex, nil
}
