package twin

import (
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/runs"
	"github.com/lorafn/lorafn/functions/workflow"
	"github.com/lorafn/lorafn/local/runner"
)

// functionConfig is Lambda's FunctionConfiguration, as much as lorafn uses.
type functionConfig struct {
	FunctionName  string       `json:"FunctionName"`
	FunctionArn   string       `json:"FunctionArn"`
	Runtime       string       `json:"Runtime"`
	Role          string       `json:"Role"`
	Handler       string       `json:"Handler"`
	CodeSize      int64        `json:"CodeSize"`
	Timeout       int          `json:"Timeout"`
	MemorySize    int          `json:"MemorySize"`
	Architectures []string     `json:"Architectures"`
	Environment   *environment `json:"Environment,omitempty"`
	LastModified  string       `json:"LastModified"`
	Version       string       `json:"Version"`
	State         string       `json:"State"`
	PackageType   string       `json:"PackageType"`
}

type environment struct {
	Variables map[string]string `json:"Variables"`
}

// function is a created Lambda function; its zip is kept in memory or, with
// a data directory, beside the state file.
type function struct {
	Config functionConfig `json:"config"`
	Zip    []byte         `json:"zip,omitempty"` // memory-only twins
	ZipAt  string         `json:"zipAt,omitempty"`

	mu       sync.Mutex
	dir      string // unpacked code
	handlers *workflow.Handlers
}

func (t *Twin) serveLambda(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/2015-03-31/functions")
	rest = strings.Trim(rest, "/")
	name, sub, _ := strings.Cut(rest, "/")
	if n, err := url.PathUnescape(name); err == nil {
		name = n
	}
	var out any
	var err error
	status := http.StatusOK
	switch {
	case name == "" && r.Method == http.MethodPost:
		out, err = t.createFunction(r)
		status = http.StatusCreated
	case name == "" && r.Method == http.MethodGet:
		out, err = t.listFunctions()
	case sub == "" && r.Method == http.MethodGet:
		out, err = t.getFunction(name)
	case sub == "configuration" && r.Method == http.MethodGet:
		var f *function
		if f, err = t.function(name); err == nil {
			out = f.Config
		}
	case sub == "" && r.Method == http.MethodDelete:
		err = t.deleteFunction(name)
		status = http.StatusNoContent
	case sub == "invocations" && r.Method == http.MethodPost:
		t.invokeAPI(w, r, name)
		return
	default:
		err = notFound("UnknownOperationException", "Lambda operation %s %s is not supported by lorafn local", r.Method, r.URL.Path)
	}
	if err != nil {
		writeError(w, restJSON, err)
		return
	}
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	writeJSON(w, restJSON, status, out)
}

func (t *Twin) createFunction(r *http.Request) (any, error) {
	var in struct {
		FunctionName  string       `json:"FunctionName"`
		Runtime       string       `json:"Runtime"`
		Role          string       `json:"Role"`
		Handler       string       `json:"Handler"`
		Timeout       int          `json:"Timeout"`
		MemorySize    int          `json:"MemorySize"`
		Architectures []string     `json:"Architectures"`
		Environment   *environment `json:"Environment"`
		Code          struct {
			ZipFile []byte `json:"ZipFile"`
		} `json:"Code"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	switch {
	case in.FunctionName == "" || strings.ContainsAny(in.FunctionName, "/: "):
		return nil, badRequest("InvalidParameterValueException", "FunctionName %q is not a valid function name", in.FunctionName)
	case len(in.Code.ZipFile) == 0:
		return nil, badRequest("InvalidParameterValueException", "function %s: Code.ZipFile is required (S3 code locations are not supported)", in.FunctionName)
	case !strings.HasPrefix(in.Runtime, "provided"):
		return nil, badRequest("InvalidParameterValueException", "function %s: runtime %q: lorafn local runs provided.al2023 and provided.al2 functions", in.FunctionName, in.Runtime)
	}
	zr, err := zip.NewReader(bytes.NewReader(in.Code.ZipFile), int64(len(in.Code.ZipFile)))
	if err != nil {
		return nil, badRequest("InvalidParameterValueException", "function %s: Code.ZipFile is not a zip: %v", in.FunctionName, err)
	}
	if _, err := zr.Open("bootstrap"); err != nil {
		return nil, badRequest("InvalidParameterValueException", "function %s: the zip has no bootstrap file at its root", in.FunctionName)
	}
	if in.Timeout == 0 {
		in.Timeout = 3
	}
	if in.MemorySize == 0 {
		in.MemorySize = 128
	}
	if len(in.Architectures) == 0 {
		in.Architectures = []string{"x86_64"}
	}
	if in.Timeout < 1 || in.Timeout > 900 {
		return nil, badRequest("InvalidParameterValueException", "function %s: Timeout %d is outside 1-900 seconds", in.FunctionName, in.Timeout)
	}
	f := &function{Config: functionConfig{
		FunctionName: in.FunctionName, FunctionArn: t.arn("lambda", "function:"+in.FunctionName),
		Runtime: in.Runtime, Role: in.Role, Handler: in.Handler, CodeSize: int64(len(in.Code.ZipFile)),
		Timeout: in.Timeout, MemorySize: in.MemorySize, Architectures: in.Architectures, Environment: in.Environment,
		LastModified: time.Now().UTC().Format("2006-01-02T15:04:05.000+0000"), Version: "$LATEST", State: "Active", PackageType: "Zip",
	}}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.functions[in.FunctionName]; ok {
		return nil, errf(http.StatusConflict, "ResourceConflictException", "Function already exist: %s", in.FunctionName)
	}
	if t.opts.Dir != "" {
		f.ZipAt = filepath.Join(t.opts.Dir, "lambda", in.FunctionName+".zip")
		if err := writeAtomic(f.ZipAt, in.Code.ZipFile); err != nil {
			return nil, err
		}
	} else {
		f.Zip = in.Code.ZipFile
	}
	t.functions[in.FunctionName] = f
	if err := t.save(); err != nil {
		return nil, err
	}
	t.logf("function %s created (handler %s)", f.Config.FunctionArn, f.Config.Handler)
	return f.Config, nil
}

// function finds a function by name, ARN or partial ARN (a qualifier is
// ignored: there is only $LATEST).
func (t *Twin) function(ref string) (*function, error) {
	name := ref
	if i := strings.Index(name, ":function:"); i >= 0 {
		name = name[i+len(":function:"):]
	}
	name, _, _ = strings.Cut(name, ":")
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.functions[name]
	if !ok {
		return nil, notFound("ResourceNotFoundException", "Function not found: %s", t.arn("lambda", "function:"+name))
	}
	return f, nil
}

func (t *Twin) getFunction(name string) (any, error) {
	f, err := t.function(name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Configuration": f.Config, "Code": map[string]string{"RepositoryType": "S3", "Location": t.url() + "/_local/lambda/" + name + ".zip"}}, nil
}

func (t *Twin) listFunctions() (any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := []functionConfig{}
	for _, f := range t.functions {
		list = append(list, f.Config)
	}
	return map[string]any{"Functions": list}, nil
}

func (t *Twin) deleteFunction(name string) error {
	f, err := t.function(name)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.functions, f.Config.FunctionName)
	if f.ZipAt != "" {
		os.Remove(f.ZipAt)
	}
	return t.save()
}

// invokeAPI is Invoke: the response body is the function's result; a
// function error is flagged with X-Amz-Function-Error, as Lambda does.
func (t *Twin) invokeAPI(w http.ResponseWriter, r *http.Request, name string) {
	payload, err := io.ReadAll(io.LimitReader(r.Body, 6<<20+1))
	if err != nil {
		writeError(w, restJSON, badRequest("InvalidRequestContentException", "reading the payload: %v", err))
		return
	}
	if len(payload) > 6<<20 {
		writeError(w, restJSON, errf(http.StatusRequestEntityTooLarge, "RequestTooLargeException", "payload over 6 MB"))
		return
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = []byte("{}")
	}
	switch r.Header.Get("X-Amz-Invocation-Type") {
	case "DryRun":
		if _, err := t.function(name); err != nil {
			writeError(w, restJSON, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
		return
	case "Event":
		if _, err := t.function(name); err != nil {
			writeError(w, restJSON, err)
			return
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			t.invoke(t.ctx, name, payload)
		}()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	out, fnErr, err := t.invoke(r.Context(), name, payload)
	if err != nil {
		writeError(w, restJSON, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amz-Executed-Version", "$LATEST")
	if fnErr {
		w.Header().Set("X-Amz-Function-Error", "Unhandled")
	}
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

// invoke runs a function on payload under its timeout. fnErr reports a
// function error, whose {"errorType", "errorMessage"} is then out; err is a
// failure to run the function at all.
func (t *Twin) invoke(ctx context.Context, name string, payload []byte) (out []byte, fnErr bool, err error) {
	f, err := t.function(name)
	if err != nil {
		return nil, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(f.Config.Timeout)*time.Second)
	defer cancel()
	if t.opts.Lambda == LambdaInProcess {
		out, err := t.invokeInProcess(ctx, f, payload)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return timedOut(f), true, nil
		}
		if err != nil {
			body, _ := json.Marshal(map[string]string{"errorType": runs.ErrorName(err), "errorMessage": err.Error()})
			return body, true, nil
		}
		return out, false, nil
	}
	return t.invokeProcess(ctx, f, payload)
}

// timedOut is the error Lambda reports for an invocation that reached
// the function's timeout.
func timedOut(f *function) []byte {
	body, _ := json.Marshal(map[string]string{
		"errorType":    "Sandbox.Timedout",
		"errorMessage": fmt.Sprintf("Task timed out after %d.00 seconds", f.Config.Timeout),
	})
	return body
}

// invokeInProcess runs the function's step in this process over the twin's
// own S3 endpoint, as the bootstrap would.
func (t *Twin) invokeInProcess(ctx context.Context, f *function, payload []byte) ([]byte, error) {
	step, err := workflow.StepOf(f.Config.Handler)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	if f.handlers == nil {
		bucket := f.env()["LORAFN_BUCKET"]
		if bucket == "" {
			f.mu.Unlock()
			return nil, fmt.Errorf("function %s: LORAFN_BUCKET is not set", f.Config.FunctionName)
		}
		store, err := runner.S3Store(ctx, t.url(), bucket)
		if err != nil {
			f.mu.Unlock()
			return nil, err
		}
		cache := filepath.Join(os.TempDir(), "lorafn-local-"+f.Config.FunctionName)
		f.handlers = workflow.New(blob.Store(store), workflow.Options{Bucket: bucket, CacheDir: cache})
	}
	h := f.handlers
	f.mu.Unlock()
	return h.Invoke(ctx, step, payload)
}

func (f *function) env() map[string]string {
	if f.Config.Environment == nil || f.Config.Environment.Variables == nil {
		return map[string]string{}
	}
	return f.Config.Environment.Variables
}

// code returns the folder holding the function's unpacked zip.
func (f *function) code() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dir != "" {
		return f.dir, nil
	}
	data := f.Zip
	if f.ZipAt != "" {
		var err error
		if data, err = os.ReadFile(f.ZipAt); err != nil {
			return "", err
		}
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("function %s: %w", f.Config.FunctionName, err)
	}
	dir, err := os.MkdirTemp("", "lorafn-lambda-"+f.Config.FunctionName+"-")
	if err != nil {
		return "", err
	}
	for _, zf := range zr.File {
		if zf.FileInfo().IsDir() {
			continue
		}
		clean := filepath.Clean(zf.Name)
		if filepath.IsAbs(clean) || strings.HasPrefix(clean, "..") {
			return "", fmt.Errorf("function %s: zip entry %q leaves the code folder", f.Config.FunctionName, zf.Name)
		}
		dst := filepath.Join(dir, clean)
		os.MkdirAll(filepath.Dir(dst), 0o755)
		rc, err := zf.Open()
		if err != nil {
			return "", err
		}
		mode := zf.Mode().Perm()
		if filepath.Base(clean) == "bootstrap" {
			mode |= 0o755
		}
		w, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode|0o400)
		if err == nil {
			_, err = io.Copy(w, rc)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
		rc.Close()
		if err != nil {
			return "", err
		}
	}
	f.dir = dir
	return dir, nil
}

// checkArch refuses a bootstrap built for another machine up front, with a
// clear message instead of "exec format error".
func checkArch(f *function, bootstrap string) error {
	ef, err := elf.Open(bootstrap)
	if err != nil {
		return fmt.Errorf("function %s: bootstrap is not a Linux executable: %w", f.Config.FunctionName, err)
	}
	defer ef.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if ef.Machine != want || runtime.GOOS != "linux" {
		return fmt.Errorf("function %s: bootstrap is built for %s, this machine runs %s/%s: deploy the zip built for this machine (dist/lambda-%s) or run lorafn local --lambda inprocess",
			f.Config.FunctionName, ef.Machine, runtime.GOOS, runtime.GOARCH, runtime.GOARCH)
	}
	return nil
}
