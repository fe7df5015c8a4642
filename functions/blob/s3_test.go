package blob_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/functions/blob"
)

// TestS3EndpointPrecedence: AWS_ENDPOINT_URL_S3 wins over
// AWS_ENDPOINT_URL, as in the AWS SDKs and CLI.
func TestS3EndpointPrecedence(t *testing.T) {
	st := s3Store(t, blobOptions())
	t.Setenv("AWS_ENDPOINT_URL_S3", os.Getenv("AWS_ENDPOINT_URL"))
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // nothing listens there
	client, err := blob.NewS3Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	other := blob.NewS3(client, st.Bucket)
	if _, err := other.Put(context.Background(), "k", strings.NewReader("v"), blob.PutOptions{}); err != nil {
		t.Fatalf("Put through AWS_ENDPOINT_URL_S3: %v", err)
	}
}

// TestS3ConflictIsPrecondition: S3 answers a conditional write that races
// another with 409 ConditionalRequestConflict; for the store's callers
// that is a lost race like 412. lorafn's server serialises conditional
// writes and never sends 409, so this endpoint answers every request with
// that error in S3's wire format.
func TestS3ConflictIsPrecondition(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusConflict)
		w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>ConditionalRequestConflict</Code><Message>A conflicting operation occurred.</Message><RequestId>1</RequestId></Error>`))
	}))
	defer ts.Close()
	t.Setenv("AWS_ENDPOINT_URL", ts.URL)
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", "/dev/null")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
	client, err := blob.NewS3Client(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st := blob.NewS3(client, "b")
	_, err = st.Put(context.Background(), "runs/r/manifest.json", strings.NewReader("{}"), blob.PutOptions{IfNoneMatch: true})
	if !errors.Is(err, blob.ErrPreconditionFailed) {
		t.Errorf("409 on a conditional put: %v, want ErrPreconditionFailed", err)
	}
	var be *blob.Error
	if !errors.As(err, &be) || be.Op != "put" || be.Key != "s3://b/runs/r/manifest.json" {
		t.Errorf("error %v does not name the operation and key", err)
	}
}
