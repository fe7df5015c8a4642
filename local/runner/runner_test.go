package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/safetensors"
	"github.com/lorafn/lorafn/core/tokenizer"
	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/objects"
	"github.com/lorafn/lorafn/functions/runs"
	"github.com/lorafn/lorafn/functions/workflow"
	"github.com/lorafn/lorafn/local/s3"
	"github.com/lorafn/lorafn/statemachine"
)

const bucket = "lorafn-test"

// newStore serves a fresh in-memory S3 server on loopback and returns a
// store on it, through aws-sdk-go-v2.
func newStore(t *testing.T) *blob.S3 {
	t.Helper()
	srv, err := s3.New(s3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	st, err := S3Store(t.Context(), ts.URL, bucket)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// taskRecords is a learnable classification task: the label follows the
// keyword in the text.
func taskRecords(n int) []string {
	words := []string{"river", "stone", "cloud", "field", "light", "storm"}
	var out []string
	for i := 0; i < n; i++ {
		key, label := "alpha", "yes"
		if i%2 == 1 {
			key, label = "beta", "no"
		}
		text := fmt.Sprintf("%s %s %s %d", words[i%len(words)], key, words[(i/2)%len(words)], i)
		out = append(out, fmt.Sprintf(`{"text": %q, "label": %q}`, text, label))
	}
	return out
}

// putFixture uploads a tiny random base model with a tokenizer trained on
// the task, the dataset and its lorafn.json.
func putFixture(t *testing.T, st blob.Store, records []string, cfg string) string {
	t.Helper()
	ctx := t.Context()
	tr, err := tokenizer.NewBPETrainer(tokenizer.TrainOptions{VocabSize: 300, SpecialTokens: []string{"<|endoftext|>"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range taskRecords(64) {
		tr.Add(r)
	}
	tokJSON, err := tr.Train(ctx)
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
	files := map[string][]byte{
		"models/tiny/config.json":           []byte(mc),
		"models/tiny/model.safetensors":     weights.Bytes(),
		"models/tiny/tokenizer.json":        tokJSON,
		"models/tiny/tokenizer_config.json": []byte(`{"eos_token": "<|endoftext|>"}`),
		"datasets/task/train.jsonl":         []byte(strings.Join(records, "\n") + "\n"),
		"datasets/task/lorafn.json":         []byte(cfg),
	}
	for key, data := range files {
		if _, err := st.Put(ctx, key, bytes.NewReader(data), blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return "datasets/task/train.jsonl"
}

// taskConfig trains 12 steps; extra is merged into the JSON object.
func taskConfig(extra string) string {
	cfg := `{"base_model": "models/tiny/",
		"method": {"method": "lora", "lora": {"r": 4, "lora_alpha": 8, "lora_dropout": 0.1, "target_modules": "all-linear"}},
		"training": {"learning_rate": 0.01, "max_steps": 12, "per_device_train_batch_size": 4, "max_seq_length": 32, "warmup_steps": 2, "eval_steps": 6},
		"data": {"max_len": 32, "val_fraction": 0.25},
		"gate": {"min_improvement": 0.05, "max_forgetting": 0},
		"chunk": {"margin_seconds": 0}}`
	if extra == "" {
		return cfg
	}
	var a, b map[string]any
	json.Unmarshal([]byte(cfg), &a)
	json.Unmarshal([]byte(extra), &b)
	for k, v := range b {
		if sub, ok := v.(map[string]any); ok {
			for k2, v2 := range sub {
				a[k].(map[string]any)[k2] = v2
			}
			continue
		}
		a[k] = v
	}
	out, _ := json.Marshal(a)
	return string(out)
}

// counter counts step invocations.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) on(inv Invocation) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[inv.Step]++
}

func (c *counter) get(step string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[step]
}

func newRunner(t *testing.T, st blob.Store, opts Options) *Runner {
	t.Helper()
	opts.CacheDir = t.TempDir()
	opts.Clock = statemachine.NewVirtualClock(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	r, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func s3Event(key string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"bucket": %q, "key": %q, "source": "s3"}`, bucket, key))
}

func runToEnd(t *testing.T, r *Runner, name string, input json.RawMessage) statemachine.Description {
	t.Helper()
	_, d, err := r.Machine.Run(t.Context(), name, input)
	if err != nil {
		t.Fatal(err)
	}
	// Follow continue-as-new: wait until no execution runs any more.
	for waited := 0; ; {
		es := r.Machine.Executions()
		for _, e := range es {
			if _, err := e.Wait(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		if len(es) == waited {
			return d
		}
		waited = len(es)
	}
}

func manifestOf(t *testing.T, st blob.Store, runID string) runs.Manifest {
	t.Helper()
	var m runs.Manifest
	if _, err := objects.GetJSON(t.Context(), st, runs.Run(runID).Manifest(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// onlyRun returns the id of the single run in the store.
func onlyRun(t *testing.T, st blob.Store) string {
	t.Helper()
	infos, err := st.List(t.Context(), runs.RunsPrefix)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, info := range infos {
		ids[strings.Split(info.Key, "/")[1]] = true
	}
	if len(ids) != 1 {
		t.Fatalf("want one run, found %v", ids)
	}
	for id := range ids {
		return id
	}
	return ""
}

func resultBytes(t *testing.T, st blob.Store, runID string) []byte {
	t.Helper()
	b, _, err := blob.ReadAll(t.Context(), st, runs.Run(runID).Result()+"adapter_model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEndToEndPromotesAnAdapter(t *testing.T) {
	st := newStore(t)
	key := putFixture(t, st, taskRecords(48), taskConfig(""))
	var c counter
	r := newRunner(t, st, Options{OnStep: c.on})
	d := runToEnd(t, r, "upload-1", s3Event(key))
	if d.Status != statemachine.StatusSucceeded {
		t.Fatalf("execution %s: %s %s", d.Status, d.Error, d.Cause)
	}
	id := onlyRun(t, st)
	m := manifestOf(t, st, id)
	if m.State != runs.Succeeded || m.Adapter == "" {
		t.Fatalf("manifest state %q adapter %q, failure %+v", m.State, m.Adapter, m.Failure)
	}
	var cur runs.CurrentPointer
	if _, err := objects.GetJSON(t.Context(), st, runs.Current("task"), &cur); err != nil || cur.RunID != id {
		t.Fatalf("CURRENT.json %+v, %v", cur, err)
	}
	for _, f := range []string{"adapter_config.json", "adapter_model.safetensors", "README.md"} {
		if _, err := st.Head(t.Context(), cur.Path+f); err != nil {
			t.Errorf("promoted adapter lacks %s: %v", f, err)
		}
	}
	for _, f := range []string{"report.json", "report.md", "loss.svg"} {
		if _, err := st.Head(t.Context(), runs.Run(id).Report()+f); err != nil {
			t.Errorf("report lacks %s: %v", f, err)
		}
	}
	// Checkpoints and shards carry the tags the bucket's lifecycle rules
	// expire them by; the result does not.
	for prefix, want := range map[string]int32{runs.Run(id).Checkpoints() + "step-": 1, runs.Run(id).Prep() + "train/": 1, runs.Run(id).Result(): 0} {
		infos, err := st.List(t.Context(), prefix)
		if err != nil || len(infos) == 0 {
			t.Fatalf("nothing under %s: %v", prefix, err)
		}
		out, err := st.Client.GetObject(t.Context(), &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(infos[0].Key)})
		if err != nil {
			t.Fatal(err)
		}
		out.Body.Close()
		if got := aws.ToInt32(out.TagCount); got != want {
			t.Errorf("%s has %d tags, want %d", infos[0].Key, got, want)
		}
	}
	if c.get(workflow.Prep) != 1 || c.get(workflow.Train) < 1 || c.get(workflow.Promote) != 1 {
		t.Errorf("step invocations %v", c.n)
	}

	// The same upload again is a duplicate: no second run, no work.
	var c2 counter
	r2 := newRunner(t, st, Options{OnStep: c2.on})
	if d := runToEnd(t, r2, "upload-2", s3Event(key)); d.Status != statemachine.StatusSucceeded || c2.get(workflow.Prep) != 0 {
		t.Fatalf("duplicate trigger: %s, steps %v", d.Status, c2.n)
	}
}

// TestChunkingDoesNotChangeTheResult cuts the same training into one-step
// chunks and into few executions (continue-as-new every 3 chunks) and
// compares the adapter bytes with a run in one chunk.
func TestChunkingDoesNotChangeTheResult(t *testing.T) {
	whole := newStore(t)
	key := putFixture(t, whole, taskRecords(48), taskConfig(""))
	if d := runToEnd(t, newRunner(t, whole, Options{}), "whole", s3Event(key)); d.Status != statemachine.StatusSucceeded {
		t.Fatalf("one-chunk run: %s %s", d.Status, d.Cause)
	}
	want := resultBytes(t, whole, onlyRun(t, whole))

	cut := newStore(t)
	key = putFixture(t, cut, taskRecords(48), taskConfig(`{"chunk": {"max_steps": 1, "max_chunks_per_segment": 3, "margin_seconds": 0}}`))
	var c counter
	r := newRunner(t, cut, Options{OnStep: c.on})
	if d := runToEnd(t, r, "cut", s3Event(key)); d.Status != statemachine.StatusSucceeded {
		t.Fatalf("chunked run: %s %s", d.Status, d.Cause)
	}
	if c.get(workflow.Train) != 12 || len(r.Machine.Executions()) != 4 {
		t.Fatalf("%d chunks in %d executions, want 12 in 4", c.get(workflow.Train), len(r.Machine.Executions()))
	}
	for _, e := range r.Machine.Executions() {
		if d := e.Describe(); d.Status != statemachine.StatusSucceeded {
			t.Errorf("execution %s: %s", d.Name, d.Status)
		}
	}
	if got := resultBytes(t, cut, onlyRun(t, cut)); !bytes.Equal(got, want) {
		t.Fatal("the adapter of the chunked run differs from the one-chunk run")
	}
}

// crashingStore fails the Puts whose numbers are in crashAt as a function
// killed at its deadline would: the write never happens.
type crashingStore struct {
	blob.Store
	mu      sync.Mutex
	puts    int
	crashAt map[int]bool
	crashes int
}

func (s *crashingStore) Put(ctx context.Context, key string, body io.Reader, opts blob.PutOptions) (string, error) {
	s.mu.Lock()
	s.puts++
	crash := s.crashAt[s.puts] && strings.Contains(key, "/checkpoints/")
	if crash {
		s.crashes++
	}
	s.mu.Unlock()
	if crash {
		return "", fmt.Errorf("crash injected writing %s: %w", key, context.DeadlineExceeded)
	}
	return s.Store.Put(ctx, key, body, opts)
}

// TestCrashedChunksResumeToTheSameAdapter kills chunks while they write
// checkpoints and expects the retried run to finish with the adapter of a
// clean run and only complete checkpoints in the store.
func TestCrashedChunksResumeToTheSameAdapter(t *testing.T) {
	cfg := taskConfig(`{"chunk": {"max_steps": 2, "margin_seconds": 0}}`)
	clean := newStore(t)
	key := putFixture(t, clean, taskRecords(48), cfg)
	if d := runToEnd(t, newRunner(t, clean, Options{}), "clean", s3Event(key)); d.Status != statemachine.StatusSucceeded {
		t.Fatalf("clean run: %s %s", d.Status, d.Cause)
	}
	want := resultBytes(t, clean, onlyRun(t, clean))

	base := newStore(t)
	key = putFixture(t, base, taskRecords(48), cfg)
	st := &crashingStore{Store: base, crashAt: map[int]bool{}}
	for i := 1; i < 400; i += 7 {
		st.crashAt[i] = true
	}
	d := runToEnd(t, newRunner(t, st, Options{}), "crashy", s3Event(key))
	if d.Status != statemachine.StatusSucceeded {
		t.Fatalf("run with crashes: %s %s", d.Status, d.Cause)
	}
	if st.crashes < 3 {
		t.Fatalf("only %d crashes were injected", st.crashes)
	}
	id := onlyRun(t, base)
	if got := resultBytes(t, base, id); !bytes.Equal(got, want) {
		t.Fatalf("after %d crashes the adapter differs from a clean run", st.crashes)
	}
	// Every checkpoint LATEST ever pointed to is complete and readable.
	infos, _ := base.List(t.Context(), runs.Run(id).Checkpoints())
	for _, info := range infos {
		if path.Ext(info.Key) != ".safetensors" {
			continue
		}
		b, _, err := blob.ReadAll(t.Context(), base, info.Key)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := safetensors.NewReader(bytes.NewReader(b), int64(len(b))); err != nil {
			t.Errorf("%s is corrupt: %v", info.Key, err)
		}
	}
}

func TestDuplicateTriggersMakeOneRun(t *testing.T) {
	st := newStore(t)
	key := putFixture(t, st, taskRecords(48), taskConfig(""))
	var c counter
	r := newRunner(t, st, Options{OnStep: c.on})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := r.Machine.Start(t.Context(), fmt.Sprintf("dup-%d", i), s3Event(key)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, e := range r.Machine.Executions() {
		if d, err := e.Wait(t.Context()); err != nil || d.Status != statemachine.StatusSucceeded {
			t.Fatalf("execution %s: %v %v", d.Name, d.Status, err)
		}
	}
	if c.get(workflow.Validate) != 4 || c.get(workflow.Prep) != 1 || c.get(workflow.Promote) != 1 {
		t.Fatalf("4 triggers ran steps %v; want 4 validations and one run", c.n)
	}
	onlyRun(t, st)
}

func TestBadDatasetFailsWithLineReasons(t *testing.T) {
	st := newStore(t)
	records := taskRecords(20)
	records[2] = `{"text": "broken`
	records[5] = `{"prompt": 7}`
	records[9] = `not json at all`
	key := putFixture(t, st, records, taskConfig(""))
	d := runToEnd(t, newRunner(t, st, Options{}), "bad", s3Event(key))
	if d.Status != statemachine.StatusFailed || d.Error != "lorafn.DataError" {
		t.Fatalf("execution %s, error %q", d.Status, d.Error)
	}
	m := manifestOf(t, st, onlyRun(t, st))
	if m.State != runs.Failed || m.Failure == nil {
		t.Fatalf("manifest %+v", m)
	}
	joined := strings.Join(m.Failure.Reasons, "\n")
	for _, line := range []string{"train.jsonl:3:", "train.jsonl:6:", "train.jsonl:10:"} {
		if !strings.Contains(joined, line) {
			t.Errorf("reasons lack %s:\n%s", line, joined)
		}
	}
	if infos, _ := st.List(t.Context(), runs.AdaptersPrefix); len(infos) != 0 {
		t.Errorf("a failed run promoted %v", infos)
	}
	report, _, err := blob.ReadAll(t.Context(), st, runs.Run(m.RunID).Report()+"report.md")
	if err != nil || !strings.Contains(string(report), "train.jsonl:6:") {
		t.Errorf("failure report %q, %v", report, err)
	}
}

// steppingClock advances by a fixed step at every reading, so the chunk
// deadline arithmetic is the same however fast the machine is.
type steppingClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *steppingClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(c.step)
	return c.t
}

// TestShortDeadlinesCutTheRunIntoChunks gives each chunk a 10 s simulated
// Lambda timeout on a clock that advances 250 ms at every reading, so the
// chunks end at deadlines after a few steps each, and compares the adapter
// with a run in one chunk.
func TestShortDeadlinesCutTheRunIntoChunks(t *testing.T) {
	cfg := taskConfig(`{"training": {"max_steps": 40, "eval_steps": 0}, "chunk": {"margin_seconds": 90}}`)
	whole := newStore(t)
	key := putFixture(t, whole, taskRecords(48), cfg)
	if d := runToEnd(t, newRunner(t, whole, Options{}), "whole", s3Event(key)); d.Status != statemachine.StatusSucceeded {
		t.Fatalf("one-chunk run: %s %s", d.Status, d.Cause)
	}
	want := resultBytes(t, whole, onlyRun(t, whole))

	cut := newStore(t)
	key = putFixture(t, cut, taskRecords(48), cfg)
	var c counter
	clock := &steppingClock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC), step: 250 * time.Millisecond}
	r := newRunner(t, cut, Options{OnStep: c.on, ChunkTimeout: 10 * time.Second, Options: workflow.Options{Now: clock.now}})
	if d := runToEnd(t, r, "cut", s3Event(key)); d.Status != statemachine.StatusSucceeded {
		t.Fatalf("run with 10 s chunks: %s %s", d.Status, d.Cause)
	}
	if c.get(workflow.Train) < 3 {
		t.Fatalf("%d chunks: the deadline did not cut the run", c.get(workflow.Train))
	}
	if got := resultBytes(t, cut, onlyRun(t, cut)); !bytes.Equal(got, want) {
		t.Fatalf("the adapter of %d deadline-cut chunks differs from the one-chunk run", c.get(workflow.Train))
	}
	t.Logf("%d chunks", c.get(workflow.Train))
}
