package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// startServer serves a fresh in-memory Server on a loopback port.
func startServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts.URL
}

// sdkClient is an aws-sdk-go-v2 S3 client for endpoint with dummy
// credentials, as a user of the local twin would configure it.
func sdkClient(endpoint string, pathStyle bool, httpClient *http.Client) *s3.Client {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "local-secret", ""),
	}
	if httpClient != nil {
		cfg.HTTPClient = httpClient
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = pathStyle
	})
}

// apiCode returns the S3 error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func mustCreateBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("CreateBucket %s: %v", name, err)
	}
}

func put(t *testing.T, c *s3.Client, bucket, key, body string) string {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	if err != nil {
		t.Fatalf("PutObject %s: %v", key, err)
	}
	return aws.ToString(out.ETag)
}

func get(t *testing.T, c *s3.Client, in *s3.GetObjectInput) (string, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		t.Fatalf("GetObject %s: %v", aws.ToString(in.Key), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), out
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestSDKObjects(t *testing.T) {
	t.Run("memory", func(t *testing.T) { testSDKObjects(t, Options{}) })
	t.Run("disk", func(t *testing.T) { testSDKObjects(t, Options{Dir: t.TempDir()}) })
}

func testSDKObjects(t *testing.T, opts Options) {
	ctx := context.Background()
	_, url := startServer(t, opts)
	c := sdkClient(url, true, nil)
	mustCreateBucket(t, c, "runs")

	etag := put(t, c, "runs", "a/b c+d.json", `{"x":1}`)
	if want := `"` + md5hex(`{"x":1}`) + `"`; etag != want {
		t.Errorf("ETag %s, want %s (MD5 of the content)", etag, want)
	}
	body, out := get(t, c, &s3.GetObjectInput{Bucket: aws.String("runs"), Key: aws.String("a/b c+d.json")})
	if body != `{"x":1}` || aws.ToString(out.ETag) != etag || aws.ToInt64(out.ContentLength) != 7 {
		t.Errorf("GetObject = %q etag %s length %d", body, aws.ToString(out.ETag), aws.ToInt64(out.ContentLength))
	}

	// Ranges: first bytes, middle, suffix.
	for rng, want := range map[string]string{"bytes=0-1": `{"`, "bytes=2-2": "x", "bytes=-2": "1}", "bytes=5-": "1}"} {
		got, out := get(t, c, &s3.GetObjectInput{Bucket: aws.String("runs"), Key: aws.String("a/b c+d.json"), Range: aws.String(rng)})
		if got != want || !strings.HasSuffix(aws.ToString(out.ContentRange), "/7") {
			t.Errorf("Range %s = %q (Content-Range %s), want %q", rng, got, aws.ToString(out.ContentRange), want)
		}
	}
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("runs"), Key: aws.String("a/b c+d.json"), Range: aws.String("bytes=7-")})
	if apiCode(err) != "InvalidRange" {
		t.Errorf("range past the end: %v, want InvalidRange", err)
	}

	// Conditional writes.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("runs"), Key: aws.String("a/b c+d.json"), Body: strings.NewReader("new"), IfNoneMatch: aws.String("*")})
	if apiCode(err) != "PreconditionFailed" {
		t.Errorf("If-None-Match on an existing key: %v, want PreconditionFailed", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("runs"), Key: aws.String("a/b c+d.json"), Body: strings.NewReader("new"), IfMatch: aws.String(`"0123"`)})
	if apiCode(err) != "PreconditionFailed" {
		t.Errorf("If-Match with a stale ETag: %v, want PreconditionFailed", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("runs"), Key: aws.String("missing"), Body: strings.NewReader("new"), IfMatch: aws.String(etag)})
	if apiCode(err) != "NoSuchKey" {
		t.Errorf("If-Match on a missing key: %v, want NoSuchKey", err)
	}
	if body, _ := get(t, c, &s3.GetObjectInput{Bucket: aws.String("runs"), Key: aws.String("a/b c+d.json")}); body != `{"x":1}` {
		t.Errorf("a failed conditional write changed the object to %q", body)
	}
	pout, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("runs"), Key: aws.String("a/b c+d.json"), Body: strings.NewReader("new"), IfMatch: aws.String(etag)})
	if err != nil || aws.ToString(pout.ETag) != `"`+md5hex("new")+`"` {
		t.Errorf("If-Match with the current ETag: %v", err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("runs"), Key: aws.String("fresh"), Body: strings.NewReader("1"), IfNoneMatch: aws.String("*")}); err != nil {
		t.Errorf("If-None-Match on a new key: %v", err)
	}

	// Conditional reads.
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("runs"), Key: aws.String("fresh"), IfMatch: aws.String(`"nope"`)})
	if apiCode(err) != "PreconditionFailed" {
		t.Errorf("GetObject If-Match stale: %v, want PreconditionFailed", err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("runs"), Key: aws.String("fresh"), IfNoneMatch: aws.String(`"` + md5hex("1") + `"`)})
	var re interface{ HTTPStatusCode() int }
	if !errors.As(err, &re) || re.HTTPStatusCode() != http.StatusNotModified {
		t.Errorf("GetObject If-None-Match current: %v, want 304", err)
	}

	// Missing things carry S3's codes and the SDK's modelled types.
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("runs"), Key: aws.String("nope")})
	var nsk *types.NoSuchKey
	if !errors.As(err, &nsk) {
		t.Errorf("GetObject missing key: %v, want types.NoSuchKey", err)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("runs"), Key: aws.String("nope")})
	var nf *types.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("HeadObject missing key: %v, want types.NotFound", err)
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k"), Body: strings.NewReader("1")})
	if apiCode(err) != "NoSuchBucket" {
		t.Errorf("PutObject into a missing bucket: %v, want NoSuchBucket", err)
	}
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("Bad_Name")})
	if apiCode(err) != "InvalidBucketName" {
		t.Errorf("CreateBucket Bad_Name: %v, want InvalidBucketName", err)
	}

	// Head with metadata and content type.
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("runs"), Key: aws.String("m"), Body: strings.NewReader("meta"),
		ContentType: aws.String("application/json"), Metadata: map[string]string{"run-id": "r1"}})
	if err != nil {
		t.Fatal(err)
	}
	hout, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("runs"), Key: aws.String("m")})
	if err != nil || aws.ToString(hout.ContentType) != "application/json" || hout.Metadata["run-id"] != "r1" || aws.ToInt64(hout.ContentLength) != 4 {
		t.Errorf("HeadObject = %+v, %v", hout, err)
	}

	// Copy keeps content and ETag; copying onto itself without REPLACE is refused.
	cout, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("runs"), Key: aws.String("m2"), CopySource: aws.String("runs/m")})
	if err != nil || aws.ToString(cout.CopyObjectResult.ETag) != `"`+md5hex("meta")+`"` {
		t.Fatalf("CopyObject: %v", err)
	}
	if body, out := get(t, c, &s3.GetObjectInput{Bucket: aws.String("runs"), Key: aws.String("m2")}); body != "meta" || out.Metadata["run-id"] != "r1" {
		t.Errorf("copy = %q %v", body, out.Metadata)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("runs"), Key: aws.String("m"), CopySource: aws.String("runs/m")})
	if apiCode(err) != "InvalidRequest" {
		t.Errorf("copy onto itself: %v, want InvalidRequest", err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("runs"), Key: aws.String("m3"), CopySource: aws.String("runs/m"), CopySourceIfMatch: aws.String(`"stale"`)})
	if apiCode(err) != "PreconditionFailed" {
		t.Errorf("copy with a stale x-amz-copy-source-if-match: %v, want PreconditionFailed", err)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("runs"), Key: aws.String("m2"), CopySource: aws.String("runs/m"), IfNoneMatch: aws.String("*")})
	if apiCode(err) != "PreconditionFailed" {
		t.Errorf("copy onto an existing key with If-None-Match: %v, want PreconditionFailed", err)
	}
	rout, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("runs"), Key: aws.String("m"), CopySource: aws.String("runs/m"),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/plain"), Metadata: map[string]string{"k": "v"}})
	if err != nil || aws.ToString(rout.CopyObjectResult.ETag) != `"`+md5hex("meta")+`"` {
		t.Fatalf("copy onto itself with REPLACE: %v", err)
	}
	if h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("runs"), Key: aws.String("m")}); err != nil || aws.ToString(h.ContentType) != "text/plain" || h.Metadata["k"] != "v" || h.Metadata["run-id"] != "" {
		t.Errorf("after REPLACE: %+v %v", h, err)
	}
	if body, _ := get(t, c, &s3.GetObjectInput{Bucket: aws.String("runs"), Key: aws.String("m2")}); body != "meta" {
		t.Errorf("copy changed after its source was replaced: %q", body)
	}

	// Delete, batch delete, bucket deletion rules.
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("runs"), Key: aws.String("nope")}); err != nil {
		t.Errorf("DeleteObject of a missing key: %v, want success", err)
	}
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("runs")})
	if apiCode(err) != "BucketNotEmpty" {
		t.Errorf("DeleteBucket non-empty: %v, want BucketNotEmpty", err)
	}
	dout, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("runs"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("a/b c+d.json")}, {Key: aws.String("fresh")}, {Key: aws.String("m")}, {Key: aws.String("m2")}, {Key: aws.String("never")},
	}}})
	if err != nil || len(dout.Deleted) != 5 || len(dout.Errors) != 0 {
		t.Fatalf("DeleteObjects = %+v, %v", dout, err)
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("runs")}); err != nil {
		t.Errorf("DeleteBucket empty: %v", err)
	}
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("runs")})
	var nfb *types.NotFound
	if !errors.As(err, &nfb) {
		t.Errorf("HeadBucket after delete: %v, want NotFound", err)
	}
}

func TestSDKListBuckets(t *testing.T) {
	_, url := startServer(t, Options{})
	c := sdkClient(url, true, nil)
	for _, b := range []string{"zeta", "alpha", "mid.dle"} {
		mustCreateBucket(t, c, b)
	}
	out, err := c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	if got := strings.Join(names, ","); got != "alpha,mid.dle,zeta" {
		t.Errorf("ListBuckets = %s", got)
	}
	loc, err := c.GetBucketLocation(context.Background(), &s3.GetBucketLocationInput{Bucket: aws.String("alpha")})
	if err != nil || loc.LocationConstraint != "" {
		t.Errorf("GetBucketLocation = %+v, %v; want the empty us-east-1 constraint", loc, err)
	}
}

// TestSDKMultipart uploads three parts and checks the content and S3's
// multipart ETag, computed here independently of the server.
func TestSDKMultipart(t *testing.T) {
	ctx := context.Background()
	_, url := startServer(t, Options{})
	c := sdkClient(url, true, nil)
	mustCreateBucket(t, c, "models")
	parts := [][]byte{bytes.Repeat([]byte("a"), minPartSize), bytes.Repeat([]byte("b"), minPartSize), []byte("tail")}

	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("models"), Key: aws.String("w.safetensors"), ContentType: aws.String("application/octet-stream")})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	var md5s []byte
	for i, p := range parts {
		n := int32(i + 1)
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("models"), Key: aws.String("w.safetensors"), UploadId: cr.UploadId, PartNumber: aws.Int32(n), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatalf("UploadPart %d: %v", n, err)
		}
		sum := md5.Sum(p)
		md5s = append(md5s, sum[:]...)
		if aws.ToString(out.ETag) != `"`+hex.EncodeToString(sum[:])+`"` {
			t.Errorf("part %d ETag %s", n, aws.ToString(out.ETag))
		}
		done = append(done, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag})
	}
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("models"), Key: aws.String("w.safetensors"), UploadId: cr.UploadId})
	if err != nil || len(lp.Parts) != 3 || aws.ToInt64(lp.Parts[2].Size) != 4 || aws.ToString(lp.Parts[0].ETag) != aws.ToString(done[0].ETag) {
		t.Errorf("ListParts = %+v, %v", lp, err)
	}
	// Parts out of order are refused.
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("models"), Key: aws.String("w.safetensors"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{done[1], done[0]}}})
	if apiCode(err) != "InvalidPartOrder" {
		t.Errorf("parts out of order: %v, want InvalidPartOrder", err)
	}
	out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("models"), Key: aws.String("w.safetensors"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}, IfNoneMatch: aws.String("*")})
	if err != nil {
		t.Fatal(err)
	}
	all := md5.Sum(md5s)
	if want := fmt.Sprintf(`"%s-3"`, hex.EncodeToString(all[:])); aws.ToString(out.ETag) != want {
		t.Errorf("multipart ETag %s, want %s", aws.ToString(out.ETag), want)
	}
	body, gout := get(t, c, &s3.GetObjectInput{Bucket: aws.String("models"), Key: aws.String("w.safetensors")})
	if body != string(bytes.Join(parts, nil)) || aws.ToInt32(gout.PartsCount) != 3 {
		t.Errorf("multipart content differs (%d bytes) or parts count %d", len(body), aws.ToInt32(gout.PartsCount))
	}
	// The upload is gone after completion.
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("models"), Key: aws.String("w.safetensors"), UploadId: cr.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	if apiCode(err) != "NoSuchUpload" {
		t.Errorf("UploadPart after Complete: %v, want NoSuchUpload", err)
	}

	// A small non-last part is refused; an aborted upload leaves nothing.
	cr2, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("models"), Key: aws.String("small")})
	if err != nil {
		t.Fatal(err)
	}
	var small []types.CompletedPart
	for n := int32(1); n <= 2; n++ {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("models"), Key: aws.String("small"), UploadId: cr2.UploadId, PartNumber: aws.Int32(n), Body: strings.NewReader("tiny")})
		if err != nil {
			t.Fatal(err)
		}
		small = append(small, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag})
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("models"), Key: aws.String("small"), UploadId: cr2.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: small}})
	if apiCode(err) != "EntityTooSmall" {
		t.Errorf("small first part: %v, want EntityTooSmall", err)
	}
	if _, err := c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("models"), Key: aws.String("small"), UploadId: cr2.UploadId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("models"), Key: aws.String("small")})
	if err == nil {
		t.Error("aborted upload created an object")
	}
}

// TestSDKVirtualHost addresses the bucket in the host name, as the SDK
// does by default for DNS-compatible bucket names.
func TestSDKVirtualHost(t *testing.T) {
	var hosts []string
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hosts = append(hosts, r.Host)
		srv.ServeHTTP(w, r)
	}))
	defer ts.Close()
	addr := ts.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	// Every *.localhost name resolves to the test server.
	dial := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return dial.DialContext(ctx, network, addr)
	}}}
	c := sdkClient("http://localhost:"+port, false, hc)
	mustCreateBucket(t, c, "vhost")
	put(t, c, "vhost", "dir/k", "v")
	if body, _ := get(t, c, &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/k")}); body != "v" {
		t.Errorf("virtual-hosted get = %q", body)
	}
	if len(hosts) == 0 || !strings.HasPrefix(hosts[len(hosts)-1], "vhost.localhost:") {
		t.Errorf("requests went to %v, want vhost.localhost", hosts)
	}
	// The same object by path style.
	cp := sdkClient(ts.URL, true, nil)
	if body, _ := get(t, cp, &s3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("dir/k")}); body != "v" {
		t.Errorf("path-style get = %q", body)
	}
}

// TestSDKPresigned uses URLs from the SDK's presign client with a plain
// HTTP client, as a browser or curl would.
func TestSDKPresigned(t *testing.T) {
	ctx := context.Background()
	_, url := startServer(t, Options{})
	c := sdkClient(url, true, nil)
	mustCreateBucket(t, c, "presign")
	pc := s3.NewPresignClient(c)
	putReq, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("presign"), Key: aws.String("up.txt")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(putReq.Method, putReq.URL, strings.NewReader("via presigned url"))
	for k, vs := range putReq.SignedHeader {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("presigned PUT: %v %v", resp, err)
	}
	resp.Body.Close()
	getReq, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("presign"), Key: aws.String("up.txt")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(getReq.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "via presigned url" {
		t.Errorf("presigned GET = %d %q", resp.StatusCode, b)
	}
}
