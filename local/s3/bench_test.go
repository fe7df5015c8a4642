package s3

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkPutGet measures a PutObject and a GetObject of one object
// through the SDK over loopback, per storage and object size. Compare the
// disk rows with the memory rows of the same run: the ratio is the cost of
// syncing data files and sidecars.
func BenchmarkPutGet(b *testing.B) {
	for _, size := range []int{64 << 10, 4 << 20} {
		for _, disk := range []bool{false, true} {
			name := fmt.Sprintf("mem/%dKiB", size>>10)
			opts := Options{}
			if disk {
				name = fmt.Sprintf("disk/%dKiB", size>>10)
				opts.Dir = b.TempDir()
			}
			b.Run(name, func(b *testing.B) {
				srv, err := New(opts)
				if err != nil {
					b.Fatal(err)
				}
				ts := newBenchServer(b, srv)
				c := sdkClient(ts, true, nil)
				ctx := context.Background()
				if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
					b.Fatal(err)
				}
				data := bytes.Repeat([]byte{1}, size)
				b.SetBytes(int64(2 * size))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("k"), Body: bytes.NewReader(data)}); err != nil {
						b.Fatal(err)
					}
					out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("k")})
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, out.Body)
					out.Body.Close()
				}
			})
		}
	}
}

func newBenchServer(b *testing.B, srv *Server) string {
	ts := httptest.NewServer(srv)
	b.Cleanup(ts.Close)
	return ts.URL
}
