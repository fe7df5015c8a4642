package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
)

// startLocal runs `lorafn local` in process until the test ends and
// returns its URL.
func startLocal(t *testing.T, args ...string) (url string, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		var errOut strings.Builder
		c := run(ctx, append([]string{"local", "--addr", "127.0.0.1:0", "--quiet"}, args...), pw, &errOut)
		pw.CloseWithError(io.EOF)
		code <- c
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	_, url, ok := strings.Cut(strings.TrimSpace(line), " on ")
	url, _, _ = strings.Cut(url, " ")
	if err != nil || !ok {
		cancel()
		t.Fatalf("lorafn local printed %q (%v)", line, err)
	}
	stopped := false
	stop = func() int {
		if stopped {
			return 0
		}
		stopped = true
		cancel()
		return <-code
	}
	t.Cleanup(func() { stop() })
	return url, stop
}

func TestLocalServesAndKeepsItsState(t *testing.T) {
	dir := t.TempDir()
	url, stop := startLocal(t, "--data-dir", dir)
	resp, err := http.Get(url + "/_local/health")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("health: %v %v", resp, err)
	}
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodPut, url+"/kept", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("create bucket: %v %v", resp, err)
	}
	if code := stop(); code != exitOK {
		t.Fatalf("lorafn local exited %d", code)
	}
	url, _ = startLocal(t, "--data-dir", dir)
	req, _ = http.NewRequest(http.MethodHead, url+"/kept", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("bucket after restart: %v %v", resp, err)
	}
}

func TestLocalAndBatchTrainFlags(t *testing.T) {
	if _, errOut, code := lorafn(t, "local", "--lambda", "docker", "--addr", "127.0.0.1:0"); code != exitError || !strings.Contains(errOut, `"docker"`) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	t.Setenv("LORAFN_RUN_ID", "")
	if _, errOut, code := lorafn(t, "batch-train", "--bucket", "b"); code != exitUsage || !strings.Contains(errOut, "--run-id is required") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
