package statemachine

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// aslValidator finds the asl-validator pinned in testdata/package-lock.json
// (installed by `npm ci --prefix statemachine/testdata`, which .ci/run
// does). Without it the test fails in CI and skips elsewhere.
func aslValidator(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs(filepath.Join("testdata", "node_modules", ".bin", "asl-validator"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(bin); err != nil {
		msg := "asl-validator is not installed; run: npm ci --prefix statemachine/testdata"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("node is not installed")
		}
		t.Skip("node is not installed")
	}
	return bin
}

func runValidator(t *testing.T, bin, file string) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--json-path", file).CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running asl-validator: %v", err)
		}
	}
	return err == nil, string(out)
}

// tune.asl.json passes the independent validator; a broken copy fails it
// and Parse alike, so the check is known to bite.
func TestTuneDefinitionPassesASLValidator(t *testing.T) {
	bin := aslValidator(t)
	if ok, out := runValidator(t, bin, "tune.asl.json"); !ok {
		t.Fatalf("asl-validator rejects tune.asl.json:\n%s", out)
	}
	def, err := os.ReadFile("tune.asl.json")
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.Replace(string(def), `"Next": "HandedOver"`, `"Next": "HandedOverTypo"`, 1)
	if broken == string(def) {
		t.Fatal("tune.asl.json no longer has the transition this test breaks")
	}
	file := filepath.Join(t.TempDir(), "broken.asl.json")
	if err := os.WriteFile(file, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if ok, out := runValidator(t, bin, file); ok || !strings.Contains(out, "MISSING_TRANSITION_TARGET") {
		t.Errorf("asl-validator accepted a dangling Next:\n%s", out)
	}
	if _, err := Parse([]byte(broken), tuneSubstitutions); err == nil || !strings.Contains(err.Error(), "HandedOverTypo") {
		t.Errorf("Parse accepted a dangling Next: %v", err)
	}
}
