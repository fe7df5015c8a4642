// Package objects moves JSON documents and whole folders between a blob
// store and the local disk, the plumbing every workflow step shares.
package objects

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/internal/atomicfile"
)

// GetJSON reads the JSON object at key into v (unknown fields are errors)
// and returns its ETag.
func GetJSON(ctx context.Context, s blob.Store, key string, v any) (string, error) {
	data, info, err := blob.ReadAll(ctx, s, key)
	if err != nil {
		return "", err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	return info.ETag, nil
}

// PutJSON writes v as indented JSON at key with opts' conditions.
func PutJSON(ctx context.Context, s blob.Store, key string, v any, opts blob.PutOptions) (string, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return "", fmt.Errorf("%s: %w", key, err)
	}
	opts.ContentType = "application/json"
	return s.Put(ctx, key, bytes.NewReader(append(data, '\n')), opts)
}

// Exists reports whether key exists.
func Exists(ctx context.Context, s blob.Store, key string) (bool, error) {
	_, err := s.Head(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, blob.ErrNotFound):
		return false, nil
	}
	return false, err
}

// Download copies every object under prefix into dir, keeping the key's
// path below prefix; each file is written atomically. It returns the
// number of files.
func Download(ctx context.Context, s blob.Store, prefix, dir string) (int, error) {
	infos, err := s.List(ctx, prefix)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, info := range infos {
		rel := strings.TrimPrefix(info.Key, prefix)
		if rel == "" || strings.HasSuffix(rel, "/") {
			continue
		}
		if strings.Contains(rel, "..") {
			return n, fmt.Errorf("%s: refusing a key that leaves the folder", info.Key)
		}
		if err := DownloadFile(ctx, s, info.Key, filepath.Join(dir, filepath.FromSlash(rel))); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// DownloadFile copies the object at key to path atomically.
func DownloadFile(ctx context.Context, s blob.Store, key, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	r, _, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	defer r.Close()
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		if err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
		return nil
	})
}

// Upload copies every file under dir to prefix + its slash path with
// opts' conditions and tags. With opts.IfNoneMatch each object must not
// exist yet, the rule for the immutable objects of the workflow; an
// identical existing object (a retried upload) is accepted.
func Upload(ctx context.Context, s blob.Store, dir, prefix string, opts blob.PutOptions) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		if err := UploadFile(ctx, s, path, prefix+filepath.ToSlash(rel), opts); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// UploadFile copies one file to key (see Upload).
func UploadFile(ctx context.Context, s blob.Store, path, key string, opts blob.PutOptions) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	_, err = s.Put(ctx, key, bytes.NewReader(data), opts)
	if opts.IfNoneMatch && errors.Is(err, blob.ErrPreconditionFailed) {
		old, _, gerr := blob.ReadAll(ctx, s, key)
		if gerr == nil && bytes.Equal(old, data) {
			return nil // written before by a retried attempt
		}
		return fmt.Errorf("%s exists with other content: %w", key, err)
	}
	return err
}

// Cached downloads prefix into dir unless an earlier invocation completed
// that already (its marker file exists), and returns dir.
func Cached(ctx context.Context, s blob.Store, prefix, dir string) (string, error) {
	marker := filepath.Join(dir, ".lorafn-complete")
	if _, err := os.Stat(marker); err == nil {
		return dir, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	n, err := Download(ctx, s, prefix, dir)
	if err != nil {
		return "", err
	}
	if n == 0 {
		return "", fmt.Errorf("nothing under %s", prefix)
	}
	return dir, os.WriteFile(marker, nil, 0o644)
}

// SafeName maps s (an ETag, say) to a name usable as a folder name.
func SafeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '_'
	}, s)
}
