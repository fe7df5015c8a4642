package infra

import (
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/local/s3"
)

// TestPackageUploadsCodeAndDefinition runs the first half of `make deploy`
// (aws cloudformation package) against lorafn's S3 server: the bootstrap zip
// and the workflow definition are uploaded and the template points at them.
func TestPackageUploadsCodeAndDefinition(t *testing.T) {
	if _, err := exec.LookPath("aws"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the aws CLI is not installed (needed under CI)")
		}
		t.Skip("the aws CLI is not installed")
	}
	srv, err := s3.New(s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	// The template's relative paths, in a scratch tree.
	root := t.TempDir()
	asl, err := os.ReadFile("../statemachine/tune.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string][]byte{
		"infra/template.yaml":             readTemplate(t),
		"statemachine/tune.asl.json":      asl,
		"dist/lambda-arm64/bootstrap.zip": []byte("PK\x05\x06" + strings.Repeat("\x00", 18)), // an empty zip
	} {
		p := filepath.Join(root, filepath.FromSlash(path))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	aws := func(args ...string) string {
		cmd := exec.CommandContext(t.Context(), "aws", args...)
		cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+ts.URL, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	aws("s3", "mb", "s3://artifacts")
	out := filepath.Join(root, "packaged.yaml")
	aws("cloudformation", "package", "--template-file", filepath.Join(root, "infra", "template.yaml"), "--s3-bucket", "artifacts", "--output-template-file", out)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	doc := loadTemplate(t, data)
	for _, fn := range []string{"ValidateFunction", "PrepFunction", "TrainFunction", "EvaluateFunction", "PromoteFunction", "MarkFailedFunction"} {
		code := node(doc, "Resources", fn, "Properties", "CodeUri")
		if code == nil || !strings.HasPrefix(code.Value, "s3://artifacts/") {
			t.Fatalf("packaged CodeUri of %s: %v", fn, code)
		}
	}
	def := node(doc, "Resources", "TuneStateMachine", "Properties", "DefinitionUri")
	if b := node(def, "Bucket"); b == nil || b.Value != "artifacts" || node(def, "Key") == nil {
		t.Fatalf("packaged DefinitionUri %v", def)
	}
	listing := aws("s3", "ls", "s3://artifacts/")
	if n := len(strings.Split(strings.TrimSpace(listing), "\n")); n != 2 {
		t.Fatalf("uploaded objects:\n%s", listing)
	}
}
