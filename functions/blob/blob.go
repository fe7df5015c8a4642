// Package blob is the small object-store interface lorafn's workflow steps
// read and write through: S3 in AWS, lorafn's local S3 server in tests and on
// a laptop, or a plain directory.
//
// Keys are S3 object keys: slash-separated, case-sensitive, never starting
// with a slash. ETags are opaque strings: compare them for equality and pass
// them back in PutOptions.IfMatch, nothing more (S3 quotes them and uses a
// different form for multipart objects).
//
// Every object the workflow writes is either immutable (created once with
// IfNoneMatch) or a small pointer moved with IfMatch, so the two conditional
// writes below are the whole concurrency story. A Put is atomic: a reader sees
// the old object or the new one, never part of either.
//
// Implementations are safe for concurrent use.
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// Store is an object store addressed by key.
type Store interface {
	// Get opens the object at key for reading. The caller must close the
	// returned reader. A missing key is an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, Info, error)

	// Head returns the object's metadata without its content. A missing key
	// is an error wrapping ErrNotFound.
	Head(ctx context.Context, key string) (Info, error)

	// Put stores the whole of body at key and returns the new ETag. With
	// opts.IfNoneMatch it only creates: an existing key gives an error
	// wrapping ErrPreconditionFailed. With opts.IfMatch it only replaces the
	// object whose ETag is opts.IfMatch: a different ETag or a missing key
	// gives ErrPreconditionFailed. Nothing is written when Put fails.
	Put(ctx context.Context, key string, body io.Reader, opts PutOptions) (etag string, err error)

	// List returns the objects whose keys start with prefix, in ascending
	// key order (byte-wise, as S3 orders them).
	List(ctx context.Context, prefix string) ([]Info, error)

	// Delete removes the object at key. Deleting a missing key succeeds, as
	// it does on S3.
	Delete(ctx context.Context, key string) error
}

// PutOptions are the conditions and metadata of a Put. The zero value is an
// unconditional write.
type PutOptions struct {
	// IfNoneMatch makes the write create-only (S3's If-None-Match: *).
	IfNoneMatch bool
	// IfMatch, when not empty, makes the write replace only the object with
	// this ETag (S3's If-Match).
	IfMatch string
	// ContentType is stored with the object; empty means
	// application/octet-stream.
	ContentType string
	// Tags are S3 object tags (x-amz-tagging), which lifecycle rules select
	// on; stores without tags (Mem, Dir) ignore them.
	Tags map[string]string
}

// Info describes a stored object.
type Info struct {
	Key          string
	Size         int64 // bytes
	ETag         string
	LastModified time.Time
}

// Sentinel errors, wrapped in *Error. Test for them with errors.Is.
var (
	// ErrNotFound: no object at that key.
	ErrNotFound = errors.New("object not found")
	// ErrPreconditionFailed: a conditional Put found the key present
	// (IfNoneMatch) or with another ETag or absent (IfMatch).
	ErrPreconditionFailed = errors.New("precondition failed")
)

// Error records the operation and key of a failed store call, like
// fs.PathError does for files.
type Error struct {
	Op  string // "get", "head", "put", "list", "delete"
	Key string // the key, or the prefix for list
	Err error
}

func (e *Error) Error() string { return "blob: " + e.Op + " " + e.Key + ": " + e.Err.Error() }

// Unwrap returns the underlying error, so errors.Is finds the sentinels.
func (e *Error) Unwrap() error { return e.Err }

// ReadAll reads the whole object at key, for the small JSON documents the
// workflow passes around.
func ReadAll(ctx context.Context, s Store, key string) ([]byte, Info, error) {
	rc, info, err := s.Get(ctx, key)
	if err != nil {
		return nil, Info{}, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, Info{}, &Error{Op: "get", Key: key, Err: err}
	}
	return b, info, nil
}
