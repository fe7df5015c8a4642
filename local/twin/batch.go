package twin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lorafn/lorafn/functions/workflow"
	"github.com/lorafn/lorafn/local/runner"
	"github.com/lorafn/lorafn/statemachine"
)

// job is an AWS Batch job. The twin runs it at once (no queue, no compute
// environment): as BatchCommand's process, or as the trainer in process.
type job struct {
	JobID         string            `json:"jobId"`
	JobARN        string            `json:"jobArn"`
	JobName       string            `json:"jobName"`
	JobQueue      string            `json:"jobQueue"`
	JobDefinition string            `json:"jobDefinition"`
	Parameters    map[string]string `json:"parameters,omitempty"`
	Environment   map[string]string `json:"environment,omitempty"`
	Status        string            `json:"status"`
	StatusReason  string            `json:"statusReason,omitempty"`
	CreatedAt     int64             `json:"createdAt"`
	StartedAt     int64             `json:"startedAt,omitempty"`
	StoppedAt     int64             `json:"stoppedAt,omitempty"`

	mu   sync.Mutex
	done chan struct{}
}

func (j *job) snapshot() *job {
	j.mu.Lock()
	defer j.mu.Unlock()
	return &job{JobID: j.JobID, JobARN: j.JobARN, JobName: j.JobName, JobQueue: j.JobQueue, JobDefinition: j.JobDefinition,
		Parameters: j.Parameters, Environment: j.Environment, Status: j.Status, StatusReason: j.StatusReason,
		CreatedAt: j.CreatedAt, StartedAt: j.StartedAt, StoppedAt: j.StoppedAt}
}

func (j *job) set(status, reason string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.Status, j.StatusReason = status, reason
	now := time.Now().UnixMilli()
	switch status {
	case "RUNNING":
		j.StartedAt = now
	case "SUCCEEDED", "FAILED":
		j.StoppedAt = now
	}
}

func (t *Twin) serveBatch(w http.ResponseWriter, r *http.Request) {
	var out any
	var err error
	switch strings.ToLower(strings.TrimPrefix(r.URL.Path, "/v1/")) {
	case "submitjob":
		var in submitJobInput
		if err = decode(r, &in); err == nil {
			var j *job
			if j, err = t.submitJob(in); err == nil {
				out = map[string]string{"jobArn": j.JobARN, "jobName": j.JobName, "jobId": j.JobID}
			}
		}
	case "describejobs":
		var in struct {
			Jobs []string `json:"jobs"`
		}
		if err = decode(r, &in); err == nil {
			list := []*job{}
			for _, id := range in.Jobs {
				t.mu.Lock()
				j, ok := t.jobs[id]
				t.mu.Unlock()
				if ok {
					list = append(list, j.snapshot())
				}
			}
			out = map[string]any{"jobs": list}
		}
	default:
		err = notFound("ClientException", "Batch operation %s %s is not supported by lorafn local", r.Method, r.URL.Path)
	}
	if err != nil {
		writeError(w, restJSON, err)
		return
	}
	writeJSON(w, restJSON, http.StatusOK, out)
}

type submitJobInput struct {
	JobName            string            `json:"jobName"`
	JobQueue           string            `json:"jobQueue"`
	JobDefinition      string            `json:"jobDefinition"`
	Parameters         map[string]string `json:"parameters"`
	ContainerOverrides struct {
		Environment []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"environment"`
	} `json:"containerOverrides"`
}

func (t *Twin) submitJob(in submitJobInput) (*job, error) {
	if in.JobName == "" || in.JobQueue == "" || in.JobDefinition == "" {
		return nil, badRequest("ClientException", "jobName, jobQueue and jobDefinition are required")
	}
	env := map[string]string{}
	for _, e := range in.ContainerOverrides.Environment {
		env[e.Name] = e.Value
	}
	id := fmt.Sprintf("%08x-%04x-local", time.Now().UnixNano()&0xffffffff, time.Now().Nanosecond()&0xffff)
	j := &job{JobID: id, JobARN: t.arn("batch", "job/"+id), JobName: in.JobName, JobQueue: in.JobQueue, JobDefinition: in.JobDefinition,
		Parameters: in.Parameters, Environment: env, Status: "SUBMITTED", CreatedAt: time.Now().UnixMilli(), done: make(chan struct{})}
	t.mu.Lock()
	t.jobs[id] = j
	err := t.save()
	t.mu.Unlock()
	if err != nil {
		return nil, err
	}
	t.logf("batch job %s (%s) submitted", id, in.JobName)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		defer close(j.done)
		j.set("RUNNING", "")
		if err := t.runJob(t.ctx, j); err != nil {
			j.set("FAILED", err.Error())
		} else {
			j.set("SUCCEEDED", "Essential container in task exited")
		}
		t.mu.Lock()
		t.save()
		t.mu.Unlock()
		t.logf("batch job %s %s", id, j.snapshot().Status)
	}()
	return j, nil
}

// runJob trains the job's run to its end.
func (t *Twin) runJob(ctx context.Context, j *job) error {
	runID := j.Environment["LORAFN_RUN_ID"]
	if runID == "" {
		runID = j.Parameters["runId"]
	}
	bucket := j.Environment["LORAFN_BUCKET"]
	if bucket == "" {
		bucket = t.opts.BatchBucket
	}
	if runID == "" {
		return fmt.Errorf("job %s has neither LORAFN_RUN_ID nor the runId parameter", j.JobName)
	}
	if len(t.opts.BatchCommand) > 0 {
		cmd := exec.CommandContext(ctx, t.opts.BatchCommand[0], append(t.opts.BatchCommand[1:], "--run-id", runID)...)
		cmd.Env = append(os.Environ(), "LORAFN_RUN_ID="+runID, "LORAFN_BUCKET="+bucket, "AWS_ENDPOINT_URL="+t.url(),
			"AWS_ACCESS_KEY_ID=lorafn-local", "AWS_SECRET_ACCESS_KEY=lorafn-local", "AWS_REGION="+t.opts.Region, "AWS_BATCH_JOB_ID="+j.JobID, "AWS_BATCH_JOB_ATTEMPT=1")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("Essential container in task exited: %v: %s", err, lastLines(out.String(), 5))
		}
		return nil
	}
	store, err := runner.S3Store(ctx, t.url(), bucket)
	if err != nil {
		return err
	}
	cache, err := os.MkdirTemp("", "lorafn-batch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(filepath.Clean(cache))
	h := workflow.New(store, workflow.Options{Bucket: bucket, CacheDir: cache})
	for chunk := 0; ; chunk++ {
		in, _ := json.Marshal(map[string]any{"runId": runID, "segment": 0, "chunk": chunk})
		out, err := h.Invoke(ctx, workflow.Train, in)
		if err != nil {
			return fmt.Errorf("run %s: %w", runID, err)
		}
		var res struct {
			Done bool `json:"done"`
		}
		if err := json.Unmarshal(out, &res); err != nil {
			return err
		}
		if res.Done {
			return nil
		}
	}
}

// batchTask is the batch:submitJob integration: with .sync it waits for
// the job and returns its description (PascalCase, as Step Functions does);
// a failed job fails the task with States.TaskFailed.
func (t *Twin) batchTask(ctx context.Context, params json.RawMessage, wait bool) (json.RawMessage, error) {
	var p struct {
		JobName            string            `json:"JobName"`
		JobQueue           string            `json:"JobQueue"`
		JobDefinition      string            `json:"JobDefinition"`
		Parameters         map[string]string `json:"Parameters"`
		ContainerOverrides struct {
			Environment []struct {
				Name  string `json:"Name"`
				Value string `json:"Value"`
			} `json:"Environment"`
		} `json:"ContainerOverrides"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, &statemachine.TaskError{Name: "Batch.ClientException", Cause: err.Error()}
	}
	in := submitJobInput{JobName: p.JobName, JobQueue: p.JobQueue, JobDefinition: p.JobDefinition, Parameters: p.Parameters}
	for _, e := range p.ContainerOverrides.Environment {
		in.ContainerOverrides.Environment = append(in.ContainerOverrides.Environment, struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		}{e.Name, e.Value})
	}
	j, err := t.submitJob(in)
	if err != nil {
		return nil, &statemachine.TaskError{Name: "Batch.ClientException", Cause: err.Error()}
	}
	if !wait {
		out, _ := json.Marshal(map[string]string{"JobArn": j.JobARN, "JobName": j.JobName, "JobId": j.JobID})
		return out, nil
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s := j.snapshot()
	desc, _ := json.Marshal(map[string]any{
		"JobArn": s.JobARN, "JobId": s.JobID, "JobName": s.JobName, "JobQueue": s.JobQueue, "JobDefinition": s.JobDefinition,
		"Status": s.Status, "StatusReason": s.StatusReason, "CreatedAt": s.CreatedAt, "StartedAt": s.StartedAt, "StoppedAt": s.StoppedAt,
		"Parameters": s.Parameters,
	})
	if s.Status != "SUCCEEDED" {
		return nil, &statemachine.TaskError{Name: "States.TaskFailed", Cause: string(desc)}
	}
	return desc, nil
}
