package twin

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/safetensors"
	"github.com/lorafn/lorafn/core/tokenizer"
	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/objects"
	"github.com/lorafn/lorafn/functions/runs"
	"github.com/lorafn/lorafn/local/runner"
	"github.com/lorafn/lorafn/statemachine"
)

const machineARN = "arn:aws:states:us-east-1:000000000000:stateMachine:lorafn-tune"

// needTool finds an outside program; without it the test fails under CI
// and is skipped elsewhere.
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not installed (needed under CI)", name)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

// repoRoot is the module root, where localstack/ and statemachine/ are.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// bootstrapZip builds the real Lambda bootstrap for this machine and zips
// it as `make lambda` does.
func bootstrapZip(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-tags", "lambda.norpc", "-o", filepath.Join(dir, "bootstrap"), "./functions/lambda")
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the bootstrap: %v\n%s", err, out)
	}
	exe, err := os.ReadFile(filepath.Join(dir, "bootstrap"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "bootstrap", Method: zip.Deflate}
	h.SetMode(0o755)
	w, _ := zw.CreateHeader(h)
	w.Write(exe)
	zw.Close()
	path := filepath.Join(dir, "bootstrap.zip")
	os.WriteFile(path, buf.Bytes(), 0o644)
	return path
}

// startTwin serves a twin on a loopback port.
func startTwin(t *testing.T, opts Options) (*Twin, string) {
	t.Helper()
	opts.Logf = t.Logf
	tw, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(tw)
	tw.Start(ts.URL)
	t.Cleanup(func() {
		ts.Close()
		tw.Close()
	})
	return tw, ts.URL
}

// cli runs the aws CLI against the twin.
func cli(t *testing.T, endpoint string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "aws", args...)
	cmd.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+endpoint, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
		"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// taskRecords is a learnable classification task.
func taskRecords(n int) []string {
	words := []string{"river", "stone", "cloud", "field", "light", "storm"}
	var out []string
	for i := 0; i < n; i++ {
		key, label := "alpha", "yes"
		if i%2 == 1 {
			key, label = "beta", "no"
		}
		out = append(out, fmt.Sprintf(`{"text": "%s %s %s %d", "label": %q}`, words[i%len(words)], key, words[(i/2)%len(words)], i, label))
	}
	return out
}

// putModel uploads a tiny random Llama model with a tokenizer trained on
// the task under models/tiny/.
func putModel(t *testing.T, st blob.Store) {
	t.Helper()
	tr, err := tokenizer.NewBPETrainer(tokenizer.TrainOptions{VocabSize: 300, SpecialTokens: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range taskRecords(64) {
		tr.Add(r)
	}
	tokJSON, err := tr.Train(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.Parse(tokJSON)
	if err != nil {
		t.Fatal(err)
	}
	mc := fmt.Sprintf(`{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": %d,
		"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
		"num_key_value_heads": 2, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
		"rope_theta": 10000.0, "tie_word_embeddings": true, "hidden_act": "silu", "eos_token_id": 0}`, tok.VocabSize())
	c, err := model.ParseConfig("config.json", []byte(mc))
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(c, nil)
	m.InitRandom(1, 0.1)
	var tensors []safetensors.Tensor
	for _, p := range m.Params() {
		tensors = append(tensors, safetensors.F32Tensor(p.Name, p.Shape, p.Data))
	}
	var weights bytes.Buffer
	if err := safetensors.Write(&weights, tensors, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	for key, data := range map[string][]byte{
		"models/tiny/config.json":           []byte(mc),
		"models/tiny/model.safetensors":     weights.Bytes(),
		"models/tiny/tokenizer.json":        tokJSON,
		"models/tiny/tokenizer_config.json": []byte(`{"eos_token": "<|endoftext|>"}`),
	} {
		if _, err := st.Put(t.Context(), key, bytes.NewReader(data), blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// runConfig trains 6 steps in chunks of 3; extra fields are added.
func runConfig(extra string) string {
	return `{"base_model": "models/tiny/", "name": "task",
		"method": {"method": "lora", "lora": {"r": 4, "lora_alpha": 8, "target_modules": "all-linear"}},
		"training": {"learning_rate": 0.01, "max_steps": 6, "per_device_train_batch_size": 4, "max_seq_length": 32},
		"data": {"max_len": 32, "val_fraction": 0.25}, "gate": {"min_improvement": 0, "max_forgetting": 0},
		"chunk": {"max_steps": 3, "margin_seconds": 0}` + extra + `}`
}

// executions lists the ARNs of the tune machine's executions.
func (tw *Twin) executionARNs() map[string]bool {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	out := map[string]bool{}
	for arn := range tw.records {
		out[arn] = true
	}
	return out
}

// newExecution waits for an execution not in before to appear.
func newExecution(t *testing.T, tw *Twin, before map[string]bool) string {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for arn := range tw.executionARNs() {
			if !before[arn] {
				return arn
			}
		}
	}
	t.Fatal("no execution started")
	return ""
}

// waitDone waits for an execution to end and returns its description as
// the aws CLI reports it.
func waitDone(t *testing.T, tw *Twin, endpoint, arn string) map[string]any {
	t.Helper()
	rec, err := tw.record(arn)
	if err != nil {
		t.Fatal(err)
	}
	if rec.live != nil {
		select {
		case <-rec.live.Done():
		case <-time.After(3 * time.Minute):
			t.Fatalf("execution %s still running", arn)
		}
	}
	var d map[string]any
	if err := json.Unmarshal([]byte(cli(t, endpoint, "stepfunctions", "describe-execution", "--execution-arn", arn)), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func wantStatus(t *testing.T, d map[string]any, status statemachine.Status) {
	t.Helper()
	if d["status"] != string(status) {
		t.Fatalf("execution %v: status %v, want %s (error %v: %v)", d["name"], d["status"], status, d["error"], d["cause"])
	}
}

// TestWorkflowThroughTheAWSInterfaces provisions the twin with
// localstack/provision.sh and drives every trigger with the aws CLI. Every
// function runs as the real bootstrap binary through the Runtime API.
func TestWorkflowThroughTheAWSInterfaces(t *testing.T) {
	needTool(t, "aws")
	zipPath := bootstrapZip(t)
	// Batch jobs run as `lorafn batch-train` processes, as under lorafn local.
	lorafnBin := filepath.Join(t.TempDir(), "lorafn")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", lorafnBin, "./cmd/lorafn")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building lorafn: %v\n%s", err, out)
	}
	tw, endpoint := startTwin(t, Options{Dir: t.TempDir(), Lambda: LambdaProcess, BatchCommand: []string{lorafnBin, "batch-train"}})

	st, err := runner.S3Store(t.Context(), endpoint, "lorafn")
	if err != nil {
		t.Fatal(err)
	}
	putModel(t, st)
	put := func(key, data string) {
		if _, err := st.Put(t.Context(), key, strings.NewReader(data), blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("datasets/task/lorafn.json", runConfig(""))
	put("datasets/batch/lorafn.json", runConfig(`, "compute": {"backend": "batch"}`))
	put("datasets/bad/lorafn.json", runConfig(""))
	dir := t.TempDir()
	good := filepath.Join(dir, "train.jsonl")
	os.WriteFile(good, []byte(strings.Join(taskRecords(32), "\n")+"\n"), 0o644)
	badRecords := taskRecords(32)
	badRecords[2], badRecords[6], badRecords[9] = `{"text": "broken`, `{"prompt": 7}`, `not json`
	bad := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(bad, []byte(strings.Join(badRecords, "\n")+"\n"), 0o644)
	// The schedule's dataset is in place before the rule exists, so only
	// the schedule starts its run.
	put("datasets/weekly/lorafn.json", runConfig(""))
	put("datasets/weekly/train.jsonl", strings.Join(taskRecords(24), "\n")+"\n")
	prov := exec.CommandContext(t.Context(), filepath.Join(repoRoot(t), "localstack", "provision.sh"))
	prov.Env = append(os.Environ(), "AWS_ENDPOINT_URL="+endpoint, "LAMBDA_ZIP="+zipPath, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "SCHEDULE_DATASET=datasets/weekly/train.jsonl")
	if out, err := prov.CombinedOutput(); err != nil {
		t.Fatalf("provision.sh: %v\n%s", err, out)
	}

	t.Run("upload starts a run that promotes an adapter", func(t *testing.T) {
		before := tw.executionARNs()
		cli(t, endpoint, "s3", "cp", good, "s3://lorafn/datasets/task/train.jsonl")
		d := waitDone(t, tw, endpoint, newExecution(t, tw, before))
		wantStatus(t, d, statemachine.StatusSucceeded)
		var cur map[string]any
		if _, err := objects.GetJSON(t.Context(), st, runs.Current("task"), &cur); err != nil {
			t.Fatalf("no promoted adapter: %v", err)
		}
		out := cli(t, endpoint, "s3", "ls", "--recursive", "s3://lorafn/adapters/task/")
		if !strings.Contains(out, "adapter_model.safetensors") || !strings.Contains(out, "adapter_config.json") {
			t.Fatalf("adapters/task/ holds:\n%s", out)
		}
		reachedGate(t, d)
	})

	t.Run("start-execution with the manual input", func(t *testing.T) {
		// The input the README gives, verbatim: another learning rate, so
		// another run of the uploaded dataset.
		input := readmeInput(t)
		var started map[string]string
		json.Unmarshal([]byte(cli(t, endpoint, "stepfunctions", "start-execution", "--state-machine-arn", machineARN, "--name", "manual-1", "--input", input)), &started)
		d := waitDone(t, tw, endpoint, started["executionArn"])
		wantStatus(t, d, statemachine.StatusSucceeded)
		reachedGate(t, d)
		// The history is the service's: it starts and ends the execution.
		var h struct{ Events []struct{ Type string } }
		json.Unmarshal([]byte(cli(t, endpoint, "stepfunctions", "get-execution-history", "--execution-arn", started["executionArn"])), &h)
		if len(h.Events) < 10 || h.Events[0].Type != "ExecutionStarted" || h.Events[len(h.Events)-1].Type != "ExecutionSucceeded" {
			t.Fatalf("history: %+v", h.Events)
		}
	})

	t.Run("the schedule fires a run", func(t *testing.T) {
		var s map[string]any
		json.Unmarshal([]byte(cli(t, endpoint, "scheduler", "get-schedule", "--name", "lorafn-retrain")), &s)
		if s["State"] != "DISABLED" || s["ScheduleExpression"] != "cron(0 3 ? * SUN *)" {
			t.Fatalf("schedule %v", s)
		}
		resp, err := http.Post(endpoint+"/_local/scheduler/fire?name=lorafn-retrain", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		var fired map[string]string
		json.NewDecoder(resp.Body).Decode(&fired)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("fire: %s %v", resp.Status, fired)
		}
		d := waitDone(t, tw, endpoint, fired["executionArn"])
		wantStatus(t, d, statemachine.StatusSucceeded)
		var in map[string]string
		json.Unmarshal([]byte(d["input"].(string)), &in)
		reachedGate(t, d)
		if in["source"] != "schedule" || in["dataset"] != "datasets/weekly/train.jsonl" || !strings.HasPrefix(in["scheduled_time"], time.Now().UTC().Format("2006-01-02T")) {
			t.Fatalf("input %v", d["input"])
		}
	})

	t.Run("a run routed to Batch", func(t *testing.T) {
		before := tw.executionARNs()
		cli(t, endpoint, "s3", "cp", good, "s3://lorafn/datasets/batch/train.jsonl")
		arn := newExecution(t, tw, before)
		d := waitDone(t, tw, endpoint, arn)
		wantStatus(t, d, statemachine.StatusSucceeded)
		var out struct {
			Batch struct{ JobID, Status string }
		}
		json.Unmarshal([]byte(d["output"].(string)), &out)
		reachedGate(t, d)
		if out.Batch.Status != "SUCCEEDED" || out.Batch.JobID == "" {
			t.Fatalf("batch result %+v in %v", out.Batch, d["output"])
		}
		// The job is visible through the Batch API as well.
		var jobs struct {
			Jobs []struct{ JobID, Status string }
		}
		if err := json.Unmarshal([]byte(cli(t, endpoint, "batch", "describe-jobs", "--jobs", out.Batch.JobID)), &jobs); err != nil || len(jobs.Jobs) != 1 || jobs.Jobs[0].Status != "SUCCEEDED" {
			t.Fatalf("describe-jobs: %+v, %v", jobs, err)
		}
	})

	t.Run("a bad dataset fails with the reasons", func(t *testing.T) {
		before := tw.executionARNs()
		cli(t, endpoint, "s3", "cp", bad, "s3://lorafn/datasets/bad/train.jsonl")
		d := waitDone(t, tw, endpoint, newExecution(t, tw, before))
		wantStatus(t, d, statemachine.StatusFailed)
		cause, _ := d["cause"].(string)
		if d["error"] != "lorafn.DataError" || !strings.Contains(cause, "train.jsonl:3:") || !strings.Contains(cause, "train.jsonl:10:") {
			t.Fatalf("error %v, cause %s", d["error"], cause)
		}
	})

	t.Run("the config beside a dataset starts nothing", func(t *testing.T) {
		before := tw.executionARNs()
		cli(t, endpoint, "s3", "cp", good, "s3://lorafn/datasets/other/lorafn.json")
		time.Sleep(300 * time.Millisecond)
		if after := tw.executionARNs(); len(after) != len(before) {
			t.Fatalf("uploading lorafn.json started an execution")
		}
	})
}

// reachedGate checks that an execution trained and evaluated a run rather
// than finding it already handled.
func reachedGate(t *testing.T, d map[string]any) {
	t.Helper()
	var out struct {
		Duplicate bool `json:"duplicate"`
		Promote   *struct {
			Promoted bool `json:"promoted"`
		} `json:"promote"`
	}
	json.Unmarshal([]byte(d["output"].(string)), &out)
	if out.Duplicate || out.Promote == nil {
		t.Fatalf("execution %v did not reach the gate: %v", d["name"], d["output"])
	}
}

// readmeInput is the manual execution input README.md shows.
func readmeInput(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(repoRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(readme), "\n") {
		if strings.HasPrefix(line, `{"dataset": "datasets/task/train.jsonl"`) && json.Valid([]byte(line)) {
			return line
		}
	}
	t.Fatal("README.md shows no manual input for datasets/task/train.jsonl")
	return ""
}
