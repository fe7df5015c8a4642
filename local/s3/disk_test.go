package s3

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/iotest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestDiskRestart writes through one server, simulates the debris of a
// crash (a staged data file, a half-written sidecar, a bucket directory
// without its marker), and checks that a new server over the same
// directory serves exactly the committed state and clears the debris.
func TestDiskRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv1, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ts1 := httptest.NewServer(srv1)
	c1 := sdkClient(ts1.URL, true, nil)
	mustCreateBucket(t, c1, "keep")
	mustCreateBucket(t, c1, "gone")
	etag := put(t, c1, "keep", "runs/r/manifest.json", `{"state":"running"}`)
	put(t, c1, "keep", "runs/r/status.json", "v1")
	put(t, c1, "keep", "runs/r/status.json", "v2") // replaces: v1's data file is freed
	put(t, c1, "keep", "tmp", "x")
	if _, err := c1.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("keep"), Key: aws.String("tmp")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	// An upload in progress when the server stops.
	cr, err := c1.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("keep"), Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c1.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("keep"), Key: aws.String("big"), UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("part")}); err != nil {
		t.Fatal(err)
	}
	ts1.Close()

	if n := countFiles(t, filepath.Join(dir, "keep", "data")); n != 3 {
		t.Errorf("%d data files before restart, want 3 (two objects, one part)", n)
	}
	// Crash debris.
	os.WriteFile(filepath.Join(dir, "keep", "data", strings.Repeat("ab", 16)), []byte("staged"), 0o644)
	os.WriteFile(filepath.Join(dir, "keep", "meta", ".tmp-123"), []byte(`{"key":`), 0o644)
	os.MkdirAll(filepath.Join(dir, "half-made", "meta"), 0o755)

	srv2, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ts2 := httptest.NewServer(srv2)
	defer ts2.Close()
	c2 := sdkClient(ts2.URL, true, nil)
	body, out := get(t, c2, &s3.GetObjectInput{Bucket: aws.String("keep"), Key: aws.String("runs/r/manifest.json")})
	if body != `{"state":"running"}` || aws.ToString(out.ETag) != etag {
		t.Errorf("after restart: %q %s", body, aws.ToString(out.ETag))
	}
	if body, _ := get(t, c2, &s3.GetObjectInput{Bucket: aws.String("keep"), Key: aws.String("runs/r/status.json")}); body != "v2" {
		t.Errorf("after restart status.json = %q, want v2", body)
	}
	list, err := c2.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("keep")})
	if err != nil || len(list.Contents) != 2 {
		t.Errorf("after restart %d objects (%v), want 2", len(list.Contents), err)
	}
	buckets, err := c2.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(buckets.Buckets) != 1 || aws.ToString(buckets.Buckets[0].Name) != "keep" {
		t.Errorf("after restart buckets = %v, %v; want only keep", buckets, err)
	}
	if n := countFiles(t, filepath.Join(dir, "keep", "data")); n != 2 {
		t.Errorf("%d data files after restart, want 2: debris and the lost upload's part not cleared", n)
	}
	if _, err := os.Stat(filepath.Join(dir, "keep", "meta", ".tmp-123")); !os.IsNotExist(err) {
		t.Error("half-written sidecar not removed")
	}
	if _, err := os.Stat(filepath.Join(dir, "half-made")); !os.IsNotExist(err) {
		t.Error("bucket directory without bucket.json not removed")
	}
	// A corrupt sidecar is an error that names the file, not a silent loss.
	for _, e := range must(os.ReadDir(filepath.Join(dir, "keep", "meta"))) {
		os.WriteFile(filepath.Join(dir, "keep", "meta", e.Name()), []byte("{"), 0o644)
		break
	}
	if _, err := New(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "keep", "meta")) {
		t.Errorf("corrupt sidecar: %v, want an error naming it", err)
	}
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestAtomicOverwrite reads an object while it is overwritten again and
// again: every read must return one complete version, never a mix or a
// truncation.
func TestAtomicOverwrite(t *testing.T) {
	for _, opts := range []Options{{}, {Dir: t.TempDir()}} {
		ctx := context.Background()
		_, url := startServer(t, opts)
		c := sdkClient(url, true, nil)
		mustCreateBucket(t, c, "atomic")
		const size = 256 << 10
		versions := map[string]bool{}
		for i := range 4 {
			v := string(bytes.Repeat([]byte{byte('a' + i)}, size))
			versions[v] = true
		}
		put(t, c, "atomic", "k", string(bytes.Repeat([]byte{'a'}, size)))
		var stop atomic.Bool
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("atomic"), Key: aws.String("k"), Body: bytes.NewReader(bytes.Repeat([]byte{byte('a' + i%4)}, size))})
			}
		}()
		for range 40 {
			body, _ := get(t, c, &s3.GetObjectInput{Bucket: aws.String("atomic"), Key: aws.String("k")})
			if !versions[body] {
				t.Errorf("read %d bytes that are no complete version (starts %q)", len(body), body[:min(8, len(body))])
				break
			}
		}
		stop.Store(true)
		wg.Wait()
	}
}

// TestOnCreated checks the hook the local twin turns into EventBridge
// events, and the stored notification configuration.
func TestOnCreated(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var events []ObjectCreated
	srv, url := startServer(t, Options{OnCreated: func(e ObjectCreated) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}})
	c := sdkClient(url, true, nil)
	mustCreateBucket(t, c, "events")
	put(t, c, "events", "datasets/d/train.jsonl", "{}\n")
	c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("events"), Key: aws.String("datasets/d/train.jsonl"), Body: strings.NewReader("x"), IfNoneMatch: aws.String("*")})
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("events"), Key: aws.String("copy"), CopySource: aws.String("events/datasets/d/train.jsonl")}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := events
	mu.Unlock()
	if len(got) != 2 || got[0].Reason != "PutObject" || got[0].Key != "datasets/d/train.jsonl" || got[0].Size != 3 || got[0].ETag != md5hex("{}\n") || got[1].Reason != "CopyObject" {
		t.Errorf("events = %+v; want a PutObject and a CopyObject, none for the failed conditional put", got)
	}

	if _, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: aws.String("events"),
		NotificationConfiguration: &types.NotificationConfiguration{EventBridgeConfiguration: &types.EventBridgeConfiguration{}}}); err != nil {
		t.Fatalf("PutBucketNotificationConfiguration: %v", err)
	}
	if got := string(srv.NotificationConfig("events")); !strings.Contains(got, "<EventBridgeConfiguration") {
		t.Errorf("NotificationConfig = %q, want the EventBridge configuration as sent", got)
	}
	if got := srv.NotificationConfig("nonexistent"); got != nil {
		t.Errorf("NotificationConfig of a missing bucket = %q", got)
	}
	nc, err := c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: aws.String("events")})
	if err != nil || nc.EventBridgeConfiguration == nil {
		t.Errorf("GetBucketNotificationConfiguration = %+v, %v; want EventBridge enabled", nc, err)
	}
}

// TestDiskRefusesForeignDirectory: a non-empty directory that this server
// did not create is refused, and nothing in it is touched.
func TestDiskRefusesForeignDirectory(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "photos")
	os.MkdirAll(keep, 0o755)
	os.WriteFile(filepath.Join(keep, "cat.jpg"), []byte("meow"), 0o644)
	if _, err := New(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "not a lorafn S3 data directory") {
		t.Fatalf("New over a foreign directory: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(keep, "cat.jpg")); err != nil || string(b) != "meow" {
		t.Fatalf("foreign file touched: %q %v", b, err)
	}
	// An empty or missing directory is adopted.
	if _, err := New(Options{Dir: filepath.Join(dir, "new", "s3")}); err != nil {
		t.Fatal(err)
	}
}

// TestStoreFailures: a storage failure is the server's (500 InternalError),
// a body that breaks off is the client's (400 IncompleteBody); neither
// leaves an object behind.
func TestStoreFailures(t *testing.T) {
	dir := t.TempDir()
	srv, err := New(Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	srv.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("PUT", "/fail", nil))

	broken := httptest.NewRequest("PUT", "/fail/k", io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(errors.New("connection reset"))))
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, broken)
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "IncompleteBody") {
		t.Errorf("broken body: %d %s, want 400 IncompleteBody", rec.Code, rec.Body.String())
	}

	os.RemoveAll(filepath.Join(dir, "fail", "data")) // the disk "fails"
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("PUT", "/fail/k", strings.NewReader("abc")))
	if rec.Code != 500 || !strings.Contains(rec.Body.String(), "InternalError") {
		t.Errorf("storage failure: %d %s, want 500 InternalError", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest("HEAD", "/fail/k", nil))
	if rec.Code != 404 {
		t.Errorf("after failed puts HEAD = %d, want 404", rec.Code)
	}
}
