// Package twin is lorafn's local twin of the AWS services its workflow
// uses, on one HTTP endpoint (by default 127.0.0.1:4566, LocalStack's
// port): S3 (local/s3, which unlike gofakes3 speaks conditional writes and
// stores bucket notification configurations), Step Functions (the
// statemachine interpreter), Lambda (the real bootstrap binary run through
// a Lambda Runtime API server, or the step handlers in process), EventBridge
// (rules on S3 "Object Created" events with input transformers), EventBridge
// Scheduler (rate, cron and at expressions that really fire) and AWS Batch
// (jobs that train a run to its end). Each service speaks its real wire
// protocol, so the aws CLI and the AWS SDKs drive it unchanged with
// AWS_ENDPOINT_URL; requests are routed by the SigV4 credential scope, the
// X-Amz-Target header or the path.
//
// With a data directory, everything survives a restart: objects, state
// machines, functions, rules, schedules, Batch jobs and execution records.
// Executions that were running when the twin stopped come back ABORTED.
//
// # Known differences from AWS
//
//   - Credentials and signatures are accepted without checking, and IAM
//     roles are recorded, not enforced: the template's least-privilege
//     policies are checked by infra's tests, not here.
//   - Each Lambda invocation starts the bootstrap afresh (a cold start
//     every time); functions run with the twin's user and environment
//     sandboxing is limited to a private TMPDIR.
//   - Batch jobs start at once: queues, compute environments and job
//     definitions are names only.
//   - EventBridge has the default bus and no PutEvents; Scheduler ignores
//     flexible time windows and retry policies, and fires on the twin's
//     clock, checked every Options.SchedulerTick.
//   - Step Functions runs STANDARD machines in the interpreter's subset of
//     ASL (see package statemachine).
package twin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lorafn/lorafn/local/s3"
	"github.com/lorafn/lorafn/statemachine"
)

// Lambda modes.
const (
	// LambdaProcess runs a function's bootstrap from its zip as a process
	// that talks to a Lambda Runtime API server, as Lambda does.
	LambdaProcess = "process"
	// LambdaInProcess runs the step named by the function's handler in
	// this process (functions/workflow): fast, and no zip is executed.
	LambdaInProcess = "inprocess"
)

// Options configure a Twin. The zero value keeps everything in memory and
// runs Lambda functions as processes.
type Options struct {
	// Dir keeps the twin's state; empty: memory only.
	Dir string
	// Region and Account of the ARNs (default us-east-1, 000000000000).
	Region, Account string
	// Lambda is LambdaProcess (default) or LambdaInProcess.
	Lambda string
	// BatchCommand, when set, runs a Batch job as this local process with
	// LORAFN_RUN_ID, LORAFN_BUCKET and AWS_ENDPOINT_URL set (for instance
	// `lorafn batch-train`); otherwise jobs train in process.
	BatchCommand []string
	// BatchBucket is the bucket Batch jobs train from when their job
	// definition sets no LORAFN_BUCKET (default "lorafn").
	BatchBucket string
	// SchedulerTick is how often schedules are checked (default 1 s).
	SchedulerTick time.Duration
	// Logf receives one line per notable event; nil discards.
	Logf func(format string, args ...any)
}

// Twin is the local endpoint. Create it with New, call Start with the URL
// it is reachable at, serve it as an http.Handler, and Close it.
type Twin struct {
	opts Options
	s3   *s3.Server

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	endpoint  string
	machines  map[string]*machine // by name
	functions map[string]*function
	rules     map[string]*rule
	schedules map[string]*schedule
	jobs      map[string]*job
	records   map[string]*execRecord // executions by ARN, live or loaded
}

// New returns a Twin and loads what opts.Dir holds.
func New(opts Options) (*Twin, error) {
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Account == "" {
		opts.Account = "000000000000"
	}
	if opts.Lambda == "" {
		opts.Lambda = LambdaProcess
	}
	if opts.Lambda != LambdaProcess && opts.Lambda != LambdaInProcess {
		return nil, fmt.Errorf("twin: lambda mode %q: want %s or %s", opts.Lambda, LambdaProcess, LambdaInProcess)
	}
	if opts.BatchBucket == "" {
		opts.BatchBucket = "lorafn"
	}
	if opts.SchedulerTick <= 0 {
		opts.SchedulerTick = time.Second
	}
	t := &Twin{
		opts:      opts,
		machines:  map[string]*machine{},
		functions: map[string]*function{},
		rules:     map[string]*rule{},
		schedules: map[string]*schedule{},
		jobs:      map[string]*job{},
		records:   map[string]*execRecord{},
	}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	s3opts := s3.Options{Region: opts.Region, OnCreated: t.objectCreated}
	if opts.Dir != "" {
		s3opts.Dir = filepath.Join(opts.Dir, "s3")
		for _, sub := range []string{"s3", "lambda", "executions"} {
			if err := os.MkdirAll(filepath.Join(opts.Dir, sub), 0o755); err != nil {
				return nil, fmt.Errorf("twin: %w", err)
			}
		}
	}
	srv, err := s3.New(s3opts)
	if err != nil {
		return nil, err
	}
	t.s3 = srv
	if err := t.load(); err != nil {
		return nil, err
	}
	return t, nil
}

// Start tells the twin the URL it is served at (functions and jobs reach
// S3 there) and starts the scheduler.
func (t *Twin) Start(endpoint string) {
	t.mu.Lock()
	t.endpoint = strings.TrimSuffix(endpoint, "/")
	t.mu.Unlock()
	t.wg.Add(1)
	go t.scheduleLoop()
}

// Close stops the scheduler, aborts running executions and waits for
// background work.
func (t *Twin) Close() error {
	t.cancel()
	t.wg.Wait()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range t.functions {
		f.mu.Lock()
		if f.dir != "" {
			os.RemoveAll(f.dir)
			f.dir = ""
		}
		f.mu.Unlock()
	}
	return nil
}

func (t *Twin) logf(format string, args ...any) {
	if t.opts.Logf != nil {
		t.opts.Logf(format, args...)
	}
}

func (t *Twin) url() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.endpoint
}

func (t *Twin) arn(service, resource string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, t.opts.Region, t.opts.Account, resource)
}

// ServeHTTP routes a request to its service.
func (t *Twin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_local/") {
		t.serveLocal(w, r)
		return
	}
	switch service(r) {
	case "states":
		t.serveStates(w, r)
	case "events":
		t.serveEvents(w, r)
	case "lambda":
		t.serveLambda(w, r)
	case "scheduler":
		t.serveScheduler(w, r)
	case "batch":
		t.serveBatch(w, r)
	default:
		t.s3.ServeHTTP(w, r)
	}
}

// serveLocal answers the twin's own endpoints: health, and firing a
// schedule now.
func (t *Twin) serveLocal(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_local/health":
		writeJSON(w, restJSON, http.StatusOK, map[string]string{"status": "ok"})
	case r.URL.Path == "/_local/scheduler/fire" && r.Method == http.MethodPost:
		name := r.URL.Query().Get("name")
		arn, err := t.fireNow(name, r.URL.Query().Get("group"))
		if err != nil {
			writeError(w, restJSON, err)
			return
		}
		writeJSON(w, restJSON, http.StatusOK, map[string]string{"executionArn": arn})
	default:
		writeError(w, restJSON, notFound("NotFound", "no local endpoint %s %s", r.Method, r.URL.Path))
	}
}

// persisted is the twin's state file, rewritten whole on every change.
type persisted struct {
	Machines  []*machine  `json:"machines"`
	Functions []*function `json:"functions"`
	Rules     []*rule     `json:"rules"`
	Schedules []*schedule `json:"schedules"`
	Jobs      []*job      `json:"jobs"`
}

func (t *Twin) stateFile() string { return filepath.Join(t.opts.Dir, "state.json") }

// save writes the state file atomically. Call with t.mu held.
func (t *Twin) save() error {
	if t.opts.Dir == "" {
		return nil
	}
	var p persisted
	for _, m := range t.machines {
		p.Machines = append(p.Machines, m)
	}
	for _, f := range t.functions {
		p.Functions = append(p.Functions, f)
	}
	for _, r := range t.rules {
		p.Rules = append(p.Rules, r)
	}
	for _, s := range t.schedules {
		p.Schedules = append(p.Schedules, s)
	}
	for _, j := range t.jobs {
		p.Jobs = append(p.Jobs, j.snapshot())
	}
	data, err := json.MarshalIndent(p, "", " ")
	if err != nil {
		return err
	}
	return writeAtomic(t.stateFile(), data)
}

// writeAtomic replaces path with data: a reader sees the old or the new
// file, never a part.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// load restores the state file and the execution records.
func (t *Twin) load() error {
	if t.opts.Dir == "" {
		return nil
	}
	data, err := os.ReadFile(t.stateFile())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("twin: %w", err)
	}
	var p persisted
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("twin: %s: %w", t.stateFile(), err)
	}
	for _, m := range p.Machines {
		if err := t.compile(m); err != nil {
			return fmt.Errorf("twin: %s: state machine %s: %w", t.stateFile(), m.Name, err)
		}
		t.machines[m.Name] = m
	}
	for _, f := range p.Functions {
		t.functions[f.Config.FunctionName] = f
	}
	for _, r := range p.Rules {
		t.rules[r.Name] = r
	}
	for _, s := range p.Schedules {
		if err := s.parse(); err != nil {
			return fmt.Errorf("twin: %s: schedule %s: %w", t.stateFile(), s.Name, err)
		}
		t.schedules[s.key()] = s
	}
	for _, j := range p.Jobs {
		if j.Status != "SUCCEEDED" && j.Status != "FAILED" {
			j.Status, j.StatusReason, j.StoppedAt = "FAILED", "lorafn local stopped while the job ran", time.Now().UnixMilli()
		}
		j.done = make(chan struct{})
		close(j.done)
		t.jobs[j.JobID] = j
	}
	return t.loadRecords()
}

var _ statemachine.Resources = (*resources)(nil)
