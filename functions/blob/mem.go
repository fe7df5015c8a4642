package blob

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Mem is an in-memory Store for tests, like fstest.MapFS for files. ETags
// are quoted MD5s, as S3 gives for single-part objects. The zero value is
// an empty store.
type Mem struct {
	mu      sync.Mutex
	objects map[string]memObject
	// Now is the clock for LastModified; nil means time.Now.
	Now func() time.Time
}

type memObject struct {
	data []byte
	info Info
}

var _ Store = (*Mem)(nil)

// Get implements Store.
func (m *Mem) Get(ctx context.Context, key string) (io.ReadCloser, Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, Info{}, &Error{Op: "get", Key: key, Err: err}
	}
	m.mu.Lock()
	o, ok := m.objects[key]
	m.mu.Unlock()
	if !ok {
		return nil, Info{}, &Error{Op: "get", Key: key, Err: ErrNotFound}
	}
	return io.NopCloser(bytes.NewReader(o.data)), o.info, nil
}

// Head implements Store.
func (m *Mem) Head(ctx context.Context, key string) (Info, error) {
	if err := ctx.Err(); err != nil {
		return Info{}, &Error{Op: "head", Key: key, Err: err}
	}
	m.mu.Lock()
	o, ok := m.objects[key]
	m.mu.Unlock()
	if !ok {
		return Info{}, &Error{Op: "head", Key: key, Err: ErrNotFound}
	}
	return o.info, nil
}

// Put implements Store.
func (m *Mem) Put(ctx context.Context, key string, body io.Reader, opts PutOptions) (string, error) {
	data, err := io.ReadAll(body)
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return "", &Error{Op: "put", Key: key, Err: err}
	}
	sum := md5.Sum(data)
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	info := Info{Key: key, Size: int64(len(data)), ETag: `"` + hex.EncodeToString(sum[:]) + `"`, LastModified: now().UTC()}
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, exists := m.objects[key]
	if opts.IfNoneMatch && exists || opts.IfMatch != "" && (!exists || cur.info.ETag != opts.IfMatch) {
		return "", &Error{Op: "put", Key: key, Err: ErrPreconditionFailed}
	}
	if m.objects == nil {
		m.objects = map[string]memObject{}
	}
	m.objects[key] = memObject{data: data, info: info}
	return info.ETag, nil
}

// List implements Store.
func (m *Mem) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := ctx.Err(); err != nil {
		return nil, &Error{Op: "list", Key: prefix, Err: err}
	}
	m.mu.Lock()
	var out []Info
	for k, o := range m.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, o.info)
		}
	}
	m.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements Store.
func (m *Mem) Delete(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return &Error{Op: "delete", Key: key, Err: err}
	}
	m.mu.Lock()
	delete(m.objects, key)
	m.mu.Unlock()
	return nil
}
