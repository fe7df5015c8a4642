package twin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// invokeProcess runs one invocation of a function the way Lambda does: it
// starts the zip's bootstrap with AWS_LAMBDA_RUNTIME_API pointing at a
// Runtime API server (/2018-06-01/runtime/...) that hands out this one
// event and takes back the response or the error. The process is stopped
// when the invocation ends or its deadline passes.
func (t *Twin) invokeProcess(ctx context.Context, f *function, payload []byte) ([]byte, bool, error) {
	dir, err := f.code()
	if err != nil {
		return nil, false, err
	}
	bootstrap := filepath.Join(dir, "bootstrap")
	if err := checkArch(f, bootstrap); err != nil {
		return nil, false, badRequest("InvalidRuntimeException", "%v", err)
	}
	deadline, _ := ctx.Deadline()
	rt := &runtimeAPI{
		id:       fmt.Sprintf("%d-%s", time.Now().UnixNano(), f.Config.FunctionName),
		event:    payload,
		deadline: deadline,
		arn:      f.Config.FunctionArn,
		result:   make(chan invocationResult, 1),
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, false, err
	}
	srv := &http.Server{Handler: rt}
	go srv.Serve(ln)
	defer srv.Close()

	tmp, err := os.MkdirTemp("", "lorafn-lambda-tmp-")
	if err != nil {
		return nil, false, err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command(bootstrap)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"TMPDIR=" + tmp,
		"HOME=" + tmp,
		"LAMBDA_TASK_ROOT=" + dir,
		"_HANDLER=" + f.Config.Handler,
		"AWS_LAMBDA_RUNTIME_API=" + ln.Addr().String(),
		"AWS_LAMBDA_FUNCTION_NAME=" + f.Config.FunctionName,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(f.Config.MemorySize),
		"AWS_REGION=" + t.opts.Region,
		"AWS_DEFAULT_REGION=" + t.opts.Region,
		"AWS_ENDPOINT_URL=" + t.url(),
		"AWS_ACCESS_KEY_ID=lorafn-local",
		"AWS_SECRET_ACCESS_KEY=lorafn-local",
	}
	for k, v := range f.env() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		return nil, false, fmt.Errorf("function %s: starting bootstrap: %w", f.Config.FunctionName, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	select {
	case res := <-rt.result:
		if res.isError {
			t.logf("function %s failed: %s", f.Config.FunctionName, res.body)
		}
		return res.body, res.isError, nil
	case err := <-exited:
		exited <- err // for the deferred wait
		body, _ := json.Marshal(map[string]string{
			"errorType":    "Runtime.ExitError",
			"errorMessage": fmt.Sprintf("RequestId: %s Error: Runtime exited: %v: %s", rt.id, err, lastLines(logs.String(), 5)),
		})
		return body, true, nil
	case <-ctx.Done():
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			t.logf("function %s timed out after %d seconds", f.Config.FunctionName, f.Config.Timeout)
			return timedOut(f), true, nil
		}
		return nil, false, ctx.Err()
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

type invocationResult struct {
	body    []byte
	isError bool
}

// runtimeAPI serves the Lambda Runtime API for one invocation: "next"
// returns the event once and then blocks, as it does between invocations.
type runtimeAPI struct {
	id       string
	event    []byte
	deadline time.Time
	arn      string
	result   chan invocationResult

	mu     sync.Mutex
	handed bool
}

const runtimePrefix = "/2018-06-01/runtime/"

func (rt *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, runtimePrefix)
	switch {
	case r.Method == http.MethodGet && path == "invocation/next":
		rt.mu.Lock()
		first := !rt.handed
		rt.handed = true
		rt.mu.Unlock()
		if !first {
			<-r.Context().Done() // the process is stopped after one invocation
			return
		}
		h := w.Header()
		h.Set("Lambda-Runtime-Aws-Request-Id", rt.id)
		h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(rt.deadline.UnixMilli(), 10))
		h.Set("Lambda-Runtime-Invoked-Function-Arn", rt.arn)
		h.Set("Lambda-Runtime-Trace-Id", "Root=1-00000000-000000000000000000000000;Sampled=0")
		h.Set("Content-Type", "application/json")
		w.Write(rt.event)
	case r.Method == http.MethodPost && path == "invocation/"+rt.id+"/response":
		body, _ := io.ReadAll(io.LimitReader(r.Body, 6<<20+1))
		if len(body) > 6<<20 {
			body, _ = json.Marshal(map[string]string{"errorType": "Function.ResponseSizeTooLarge", "errorMessage": "response over 6 MB"})
			rt.deliver(invocationResult{body, true})
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		rt.deliver(invocationResult{body, false})
		w.WriteHeader(http.StatusAccepted)
	case r.Method == http.MethodPost && (path == "invocation/"+rt.id+"/error" || path == "init/error"):
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		var e struct {
			Type    string `json:"errorType"`
			Message string `json:"errorMessage"`
		}
		if json.Unmarshal(body, &e) != nil || e.Type == "" {
			if e.Type = r.Header.Get("Lambda-Runtime-Function-Error-Type"); e.Type == "" {
				e.Type = "Runtime.Unknown"
			}
			if e.Message == "" {
				e.Message = string(body)
			}
		}
		if path == "init/error" {
			e.Message = "init: " + e.Message
		}
		out, _ := json.Marshal(map[string]string{"errorType": e.Type, "errorMessage": e.Message})
		rt.deliver(invocationResult{out, true})
		w.WriteHeader(http.StatusAccepted)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"errorType":"InvalidRequestID","errorMessage":"unknown runtime request %s %s"}`, r.Method, r.URL.Path)
	}
}

func (rt *runtimeAPI) deliver(res invocationResult) {
	select {
	case rt.result <- res:
	default: // a second answer to the same invocation is ignored
	}
}
