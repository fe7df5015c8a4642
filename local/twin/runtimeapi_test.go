package twin

import (
	"archive/zip"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets this test binary stand in for a function's bootstrap: with
// TWIN_FAKE_BOOTSTRAP set it speaks the Runtime API by hand (or misbehaves)
// instead of running the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("TWIN_FAKE_BOOTSTRAP"); mode != "" {
		os.Exit(fakeBootstrap(mode))
	}
	os.Exit(m.Run())
}

func fakeBootstrap(mode string) int {
	api := "http://" + os.Getenv("AWS_LAMBDA_RUNTIME_API") + "/2018-06-01/runtime/"
	switch mode {
	case "exit":
		fmt.Fprintln(os.Stderr, "bootstrap: cannot start")
		return 3
	case "hang":
		time.Sleep(time.Hour)
		return 0
	}
	resp, err := http.Get(api + "invocation/next")
	if err != nil {
		return 1
	}
	event, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	id := resp.Header.Get("Lambda-Runtime-Aws-Request-Id")
	deadline := resp.Header.Get("Lambda-Runtime-Deadline-Ms")
	switch mode {
	case "echo":
		body := fmt.Sprintf(`{"event": %s, "function": %q, "handler": %q, "hasDeadline": %t, "bucket": %q}`,
			event, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), os.Getenv("_HANDLER"), deadline != "", os.Getenv("LORAFN_BUCKET"))
		http.Post(api+"invocation/"+id+"/response", "application/json", strings.NewReader(body))
	case "fail":
		http.Post(api+"invocation/"+id+"/error", "application/json", strings.NewReader(`{"errorType": "lorafn.DataError", "errorMessage": "train.jsonl:3: bad"}`))
	}
	time.Sleep(time.Hour) // as a real runtime, wait for the next event
	return 0
}

// selfFunction creates a function whose bootstrap is this test binary.
func selfFunction(t *testing.T, endpoint, name, mode string, timeout int) {
	t.Helper()
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Store}
	h.SetMode(0o755)
	w, _ := zw.CreateHeader(h)
	w.Write(exe)
	zw.Close()
	code, out := restCall(t, http.MethodPost, endpoint+"/2015-03-31/functions", map[string]any{
		"FunctionName": name, "Runtime": "provided.al2023", "Handler": "validate", "Role": "r", "Timeout": timeout,
		"Environment": map[string]any{"Variables": map[string]string{"TWIN_FAKE_BOOTSTRAP": mode, "LORAFN_BUCKET": "b"}},
		"Code":        map[string]string{"ZipFile": base64.StdEncoding.EncodeToString(buf.Bytes())},
	})
	if code != http.StatusCreated {
		t.Fatalf("CreateFunction: %d %v", code, out)
	}
}

func TestRuntimeAPI(t *testing.T) {
	_, endpoint := startTwin(t, Options{Lambda: LambdaProcess})
	invoke := func(name string) (map[string]any, string) {
		code, out := restCall(t, http.MethodPost, endpoint+"/2015-03-31/functions/"+name+"/invocations", map[string]any{"n": 7})
		if code != http.StatusOK {
			t.Fatalf("invoke %s: %d %v", name, code, out)
		}
		return out, out["_header"].(http.Header).Get("X-Amz-Function-Error")
	}
	selfFunction(t, endpoint, "echo", "echo", 30)
	out, fnErr := invoke("echo")
	event, _ := out["event"].(map[string]any)
	if fnErr != "" || event["n"] != 7.0 || out["function"] != "echo" || out["handler"] != "validate" || out["hasDeadline"] != true || out["bucket"] != "b" {
		t.Fatalf("echo: %q %v", fnErr, out)
	}
	selfFunction(t, endpoint, "fail", "fail", 30)
	if out, fnErr := invoke("fail"); fnErr != "Unhandled" || out["errorType"] != "lorafn.DataError" || out["errorMessage"] != "train.jsonl:3: bad" {
		t.Fatalf("fail: %q %v", fnErr, out)
	}
	selfFunction(t, endpoint, "exit", "exit", 30)
	if out, fnErr := invoke("exit"); fnErr != "Unhandled" || out["errorType"] != "Runtime.ExitError" || !strings.Contains(out["errorMessage"].(string), "cannot start") {
		t.Fatalf("exit: %q %v", fnErr, out)
	}
	selfFunction(t, endpoint, "hang", "hang", 1)
	start := time.Now()
	if out, fnErr := invoke("hang"); fnErr != "Unhandled" || out["errorType"] != "Sandbox.Timedout" {
		t.Fatalf("hang: %q %v", fnErr, out)
	}
	if took := time.Since(start); took < time.Second || took > 10*time.Second {
		t.Fatalf("a 1 s timeout ended after %s", took)
	}
}
