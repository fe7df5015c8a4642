package blob_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/blob/blobtest"
	locals3 "github.com/lorafn/lorafn/local/s3"
)

func TestMem(t *testing.T) { blobtest.Run(t, &blob.Mem{}, 1<<20) }

func TestDir(t *testing.T) { blobtest.Run(t, &blob.Dir{Root: t.TempDir()}, 1<<20) }

// s3Store serves a fresh lorafn S3 server on loopback and returns a store
// built the way a Lambda function builds it: from the environment.
func s3Store(t *testing.T, opts locals3.Options) *blob.S3 {
	srv, err := locals3.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	t.Setenv("AWS_ENDPOINT_URL", ts.URL)
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	client, err := blob.NewS3Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("lorafn")}); err != nil {
		t.Fatal(err)
	}
	st := blob.NewS3(client, "lorafn")
	st.PartSize = 5 << 20 // S3's minimum, so "large" takes the multipart path
	return st
}

func blobOptions() locals3.Options { return locals3.Options{} }

func TestS3Memory(t *testing.T) {
	blobtest.Run(t, s3Store(t, locals3.Options{}), 11<<20+123)
}

func TestS3Disk(t *testing.T) {
	blobtest.Run(t, s3Store(t, locals3.Options{Dir: t.TempDir()}), 11<<20+123)
}
