package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// File names of a Hugging Face checkpoint folder.
const (
	SingleFileName = "model.safetensors"
	IndexFileName  = "model.safetensors.index.json"
)

// A Checkpoint is a Hugging Face model folder's weights: either model.safetensors
// or model.safetensors.index.json plus the shards it names, as
// {"metadata": {"total_size": N}, "weight_map": {tensor_name: shard_file}}.
type Checkpoint struct {
	files []*File
	owner map[string]*File // tensor name -> the file holding it
	names []string         // sorted
}

// OpenCheckpoint opens the weights in dir, preferring the index when present.
// Shard names must be plain file names inside dir, every listed tensor must be
// in the shard the index names, and no tensor may be in two shards or missing
// from the index.
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	idx, err := readIndex(filepath.Join(dir, IndexFileName))
	if errors.Is(err, fs.ErrNotExist) {
		f, err := Open(filepath.Join(dir, SingleFileName))
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("safetensors: %s has neither %s nor %s: %w", dir, SingleFileName, IndexFileName, err)
		}
		if err != nil {
			return nil, err
		}
		c := &Checkpoint{files: []*File{f}, owner: map[string]*File{}}
		for _, name := range f.Names() {
			c.owner[name] = f
		}
		c.names = slices.Sorted(maps.Keys(c.owner))
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	return openShards(dir, idx)
}

// readIndex reads the index's weight_map, rejecting duplicate keys that would
// otherwise put one tensor in two shards unnoticed.
func readIndex(path string) (map[string]string, error) {
	fd, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err) // fs.ErrNotExist selects the single file
	}
	defer fd.Close()
	// Bound the read: real indexes are kilobytes, a huge one is an error.
	data, err := io.ReadAll(io.LimitReader(fd, MaxHeaderSize+1))
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if len(data) > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: %s: %w: larger than %d bytes", path, ErrInvalid, MaxHeaderSize)
	}
	var weightMap map[string]string
	j := newJSONReader(data)
	err = j.object(func(key string) error {
		if key != "weight_map" {
			var skip json.RawMessage // "metadata" and any other keys are informational
			return j.dec.Decode(&skip)
		}
		weightMap = map[string]string{}
		return j.object(func(name string) error {
			shard, err := j.str()
			if err != nil {
				return fmt.Errorf("weight_map: tensor %q: %w", name, err)
			}
			weightMap[name] = shard
			return nil
		})
	})
	if err == nil {
		err = j.end()
	}
	if err == nil && weightMap == nil {
		err = errors.New("weight_map is missing")
	}
	if err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w: %w", path, ErrInvalid, err)
	}
	return weightMap, nil
}

func openShards(dir string, weightMap map[string]string) (_ *Checkpoint, err error) {
	c := &Checkpoint{owner: map[string]*File{}}
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("safetensors: checkpoint %s: %w: "+format, append([]any{dir, ErrInvalid}, args...)...)
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	shards := slices.Compact(slices.Sorted(maps.Values(weightMap)))
	byShard := map[string]*File{}
	for _, shard := range shards {
		// Names come from an untrusted file: never leave dir.
		if shard == "." || strings.ContainsAny(shard, `/\`) || !filepath.IsLocal(shard) {
			return nil, invalid("shard %q is not a plain file name inside the folder", shard)
		}
		f, err := Open(filepath.Join(dir, shard))
		if err != nil {
			return nil, err
		}
		c.files = append(c.files, f)
		byShard[shard] = f
		for _, name := range f.Names() {
			if prev, dup := c.owner[name]; dup {
				return nil, invalid("tensor %q is in both %s and %s", name, filepath.Base(prev.path), shard)
			}
			if want, listed := weightMap[name]; !listed {
				return nil, invalid("tensor %q in %s is not listed in weight_map", name, shard)
			} else if want != shard {
				return nil, invalid("tensor %q is in %s but weight_map maps it to %s", name, shard, want)
			}
			c.owner[name] = f
		}
	}
	for name, shard := range weightMap {
		if c.owner[name] != byShard[shard] {
			return nil, invalid("%w: weight_map maps %q to %s, which does not hold it", ErrNotFound, name, shard)
		}
	}
	c.names = slices.Sorted(maps.Keys(c.owner))
	return c, nil
}

// Names returns the tensor names, sorted.
func (c *Checkpoint) Names() []string { return slices.Clone(c.names) }

// Info describes the named tensor; offsets are relative to its shard's data section.
func (c *Checkpoint) Info(name string) (TensorInfo, bool) {
	f, ok := c.owner[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Info(name)
}

// Raw returns the named tensor's stored bytes.
func (c *Checkpoint) Raw(name string) ([]byte, error) {
	f, ok := c.owner[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: checkpoint: %w: %q", ErrNotFound, name)
	}
	return f.Raw(name)
}

// Float32 reads the named F32, F16 or BF16 tensor as float32.
func (c *Checkpoint) Float32(name string) ([]float32, error) {
	f, ok := c.owner[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: checkpoint: %w: %q", ErrNotFound, name)
	}
	return f.Float32(name)
}

// Close closes every shard.
func (c *Checkpoint) Close() error {
	var errs []error
	for _, f := range c.files {
		errs = append(errs, f.Close())
	}
	return errors.Join(errs...)
}

// WriteCheckpoint writes tensors into dir (created if needed) as a checkpoint.
// With maxShardBytes <= 0 it writes model.safetensors; otherwise it fills shards
// model-0000k-of-0000n.safetensors in order, each up to maxShardBytes of tensor
// data (a larger tensor gets a shard of its own), then writes the index. Each
// file is written atomically and the index last, and the layout not written is
// removed so that loaders cannot pick up stale weights.
func WriteCheckpoint(dir string, tensors []Tensor, metadata map[string]string, maxShardBytes int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	if maxShardBytes <= 0 {
		if err := WriteFile(filepath.Join(dir, SingleFileName), tensors, metadata); err != nil {
			return err
		}
		return removeStale(filepath.Join(dir, IndexFileName))
	}
	// Validate everything before writing any shard.
	if _, err := encodeHeader(tensors, metadata); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	var groups [][]Tensor
	var size, total int64
	for _, t := range tensors {
		n := int64(len(t.Data))
		if len(groups) == 0 || (size > 0 && size+n > maxShardBytes) {
			groups, size = append(groups, nil), 0
		}
		groups[len(groups)-1] = append(groups[len(groups)-1], t)
		size += n
		total += n
	}
	var index struct {
		Metadata struct {
			TotalSize int64 `json:"total_size"`
		} `json:"metadata"`
		WeightMap map[string]string `json:"weight_map"`
	}
	index.Metadata.TotalSize = total
	index.WeightMap = map[string]string{}
	for k, g := range groups {
		shard := fmt.Sprintf("model-%05d-of-%05d.safetensors", k+1, len(groups))
		if err := WriteFile(filepath.Join(dir, shard), g, metadata); err != nil {
			return err
		}
		for _, t := range g {
			index.WeightMap[t.Name] = shard
		}
	}
	data, err := json.MarshalIndent(index, "", "  ")
	if err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	err = writeAtomic(filepath.Join(dir, IndexFileName), func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
	if err != nil {
		return err
	}
	return removeStale(filepath.Join(dir, SingleFileName))
}

func removeStale(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("safetensors: removing stale %w", err)
	}
	return nil
}
