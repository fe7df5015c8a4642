package s3

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestSDKStreamingChecksums runs the SDK over TLS, where it streams bodies
// with the aws-chunked encoding and sends flexible checksums as trailers,
// for every checksum algorithm S3 offers.
func TestSDKStreamingChecksums(t *testing.T) {
	ctx := context.Background()
	srv, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	encodings := map[string]bool{}
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Query().Has("x-id") {
			mu.Lock()
			encodings[r.Header.Get("X-Amz-Content-Sha256")+" "+r.Header.Get("X-Amz-Trailer")] = true
			mu.Unlock()
		}
		srv.ServeHTTP(w, r)
	}))
	defer ts.Close()
	c := sdkClient(ts.URL, true, ts.Client())
	mustCreateBucket(t, c, "tls")

	body := strings.Repeat("lorafn checkpoint bytes ", 10000) // several chunks
	algs := []types.ChecksumAlgorithm{"", types.ChecksumAlgorithmCrc32, types.ChecksumAlgorithmCrc32c, types.ChecksumAlgorithmSha1, types.ChecksumAlgorithmSha256, types.ChecksumAlgorithmCrc64nvme}
	for _, alg := range algs {
		for _, seekable := range []bool{true, false} {
			key := "obj-" + string(alg)
			var r io.Reader = strings.NewReader(body)
			if !seekable {
				key += "-stream"
				r = io.MultiReader(strings.NewReader(body)) // hides Seek
			}
			in := &s3.PutObjectInput{Bucket: aws.String("tls"), Key: aws.String(key), Body: r, ChecksumAlgorithm: alg}
			if !seekable {
				in.ContentLength = aws.Int64(int64(len(body)))
			}
			out, err := c.PutObject(ctx, in)
			if err != nil {
				t.Fatalf("PutObject %s: %v", key, err)
			}
			if aws.ToString(out.ETag) != `"`+md5hex(body)+`"` {
				t.Errorf("%s: ETag %s, want MD5 of the content", key, aws.ToString(out.ETag))
			}
			// ChecksumMode makes the SDK verify the checksum the server returns.
			got, gout := get(t, c, &s3.GetObjectInput{Bucket: aws.String("tls"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			if got != body {
				t.Errorf("%s: content differs after a streamed upload", key)
			}
			if alg != "" && gout.ChecksumCRC32 == nil && gout.ChecksumCRC32C == nil && gout.ChecksumSHA1 == nil && gout.ChecksumSHA256 == nil && gout.ChecksumCRC64NVME == nil {
				t.Errorf("%s: no checksum returned with ChecksumMode ENABLED", key)
			}
		}
	}
	mu.Lock()
	streamed := false
	for e := range encodings {
		if strings.HasPrefix(e, "STREAMING-") {
			streamed = true
		}
	}
	t.Logf("PutObject payload encodings and trailers seen: %v", encodings)
	mu.Unlock()
	if !streamed {
		t.Errorf("the SDK never used aws-chunked (saw %v); the test no longer covers the streaming decoder", encodings)
	}

	// Multipart over TLS: parts streamed with trailers too.
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("tls"), Key: aws.String("mp"), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	p1 := bytes.Repeat([]byte{7}, minPartSize)
	var parts []types.CompletedPart
	for i, p := range [][]byte{p1, []byte("end")} {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("tls"), Key: aws.String("mp"), UploadId: cr.UploadId, PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		if err != nil {
			t.Fatalf("UploadPart: %v", err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("tls"), Key: aws.String("mp"), UploadId: cr.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatalf("CompleteMultipartUpload: %v", err)
	}
	if got, _ := get(t, c, &s3.GetObjectInput{Bucket: aws.String("tls"), Key: aws.String("mp")}); got != string(p1)+"end" {
		t.Error("multipart content differs")
	}
}
