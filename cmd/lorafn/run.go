package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/objects"
	"github.com/lorafn/lorafn/functions/runs"
	"github.com/lorafn/lorafn/functions/workflow"
	"github.com/lorafn/lorafn/local/runner"
	"github.com/lorafn/lorafn/local/s3"
	"github.com/lorafn/lorafn/statemachine"
)

// runSource is what lorafn run uploads: a base model folder, a dataset and
// optionally a run configuration and a general text set, in one file tree.
type runSource struct {
	fsys    fs.FS
	base    string // folder of the base model
	data    string // dataset file
	config  string // lorafn.json; "" for the defaults
	general string // general text for forgetting; "" for none
	label   string // how to describe the source to the user
}

func runRun(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("run", stdout)
	base := fs.String("base", "", "Hugging Face model folder to fine-tune (default: the built-in example)")
	dataPath := fs.String("data", "", "dataset file: JSONL (text, prompt/completion, messages, alpaca, text/label, input_ids) or CSV")
	config := fs.String("config", "", "run configuration (lorafn.json, see docs/run-config.schema.json)")
	general := fs.String("general", "", "general text (JSONL of {\"text\"}) on which forgetting is measured")
	endpoint := fs.String("endpoint", "", "use this S3-compatible endpoint (LocalStack, lorafn local) instead of an embedded server")
	bucket := fs.String("bucket", "lorafn", "bucket to use")
	stateDir := fs.String("state-dir", "", "keep the embedded server's objects in this folder (default: memory)")
	chunkSeconds := fs.Float64("chunk-seconds", 900, "simulated Lambda timeout of a training chunk, in seconds")
	out := fs.String("out", "lorafn-out", "folder that receives the adapter and the report")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	src, err := chooseSource(*base, *dataPath, *config, *general)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	url := *endpoint
	if url == "" {
		srv, err := s3.New(s3.Options{Dir: *stateDir})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		hs := &http.Server{Handler: srv}
		go hs.Serve(ln)
		defer hs.Close()
		url = "http://" + ln.Addr().String()
	}
	store, err := runner.S3Store(ctx, url, *bucket)
	if err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintf(stdout, "lorafn run: %s\n  S3 endpoint %s, bucket %s\n", src.label, url, *bucket)
	key, err := upload(ctx, store, src)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  uploaded s3://%s/%s\n", *bucket, key)

	cache, err := os.MkdirTemp("", "lorafn-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(cache)
	var runID string
	r, err := runner.New(store, runner.Options{
		Options:      workflow.Options{Bucket: *bucket, CacheDir: cache},
		ChunkTimeout: time.Duration(*chunkSeconds * float64(time.Second)),
		OnStep: func(inv runner.Invocation) {
			if id := progressLine(stdout, inv); id != "" {
				runID = id
			}
		},
	})
	if err != nil {
		return err
	}
	input, _ := json.Marshal(map[string]string{"bucket": *bucket, "key": key, "source": "s3"})
	name := fmt.Sprintf("lorafn-run-%d", time.Now().UnixNano())
	_, d, err := r.Machine.Run(ctx, name, input)
	if err != nil {
		return err
	}
	// Continue-as-new hands the run to further executions: follow them.
	for waited := 0; ; {
		es := r.Machine.Executions()
		for _, e := range es {
			if ed, err := e.Wait(ctx); err != nil {
				return err
			} else if ed.Status != statemachine.StatusSucceeded {
				d = ed
			}
		}
		if len(es) == waited {
			break
		}
		waited = len(es)
	}
	if d.Status != statemachine.StatusSucceeded {
		return fmt.Errorf("the workflow %s: %s: %s", strings.ToLower(string(d.Status)), d.Error, failureText(d.Cause))
	}
	if runID == "" {
		return errors.New("the workflow succeeded without a run")
	}
	return fetchResults(ctx, store, runID, *out, stdout, time.Since(start))
}

// chooseSource picks the files to upload: the flags, or the built-in
// example.
func chooseSource(base, dataPath, config, general string) (runSource, error) {
	if base == "" && dataPath == "" {
		if config != "" || general != "" {
			return runSource{}, usageError{"--config and --general need --base and --data"}
		}
		return builtinExample()
	}
	if base == "" || dataPath == "" {
		return runSource{}, usageError{"give both --base and --data, or neither for the built-in example"}
	}
	// One file tree rooted at "/" so that every path given is reachable.
	abs := func(p string) string {
		if p == "" {
			return ""
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return p
		}
		return strings.TrimPrefix(filepath.ToSlash(a), "/")
	}
	return runSource{
		fsys: os.DirFS("/"), base: abs(base), data: abs(dataPath), config: abs(config), general: abs(general),
		label: fmt.Sprintf("%s on %s", base, dataPath),
	}, nil
}

// upload puts the base model under models/, the dataset and its
// lorafn.json under datasets/<task>/, and returns the dataset key.
func upload(ctx context.Context, st blob.Store, src runSource) (string, error) {
	baseName := path.Base(src.base)
	task := strings.TrimSuffix(path.Base(src.data), path.Ext(src.data))
	modelPrefix := runs.ModelsPrefix + baseName + "/"
	entries, err := fs.ReadDir(src.fsys, src.base)
	if err != nil {
		return "", fmt.Errorf("base model: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if err := putFile(ctx, st, src.fsys, path.Join(src.base, e.Name()), modelPrefix+e.Name()); err != nil {
			return "", err
		}
	}
	cfg := map[string]any{}
	if src.config != "" {
		b, err := fs.ReadFile(src.fsys, src.config)
		if err != nil {
			return "", err
		}
		if err := json.Unmarshal(b, &cfg); err != nil {
			return "", fmt.Errorf("%s: %w", src.config, err)
		}
	}
	cfg["base_model"] = modelPrefix
	if name, ok := cfg["name"].(string); ok && name != "" {
		task = name // the task's folder is named as the task
	} else {
		cfg["name"] = task
	}
	if src.general != "" {
		key := runs.DatasetsPrefix + "general/" + path.Base(src.general)
		if err := putFile(ctx, st, src.fsys, src.general, key); err != nil {
			return "", err
		}
		cfg["general_eval"] = key
	}
	prefix := runs.DatasetsPrefix + task + "/"
	cfgJSON, _ := json.MarshalIndent(cfg, "", "  ")
	if _, err := st.Put(ctx, prefix+runs.ConfigName, bytes.NewReader(cfgJSON), blob.PutOptions{}); err != nil {
		return "", err
	}
	key := prefix + path.Base(src.data)
	return key, putFile(ctx, st, src.fsys, src.data, key)
}

func putFile(ctx context.Context, st blob.Store, fsys fs.FS, name, key string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = st.Put(ctx, key, f, blob.PutOptions{})
	return err
}

// progressLine prints one step's outcome and returns the run id once
// validate reports it.
func progressLine(w io.Writer, inv runner.Invocation) string {
	if inv.Err != nil {
		msg, _ := runs.SplitReasons(inv.Err.Error())
		fmt.Fprintf(w, "  %-9s failed: %s\n", inv.Step, msg)
		return ""
	}
	var res map[string]any
	json.Unmarshal(inv.Result, &res)
	num := func(k string) float64 { f, _ := res[k].(float64); return f }
	switch inv.Step {
	case workflow.Validate:
		id, _ := res["runId"].(string)
		switch {
		case res["duplicate"] == true:
			fmt.Fprintf(w, "  validate  run %s already handled\n", id)
		default:
			fmt.Fprintf(w, "  validate  run %s\n", id)
		}
		return id
	case workflow.Prep:
		fmt.Fprintf(w, "  prep      %.0f training / %.0f validation examples, %.0f steps on %s (%s)\n",
			num("trainExamples"), num("valExamples"), num("totalSteps"), res["backend"], res["reason"])
		if n := num("rejected"); n > 0 {
			fmt.Fprintf(w, "            %.0f records rejected (within the error budget):\n", n)
			list, _ := res["rejections"].([]any)
			for _, r := range list {
				fmt.Fprintf(w, "              %v\n", r)
			}
		}
	case workflow.Train:
		fmt.Fprintf(w, "  train     chunk: step %.0f/%.0f, loss %.4f (%s)\n", num("step"), num("totalSteps"), num("loss"), inv.Duration.Round(time.Millisecond))
	case workflow.Evaluate:
		verdict := "passes the gate"
		if res["pass"] != true {
			verdict = "fails the gate"
		}
		fmt.Fprintf(w, "  evaluate  validation loss %.4f (base %.4f): %s\n", num("valLoss"), num("baseValLoss"), verdict)
	case workflow.Promote:
		fmt.Fprintf(w, "  promote   %s\n", res["reason"])
	default:
		fmt.Fprintf(w, "  %s\n", inv.Step)
	}
	return ""
}

// failureText turns a Lambda error cause into its message.
func failureText(cause string) string {
	var e struct {
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &e) == nil && e.Message != "" {
		return e.Message
	}
	return cause
}

// fetchResults copies the run's result and report to out and prints the
// headline numbers.
func fetchResults(ctx context.Context, st blob.Store, runID, out string, w io.Writer, took time.Duration) error {
	r := runs.Run(runID)
	var m runs.Manifest
	if _, err := objects.GetJSON(ctx, st, r.Manifest(), &m); err != nil {
		return err
	}
	var status runs.Status
	objects.GetJSON(ctx, st, r.Status(), &status)
	dir := filepath.Join(out, runID)
	if _, err := objects.Download(ctx, st, r.Result(), filepath.Join(dir, "adapter")); err != nil {
		return err
	}
	if _, err := objects.Download(ctx, st, r.Report(), filepath.Join(dir, "report")); err != nil {
		return err
	}
	fmt.Fprintf(w, "done in %s: %d steps in %d chunks\n", took.Round(100*time.Millisecond), status.Step, status.Chunks)
	if m.Adapter != "" {
		fmt.Fprintf(w, "  promoted to %s\n", m.Adapter)
	} else {
		fmt.Fprintln(w, "  not promoted (see the report)")
	}
	fmt.Fprintf(w, "  adapter: %s\n  report:  %s\n", filepath.Join(dir, "adapter"), filepath.Join(dir, "report", "report.md"))
	return nil
}
