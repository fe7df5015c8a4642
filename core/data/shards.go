package data

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/lorafn/lorafn/internal/atomicfile"
)

// ManifestName is the file that lists a shard directory's files. It is
// written last, so a directory with a manifest is complete.
const ManifestName = "manifest.json"

// Manifest describes a directory of shard files.
type Manifest struct {
	Format   string      `json:"format"` // "lorafn-shards"
	Version  int         `json:"version"`
	Examples int64       `json:"examples"`
	Tokens   int64       `json:"tokens"`
	Files    []ShardInfo `json:"files"`
}

// ShardInfo is one shard file of a Manifest.
type ShardInfo struct {
	Name     string `json:"name"`
	Examples int64  `json:"examples"`
	Tokens   int64  `json:"tokens"`
}

const manifestFormat = "lorafn-shards"

// DefaultShardTokens is how many tokens a shard file holds before the
// writer starts the next one.
const DefaultShardTokens = 1 << 24

// ShardWriter writes examples to a directory of shard files. Files are
// written under temporary names and renamed when complete; the manifest
// comes last.
type ShardWriter struct {
	dir       string
	maxTokens int64
	files     []ShardInfo
	cur       *os.File
	bw        *bufio.Writer
	sw        *shardWriter
	examples  int64
	tokens    int64
}

// NewShardWriter writes shards into dir (created if missing), starting a
// new file after maxTokens tokens (<= 0: DefaultShardTokens).
func NewShardWriter(dir string, maxTokens int64) (*ShardWriter, error) {
	if maxTokens <= 0 {
		maxTokens = DefaultShardTokens
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	return &ShardWriter{dir: dir, maxTokens: maxTokens}, nil
}

// Add appends an example.
func (w *ShardWriter) Add(ex Example) error {
	if len(ex.IDs) == 0 {
		return fmt.Errorf("data: empty example")
	}
	if w.sw != nil && w.sw.tokens > 0 && int64(w.sw.tokens)+int64(len(ex.IDs)) > w.maxTokens {
		if err := w.closeFile(); err != nil {
			return err
		}
	}
	if w.sw == nil {
		name := fmt.Sprintf("%05d.shard", len(w.files))
		f, err := os.Create(filepath.Join(w.dir, name+".tmp"))
		if err != nil {
			return fmt.Errorf("data: %w", err)
		}
		w.cur, w.bw = f, bufio.NewWriterSize(f, 1<<20)
		if w.sw, err = newShardWriter(w.bw); err != nil {
			return w.fail(err)
		}
		w.files = append(w.files, ShardInfo{Name: name})
	}
	if err := w.sw.add(ex); err != nil {
		return w.fail(err)
	}
	w.examples++
	w.tokens += int64(len(ex.IDs))
	return nil
}

func (w *ShardWriter) fail(err error) error {
	w.Abort()
	return fmt.Errorf("data: write shard in %s: %w", w.dir, err)
}

// closeFile finishes the current file, syncs it and gives it its name.
func (w *ShardWriter) closeFile() error {
	info := &w.files[len(w.files)-1]
	info.Examples, info.Tokens = int64(w.sw.count), int64(w.sw.tokens)
	err := w.sw.finish()
	if err == nil {
		err = w.bw.Flush()
	}
	if err == nil {
		err = w.cur.Sync()
	}
	if cerr := w.cur.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.cur.Name(), filepath.Join(w.dir, info.Name))
	}
	w.cur, w.bw, w.sw = nil, nil, nil
	if err != nil {
		return w.fail(err)
	}
	return nil
}

// Close finishes the last file and writes the manifest.
func (w *ShardWriter) Close() error {
	if w.sw != nil {
		if err := w.closeFile(); err != nil {
			return err
		}
	}
	m := Manifest{Format: manifestFormat, Version: shardVersion, Examples: w.examples, Tokens: w.tokens, Files: w.files}
	if m.Files == nil {
		m.Files = []ShardInfo{}
	}
	if err := atomicfile.WriteFile(filepath.Join(w.dir, ManifestName), indentJSON(m)); err != nil {
		return fmt.Errorf("data: %w", err)
	}
	return nil
}

// Abort removes the file being written; complete files are left.
func (w *ShardWriter) Abort() {
	if w.cur != nil {
		w.cur.Close()
		os.Remove(w.cur.Name())
		w.cur, w.bw, w.sw = nil, nil, nil
	}
}

// Shards reads the examples of a shard directory. Example is safe for
// concurrent use.
type Shards struct {
	files  []*shardFile
	closer []*os.File
	first  []int // first[i] is the global index of files[i]'s example 0
	n      int
	tokens int64
}

// OpenShards opens the shard directory dir (one split, e.g. out/train),
// checking the manifest against every file's header, footer and index.
func OpenShards(dir string) (*Shards, error) {
	data, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		return nil, fmt.Errorf("data: open shards: %w", err)
	}
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("data: %s: %w", filepath.Join(dir, ManifestName), err)
	}
	if m.Format != manifestFormat || m.Version != shardVersion {
		return nil, fmt.Errorf("data: %s: format %q version %d; want %q version %d", filepath.Join(dir, ManifestName), m.Format, m.Version, manifestFormat, shardVersion)
	}
	s := &Shards{}
	for _, info := range m.Files {
		if info.Name != filepath.Base(info.Name) || !strings.HasSuffix(info.Name, ".shard") {
			s.Close()
			return nil, fmt.Errorf("data: %s: bad shard name %q", filepath.Join(dir, ManifestName), info.Name)
		}
		path := filepath.Join(dir, info.Name)
		f, err := os.Open(path)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("data: open shards: %w", err)
		}
		s.closer = append(s.closer, f)
		st, err := f.Stat()
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("data: open shards: %w", err)
		}
		sf, err := openShard(f, st.Size(), path)
		if err != nil {
			s.Close()
			return nil, err
		}
		if int64(len(sf.index)) != info.Examples || sf.tokens != info.Tokens {
			s.Close()
			return nil, fmt.Errorf("data: %s: %w: %d examples and %d tokens, manifest says %d and %d", path, ErrCorrupt, len(sf.index), sf.tokens, info.Examples, info.Tokens)
		}
		s.files = append(s.files, sf)
		s.first = append(s.first, s.n)
		s.n += len(sf.index)
		s.tokens += sf.tokens
	}
	if int64(s.n) != m.Examples || s.tokens != m.Tokens {
		s.Close()
		return nil, fmt.Errorf("data: %s: %w: files hold %d examples and %d tokens, manifest says %d and %d", dir, ErrCorrupt, s.n, s.tokens, m.Examples, m.Tokens)
	}
	return s, nil
}

// Len is the number of examples.
func (s *Shards) Len() int { return s.n }

// Tokens is the number of tokens over all examples.
func (s *Shards) Tokens() int64 { return s.tokens }

// Example reads example i (0 <= i < Len()), checking its checksum.
func (s *Shards) Example(i int) (Example, error) {
	if i < 0 || i >= s.n {
		return Example{}, fmt.Errorf("data: example %d out of range [0, %d)", i, s.n)
	}
	f := sort.Search(len(s.first), func(j int) bool { return s.first[j] > i }) - 1
	return s.files[f].example(i - s.first[f])
}

// Close closes the shard files.
func (s *Shards) Close() error {
	var first error
	for _, f := range s.closer {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.closer = nil
	return first
}
