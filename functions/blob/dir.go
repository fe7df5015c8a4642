package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// Dir is a Store over a local directory, for running the workflow without
// any S3 endpoint: key "runs/x/status.json" is the file
// <Root>/runs/x/status.json, so results can be read with ordinary tools.
//
// Writes go to a temporary file that is synced and renamed into place, so
// readers never see a partial object. If-None-Match creates with a hard
// link, which fails when the name exists, so it holds across processes;
// If-Match compares and renames under a lock held by this Dir value only,
// so pointer updates must come from one process at a time.
//
// ETags are opaque: the file's inode, size and modification time. Every Put
// makes a new file, so a replaced object never keeps its ETag.
type Dir struct {
	Root string
	mu   sync.Mutex // serialises If-Match check-and-rename
}

var _ Store = (*Dir)(nil)

// tmpDir holds files being written; List skips it.
const tmpDir = ".lorafn-tmp"

// path maps a key to its file, rejecting keys that could leave Root or
// that no file system can hold.
func (d *Dir) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") || strings.Contains(key, "\x00") {
		return "", fmt.Errorf("key %q cannot be a file name", key)
	}
	for _, part := range strings.Split(key, "/") {
		if part == "" || part == "." || part == ".." || part == tmpDir {
			return "", fmt.Errorf("key %q has an empty, dot or reserved segment", key)
		}
	}
	return filepath.Join(d.Root, filepath.FromSlash(key)), nil
}

func dirInfo(key string, fi fs.FileInfo) Info {
	var ino uint64
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		ino = uint64(st.Ino)
	}
	return Info{
		Key: key, Size: fi.Size(), LastModified: fi.ModTime().UTC(),
		ETag: fmt.Sprintf(`"%x-%x-%x"`, ino, fi.Size(), fi.ModTime().UnixNano()),
	}
}

func notFound(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		err = fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return &Error{Op: op, Key: key, Err: err}
}

// Get implements Store.
func (d *Dir) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, Info{}, &Error{Op: "get", Key: key, Err: err}
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, Info{}, notFound("get", key, err)
	}
	fi, err := f.Stat()
	if err != nil || fi.IsDir() {
		f.Close()
		if err == nil {
			err = fs.ErrNotExist
		}
		return nil, Info{}, notFound("get", key, err)
	}
	return f, dirInfo(key, fi), nil
}

// Head implements Store.
func (d *Dir) Head(ctx context.Context, key string) (Info, error) {
	p, err := d.path(key)
	if err != nil {
		return Info{}, &Error{Op: "head", Key: key, Err: err}
	}
	fi, err := os.Stat(p)
	if err == nil && fi.IsDir() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return Info{}, notFound("head", key, err)
	}
	return dirInfo(key, fi), nil
}

// Put implements Store.
func (d *Dir) Put(ctx context.Context, key string, body io.Reader, opts PutOptions) (string, error) {
	p, err := d.path(key)
	if err != nil {
		return "", &Error{Op: "put", Key: key, Err: err}
	}
	tmp, err := d.writeTemp(ctx, body)
	if err != nil {
		return "", &Error{Op: "put", Key: key, Err: err}
	}
	defer os.Remove(tmp)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", &Error{Op: "put", Key: key, Err: err}
	}
	switch {
	case opts.IfNoneMatch:
		if err := os.Link(tmp, p); err != nil {
			if errors.Is(err, fs.ErrExist) {
				err = fmt.Errorf("%w: %w", ErrPreconditionFailed, err)
			}
			return "", &Error{Op: "put", Key: key, Err: err}
		}
	case opts.IfMatch != "":
		d.mu.Lock()
		defer d.mu.Unlock()
		cur, err := os.Stat(p)
		if err != nil || dirInfo(key, cur).ETag != opts.IfMatch {
			return "", &Error{Op: "put", Key: key, Err: ErrPreconditionFailed}
		}
		if err := os.Rename(tmp, p); err != nil {
			return "", &Error{Op: "put", Key: key, Err: err}
		}
	default:
		if err := os.Rename(tmp, p); err != nil {
			return "", &Error{Op: "put", Key: key, Err: err}
		}
	}
	syncDir(filepath.Dir(p))
	fi, err := os.Stat(p)
	if err != nil {
		return "", &Error{Op: "put", Key: key, Err: err}
	}
	return dirInfo(key, fi).ETag, nil
}

// writeTemp copies body into a synced file under the temporary directory.
func (d *Dir) writeTemp(ctx context.Context, body io.Reader) (string, error) {
	dir := filepath.Join(d.Root, tmpDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var rnd [12]byte
	rand.Read(rnd[:])
	path := filepath.Join(dir, hex.EncodeToString(rnd[:]))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, ctxReader{ctx, body})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// List implements Store.
func (d *Dir) List(ctx context.Context, prefix string) ([]Info, error) {
	var out []Info
	err := filepath.WalkDir(d.Root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == d.Root {
				return filepath.SkipDir
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, rerr := filepath.Rel(d.Root, path)
		if rerr != nil {
			return rerr
		}
		key := filepath.ToSlash(rel)
		if e.IsDir() {
			if e.Name() == tmpDir || (key != "." && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasPrefix(key, prefix) || !e.Type().IsRegular() {
			return nil
		}
		fi, ierr := e.Info()
		if ierr != nil {
			return ierr
		}
		out = append(out, dirInfo(key, fi))
		return nil
	})
	if err != nil {
		return nil, &Error{Op: "list", Key: prefix, Err: err}
	}
	// WalkDir's lexical order is per directory ("a/b" before "a.txt");
	// S3's is byte-wise over whole keys.
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements Store. Directories left empty are kept.
func (d *Dir) Delete(ctx context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return &Error{Op: "delete", Key: key, Err: err}
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &Error{Op: "delete", Key: key, Err: err}
	}
	return nil
}
