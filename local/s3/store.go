package s3

import (
	"bytes"
	"io"
	"time"
)

// object is one stored object's metadata. On disk it is the JSON sidecar;
// the content lives in an immutable data file named by Data.
type object struct {
	Key          string            `json:"key"`
	Size         int64             `json:"size"`
	ETag         string            `json:"etag"` // quoted, as S3 sends it
	LastModified time.Time         `json:"lastModified"`
	Parts        int               `json:"parts,omitempty"`    // multipart objects: number of parts
	Headers      map[string]string `json:"headers,omitempty"`  // Content-Type and friends, canonical names
	Metadata     map[string]string `json:"metadata,omitempty"` // x-amz-meta-*, lower-case names without the prefix
	Checksum     string            `json:"checksum,omitempty"` // "<ALGORITHM> <base64>" of a single-part upload
	Blob         blob              `json:"data"`
}

// blob is where an object's bytes are: a data file (disk storage) or a byte
// slice (memory storage). Content is never modified once written, so a blob
// can be shared by several objects (CopyObject) and read without locks.
type blob struct {
	File string `json:"file,omitempty"`
	mem  []byte
}

// storage keeps bucket and object state durable. The Server serialises all
// calls that change state under its mutex, except stage and concat, which
// only create new unreferenced blobs and may run concurrently.
type storage interface {
	// load returns the persisted buckets.
	load() (map[string]*bucket, error)
	createBucket(b *bucket) error
	saveBucket(b *bucket) error
	deleteBucket(name string) error
	// stage copies r into a new blob that no object references yet.
	stage(bucket string, r io.Reader) (blob, error)
	// concat writes the blobs one after another into a new blob.
	concat(bucket string, parts []blob) (blob, error)
	// link returns a blob with the same content in bucket, sharing storage
	// where it can.
	link(fromBucket string, b blob, toBucket string) (blob, error)
	open(bucket string, b blob) (io.ReadSeekCloser, error)
	// commit makes o durable under its key, replacing any previous object.
	commit(bucket string, o *object) error
	// remove deletes the object record for key.
	remove(bucket, key string) error
	// discard frees a blob no object references any more.
	discard(bucket string, b blob)
}

// memStorage keeps everything in memory; load starts empty.
type memStorage struct{}

func (memStorage) load() (map[string]*bucket, error) { return map[string]*bucket{}, nil }
func (memStorage) createBucket(*bucket) error        { return nil }
func (memStorage) saveBucket(*bucket) error          { return nil }
func (memStorage) deleteBucket(string) error         { return nil }

func (memStorage) stage(_ string, r io.Reader) (blob, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(r)
	return blob{mem: buf.Bytes()}, err
}

func (memStorage) concat(_ string, parts []blob) (blob, error) {
	n := 0
	for _, p := range parts {
		n += len(p.mem)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p.mem...)
	}
	return blob{mem: out}, nil
}

func (memStorage) link(_ string, b blob, _ string) (blob, error) { return b, nil }

func (memStorage) open(_ string, b blob) (io.ReadSeekCloser, error) {
	return nopCloser{bytes.NewReader(b.mem)}, nil
}

func (memStorage) commit(string, *object) error { return nil }
func (memStorage) remove(string, string) error  { return nil }
func (memStorage) discard(string, blob)         {}

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }
