// Package s3 is lorafn's own S3-protocol server: the storage half of the
// local twin and the S3 endpoint tests run aws-sdk-go-v2 and the aws CLI
// against. It speaks the REST-XML protocol as S3 does for the operations
// lorafn's workflow and its users' tools need: buckets (create, head, list,
// delete), objects (put with If-None-Match/If-Match, get with ranges and
// conditions, head, copy, delete, batch delete), ListObjects V1 and V2, and
// multipart uploads. ETags are computed as S3 computes them (the MD5 of the
// content; for multipart objects the MD5 of the parts' MD5s and "-N"),
// errors carry S3's codes, and request bodies may use the aws-chunked
// encodings with flexible checksums in headers or trailers.
//
// # Authentication
//
// Requests may carry AWS Signature Version 4 headers or presigned query
// parameters; they are accepted without verification. The server is meant
// for loopback use by one user: verifying would need the clients' secret
// keys configured on both sides for no security gain, and any credentials
// the SDK finds (including dummy ones) must simply work. Payload digests
// that do not depend on a secret (Content-MD5, x-amz-content-sha256,
// x-amz-checksum-*) are verified, as S3 does.
//
// # Addressing
//
// Path-style requests name the bucket in the first path segment
// (http://127.0.0.1:4566/bucket/key). Virtual-hosted requests name it in
// the host (http://bucket.localhost:4566/key); the host suffixes that mark
// them are Options.Domains.
//
// # Storage and atomicity
//
// Objects live in memory or, with Options.Dir, in a directory that survives
// restarts (see diskStorage). An upload is read to its end and verified
// before it becomes visible; the switch from the old object to the new one
// happens under a lock together with the If-Match/If-None-Match check, so a
// reader never sees a partial object and two conditional writers cannot
// both win. Multipart uploads in progress are kept in memory only.
package s3

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Server. The zero value serves from memory.
type Options struct {
	// Dir, when set, stores buckets and objects in this directory.
	Dir string
	// Region is reported by GetBucketLocation; default us-east-1.
	Region string
	// Domains are the host names under which virtual-hosted requests arrive
	// (bucket.<domain>); default "localhost".
	Domains []string
	// OnCreated, when set, is called after an object is committed, outside
	// any lock. The local twin uses it to emit "Object Created" events.
	OnCreated func(ObjectCreated)
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// ObjectCreated describes a committed write, as S3's EventBridge events do.
type ObjectCreated struct {
	Bucket string
	Key    string
	Size   int64
	ETag   string // without quotes, as in S3 events
	// Reason is PutObject, CopyObject or CompleteMultipartUpload.
	Reason string
	Time   time.Time
}

// Server is an S3-protocol http.Handler. It is safe for concurrent use.
type Server struct {
	opts    Options
	store   storage
	reqID   atomic.Uint64
	mu      sync.Mutex // guards buckets, their objects and uploads
	buckets map[string]*bucket
	uploads map[string]*upload
}

type bucket struct {
	name         string
	created      time.Time
	notification []byte // raw NotificationConfiguration XML
	objects      map[string]*object
}

func (b *bucket) file() bucketFile {
	f := bucketFile{Name: b.name, Created: b.created.UTC().Format(time.RFC3339)}
	f.Notification = string(b.notification)
	return f
}

// New returns a Server; with opts.Dir it loads what the directory holds and
// clears leftovers of interrupted writes.
func New(opts Options) (*Server, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Domains == nil {
		opts.Domains = []string{"localhost"}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, store: memStorage{}, uploads: map[string]*upload{}}
	if opts.Dir != "" {
		s.store = &diskStorage{dir: opts.Dir}
	}
	buckets, err := s.store.load()
	if err != nil {
		return nil, fmt.Errorf("s3: load %s: %w", opts.Dir, err)
	}
	s.buckets = buckets
	return s, nil
}

// Serve answers S3 requests on ln until ctx is done, then shuts down
// gracefully.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			hs.Shutdown(shut)
		case <-done:
		}
	}()
	err := hs.Serve(ln)
	close(done)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// ListenAndServe listens on addr (such as 127.0.0.1:4566) and serves until
// ctx is done.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("s3: %w", err)
	}
	return s.Serve(ctx, ln)
}

// now is the clock at S3's precision (whole seconds in Last-Modified).
func (s *Server) now() time.Time { return s.opts.Now().UTC().Truncate(time.Second) }

// request is one parsed S3 request.
type request struct {
	*http.Request
	id     string
	bucket string
	key    string
	query  url.Values
}

// ServeHTTP routes a request to its operation.
func (s *Server) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	r := &request{Request: hr, id: fmt.Sprintf("%016X", s.reqID.Add(1)), query: hr.URL.Query()}
	r.bucket, r.key = s.address(hr)
	w.Header().Set("x-amz-request-id", r.id)
	w.Header().Set("Server", "lorafn-s3")
	if _, err := parseAuth(hr); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.route(w, r); err != nil {
		s.writeError(w, r, err)
	}
}

// address splits a request into bucket and key, for both addressing styles.
func (s *Server) address(r *http.Request) (bucket, key string) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	path := strings.TrimPrefix(r.URL.Path, "/")
	for _, d := range s.opts.Domains {
		if b, ok := strings.CutSuffix(host, "."+strings.ToLower(d)); ok && b != "" {
			return b, path
		}
	}
	bucket, key, _ = strings.Cut(path, "/")
	return bucket, key
}

// subresources are query parameters that select an operation other than
// the plain one on a bucket or object. Those not handled are refused with
// NotImplemented rather than mistaken for the plain operation.
var subresources = []string{
	"accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption",
	"intelligent-tiering", "inventory", "legal-hold", "lifecycle", "location", "logging",
	"metrics", "notification", "object-lock", "ownershipControls", "partNumber", "policy",
	"policyStatus", "publicAccessBlock", "replication", "requestPayment", "restore",
	"retention", "select", "tagging", "torrent", "uploadId", "uploads", "versioning",
	"versions", "website",
}

func (r *request) sub() string {
	for _, name := range subresources {
		if r.query.Has(name) {
			return name
		}
	}
	return ""
}

func (s *Server) route(w http.ResponseWriter, r *request) error {
	sub := r.sub()
	switch {
	case r.bucket == "":
		if r.Method == http.MethodGet && sub == "" {
			return s.listBuckets(w, r)
		}
	case r.key == "":
		switch {
		case r.Method == http.MethodPut && sub == "":
			return s.createBucket(w, r)
		case r.Method == http.MethodHead && sub == "":
			return s.headBucket(w, r)
		case r.Method == http.MethodDelete && sub == "":
			return s.deleteBucket(w, r)
		case r.Method == http.MethodGet && sub == "":
			if r.query.Get("list-type") == "2" {
				return s.listObjectsV2(w, r)
			}
			return s.listObjectsV1(w, r)
		case r.Method == http.MethodGet && sub == "location":
			return s.getBucketLocation(w, r)
		case r.Method == http.MethodGet && sub == "notification":
			return s.getBucketNotification(w, r)
		case r.Method == http.MethodPut && sub == "notification":
			return s.putBucketNotification(w, r)
		case r.Method == http.MethodPost && sub == "delete":
			return s.deleteObjects(w, r)
		}
	default:
		switch {
		case r.Method == http.MethodPut && sub == "" && r.Header.Get("X-Amz-Copy-Source") != "":
			return s.copyObject(w, r)
		case r.Method == http.MethodPut && sub == "":
			return s.putObject(w, r)
		case r.Method == http.MethodPut && sub == "partNumber" && r.query.Has("uploadId"):
			if r.Header.Get("X-Amz-Copy-Source") != "" {
				return errNotImplemented("UploadPartCopy")
			}
			return s.uploadPart(w, r)
		case (r.Method == http.MethodGet || r.Method == http.MethodHead) && (sub == "" || sub == "partNumber"):
			return s.getObject(w, r)
		case r.Method == http.MethodDelete && sub == "":
			return s.deleteObject(w, r)
		case r.Method == http.MethodPost && sub == "uploads":
			return s.createMultipartUpload(w, r)
		case r.Method == http.MethodPost && sub == "uploadId":
			return s.completeMultipartUpload(w, r)
		case r.Method == http.MethodDelete && sub == "uploadId":
			return s.abortMultipartUpload(w, r)
		case r.Method == http.MethodGet && sub == "uploadId":
			return s.listParts(w, r)
		}
	}
	what := r.Method
	if sub != "" {
		what += " ?" + sub
	}
	return errNotImplemented(what)
}

func (s *Server) writeError(w http.ResponseWriter, r *request, err error) {
	var e *apiError
	if !errors.As(err, &e) {
		e = errInternal(err)
	}
	body := errorBody{Code: e.Code, Message: e.Message, BucketName: e.Bucket, Key: e.Key, Resource: r.URL.Path, RequestID: r.id}
	if r.Method == http.MethodHead {
		w.WriteHeader(e.Status)
		return
	}
	writeXML(w, e.Status, body)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	out, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	w.Write([]byte(xml.Header))
	w.Write(out)
}

// lookupBucket returns the named bucket; call with s.mu held.
func (s *Server) lookupBucket(name string) (*bucket, error) {
	b, ok := s.buckets[name]
	if !ok {
		return nil, errNoSuchBucket(name)
	}
	return b, nil
}

// sortedKeys returns the bucket's keys in S3's order (byte-wise); call
// with s.mu held.
func (b *bucket) sortedKeys() []string {
	keys := make([]string, 0, len(b.objects))
	for k := range b.objects {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// s3Time formats a time as S3 does in XML bodies.
func s3Time(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
