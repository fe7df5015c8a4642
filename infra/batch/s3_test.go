package batch

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lorafn/lorafn/core/peft/lora"
	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/objects"
	"github.com/lorafn/lorafn/functions/runs"
	"github.com/lorafn/lorafn/internal/torchref"
	locals3 "github.com/lorafn/lorafn/local/s3"
)

// pythonWithBoto3 returns the torch interpreter if it also has boto3; like
// torchref.Python, it skips locally and fails under CI.
func pythonWithBoto3(t *testing.T) string {
	t.Helper()
	py := torchref.Python(t)
	if out, err := exec.Command(py, "-c", "import boto3").CombinedOutput(); err != nil {
		msg := "boto3 unavailable (apt-get install python3-boto3): " + string(bytes.TrimSpace(out))
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// TestTrainerOverS3 runs the PyTorch trainer as the Batch job does, against
// an S3-protocol server on loopback: two jobs of four steps each, the
// second resuming from the first's LATEST (moved with If-None-Match, then
// If-Match), end with the adapter a single eight-step job writes, byte for
// byte.
func TestTrainerOverS3(t *testing.T) {
	t.Parallel()
	py := pythonWithBoto3(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv, err := locals3.New(locals3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	endpoint := "http://" + ln.Addr().String()
	client := s3.New(s3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("lorafn", "lorafn", ""),
	})
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("lorafn")}); err != nil {
		t.Fatal(err)
	}
	bucket := blob.NewS3(client, "lorafn")

	cfg := runConfig(8)
	local := newStore(t, tinyLlama, cfg)
	if _, err := objects.Upload(ctx, bucket, local, "", blob.PutOptions{IfNoneMatch: true}); err != nil {
		t.Fatal(err)
	}
	pyTrain(t, local, 0) // one job on the folder store: the reference

	job := func(steps string) string {
		cmd := exec.Command(py, "-m", "trainer", "--run-id", runID, "--store", "s3://lorafn", "--device", "cpu", "--max-steps", steps)
		cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "AWS_ENDPOINT_URL_S3="+endpoint,
			"AWS_ACCESS_KEY_ID=lorafn", "AWS_SECRET_ACCESS_KEY=lorafn", "AWS_REGION=us-east-1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("python -m trainer over S3: %v\n%s", err, out)
		}
		return string(out)
	}
	job("4")
	r := runs.Run(runID)
	if got := get(t, bucket, r.Latest()); string(got) != "step-4\n" {
		t.Fatalf("LATEST after the first job: %q", got)
	}
	if out := job("0"); !strings.Contains(out, "step 4 of 8") {
		t.Fatalf("the second job did not resume at step 4:\n%s", out)
	}
	for _, name := range []string{lora.WeightsFile, lora.ConfigFile} {
		want := readFile(t, filepath.Join(storePath(local, r.Result()), name))
		if got := get(t, bucket, r.Result()+name); !bytes.Equal(got, want) {
			t.Errorf("%s: two S3 jobs wrote other bytes than one job", name)
		}
	}
	if got := get(t, bucket, r.Latest()); string(got) != "step-8\n" {
		t.Errorf("LATEST at the end: %q", got)
	}
	// A job that lost the race must not move LATEST, nor rewrite a checkpoint.
	check := `
from trainer import store as s
st = s.open_store("s3://lorafn")
body, etag = st.get("runs/` + runID + `/checkpoints/LATEST")
for kw in ({"if_none_match": True}, {"if_match": '"0123"'}):
    try:
        st.put("runs/` + runID + `/checkpoints/LATEST", b"step-1\n", **kw)
        raise SystemExit("conditional put %s succeeded" % kw)
    except s.PreconditionFailed:
        pass
st.put("runs/` + runID + `/checkpoints/LATEST", body, if_match=etag)
try:
    s.put_once(st, "runs/` + runID + `/checkpoints/step-8/params.safetensors", b"other")
    raise SystemExit("put_once replaced a checkpoint file")
except RuntimeError:
    pass
`
	cmd := exec.Command(py, "-c", check)
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL_S3="+endpoint, "AWS_ACCESS_KEY_ID=lorafn", "AWS_SECRET_ACCESS_KEY=lorafn", "AWS_REGION=us-east-1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("conditional writes: %v\n%s", err, out)
	}
	for _, key := range []string{r.Checkpoint(4) + "trainer_state.json", r.Checkpoint(8) + "params.safetensors", r.Status(), r.LogPart(0), r.LogPart(4)} {
		get(t, bucket, key)
	}
}

func get(t *testing.T, s blob.Store, key string) []byte {
	t.Helper()
	b, _, err := blob.ReadAll(context.Background(), s, key)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return b
}
