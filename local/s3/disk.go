package s3

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// diskStorage keeps buckets under a directory:
//
//	<dir>/<bucket>/bucket.json        the bucket exists once this is in place
//	<dir>/<bucket>/meta/<sha256(key)>.json   object sidecar (metadata, data file name)
//	<dir>/<bucket>/data/<random>      immutable object content
//
// Every file is written to a temporary name, synced and renamed into place,
// and a data file is complete before the sidecar naming it is renamed: the
// sidecar rename is the commit point, so after a crash an object is either
// the old one or the new one. Data files no sidecar names (staged uploads,
// parts, replaced objects) are deleted by load.
type diskStorage struct {
	dir string
}

// bucketFile is the persisted part of a bucket.
type bucketFile struct {
	Name         string `json:"name"`
	Created      string `json:"created"`                // RFC 3339
	Notification string `json:"notification,omitempty"` // XML
}

func (d *diskStorage) bucketDir(name string) string { return filepath.Join(d.dir, name) }

func metaName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:]) + ".json"
}

// markerFile identifies a directory as this server's storage. load
// refuses a non-empty directory without it, so pointing Dir at a directory
// holding other files (a home directory, say) cannot get them cleaned up
// as leftovers.
const markerFile = ".lorafn-s3"

func (d *diskStorage) load() (map[string]*bucket, error) {
	if err := os.MkdirAll(d.dir, 0o755); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(d.dir, markerFile)); errors.Is(err, os.ErrNotExist) {
		if len(entries) > 0 {
			return nil, fmt.Errorf("%s is not empty and has no %s file: not a lorafn S3 data directory", d.dir, markerFile)
		}
		if err := writeFileAtomic(filepath.Join(d.dir, markerFile), []byte("lorafn S3 storage, layout 1\n")); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	buckets := map[string]*bucket{}
	for _, e := range entries {
		if !e.IsDir() || checkBucketName(e.Name()) != nil {
			continue // not a bucket (the marker, a temporary file)
		}
		bdir := d.bucketDir(e.Name())
		raw, err := os.ReadFile(filepath.Join(bdir, "bucket.json"))
		if errors.Is(err, os.ErrNotExist) {
			// A bucket whose creation or deletion was cut short.
			if err := os.RemoveAll(bdir); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		b, err := decodeBucket(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(bdir, "bucket.json"), err)
		}
		if err := d.loadObjects(b); err != nil {
			return nil, err
		}
		buckets[b.name] = b
	}
	return buckets, nil
}

func (d *diskStorage) loadObjects(b *bucket) error {
	bdir := d.bucketDir(b.name)
	metas, err := os.ReadDir(filepath.Join(bdir, "meta"))
	if err != nil {
		return err
	}
	used := map[string]bool{}
	for _, m := range metas {
		path := filepath.Join(bdir, "meta", m.Name())
		if strings.HasPrefix(m.Name(), ".tmp-") {
			os.Remove(path)
			continue
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var o object
		if err := json.Unmarshal(raw, &o); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if metaName(o.Key) != m.Name() || !validDataName(o.Blob.File) {
			return fmt.Errorf("%s: sidecar does not match its file name or names a bad data file", path)
		}
		used[o.Blob.File] = true
		b.objects[o.Key] = &o
	}
	datas, err := os.ReadDir(filepath.Join(bdir, "data"))
	if err != nil {
		return err
	}
	for _, f := range datas {
		if !used[f.Name()] {
			os.Remove(filepath.Join(bdir, "data", f.Name()))
		}
	}
	return nil
}

func validDataName(name string) bool {
	if len(name) != 32 {
		return false
	}
	_, err := hex.DecodeString(name)
	return err == nil
}

func (d *diskStorage) createBucket(b *bucket) error {
	bdir := d.bucketDir(b.name)
	if err := os.RemoveAll(bdir); err != nil {
		return err
	}
	for _, sub := range []string{"meta", "data"} {
		if err := os.MkdirAll(filepath.Join(bdir, sub), 0o755); err != nil {
			return err
		}
	}
	return d.saveBucket(b)
}

func (d *diskStorage) saveBucket(b *bucket) error {
	raw, err := json.Marshal(b.file())
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(d.bucketDir(b.name), "bucket.json"), raw)
}

func (d *diskStorage) deleteBucket(name string) error {
	bdir := d.bucketDir(name)
	// Removing bucket.json first makes the deletion final even if the
	// RemoveAll below is cut short; load clears the rest.
	if err := os.Remove(filepath.Join(bdir, "bucket.json")); err != nil {
		return err
	}
	syncDir(bdir)
	return os.RemoveAll(bdir)
}

func randomName() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newData creates a data file, fills it with fill and syncs it.
func (d *diskStorage) newData(bucket string, fill func(w io.Writer) error) (blob, error) {
	name := randomName()
	path := filepath.Join(d.bucketDir(bucket), "data", name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return blob{}, err
	}
	err = fill(f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return blob{}, err
	}
	return blob{File: name}, nil
}

func (d *diskStorage) stage(bucket string, r io.Reader) (blob, error) {
	return d.newData(bucket, func(w io.Writer) error {
		_, err := io.Copy(w, r)
		return err
	})
}

func (d *diskStorage) concat(bucket string, parts []blob) (blob, error) {
	return d.newData(bucket, func(w io.Writer) error {
		for _, p := range parts {
			f, err := d.open(bucket, p)
			if err != nil {
				return err
			}
			_, err = io.Copy(w, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
}

func (d *diskStorage) link(fromBucket string, b blob, toBucket string) (blob, error) {
	name := randomName()
	src := filepath.Join(d.bucketDir(fromBucket), "data", b.File)
	if err := os.Link(src, filepath.Join(d.bucketDir(toBucket), "data", name)); err == nil {
		return blob{File: name}, nil
	}
	f, err := d.open(fromBucket, b)
	if err != nil {
		return blob{}, err
	}
	defer f.Close()
	return d.stage(toBucket, f)
}

func (d *diskStorage) open(bucket string, b blob) (io.ReadSeekCloser, error) {
	return os.Open(filepath.Join(d.bucketDir(bucket), "data", b.File))
}

func (d *diskStorage) commit(bucket string, o *object) error {
	raw, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(d.bucketDir(bucket), "meta", metaName(o.Key)), raw)
}

func (d *diskStorage) remove(bucket, key string) error {
	dir := filepath.Join(d.bucketDir(bucket), "meta")
	err := os.Remove(filepath.Join(dir, metaName(key)))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	syncDir(dir)
	return err
}

func (d *diskStorage) discard(bucket string, b blob) {
	os.Remove(filepath.Join(d.bucketDir(bucket), "data", b.File))
}

// writeFileAtomic replaces path with data: temporary file, sync, rename,
// sync of the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp := filepath.Join(dir, ".tmp-"+randomName())
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename or removal in dir durable. Errors are ignored:
// some file systems cannot sync directories, and the rename itself has
// already happened.
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}
