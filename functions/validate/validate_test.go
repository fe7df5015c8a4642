package validate

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/objects"
	"github.com/lorafn/lorafn/functions/runs"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func setup(t *testing.T) (*Handler, *blob.Mem, *clock) {
	t.Helper()
	st := &blob.Mem{}
	ctx := t.Context()
	for key, body := range map[string]string{
		"models/tiny/config.json":       `{}`,
		"models/tiny/model.safetensors": `weights`,
		"datasets/spam/train.jsonl":     `{"text": "a", "label": "b"}`,
		"datasets/spam/lorafn.json":     `{"base_model": "models/tiny", "training": {"max_steps": 5}}`,
		"datasets/configs/fast.json":    `{"training": {"learning_rate": 0.5}}`,
	} {
		if _, err := st.Put(ctx, key, strings.NewReader(body), blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	c := &clock{time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)}
	return &Handler{Store: st, Bucket: "b", Now: c.now}, st, c
}

func handle(t *testing.T, h *Handler, request string) (Out, error) {
	t.Helper()
	return h.Handle(context.Background(), In{Request: json.RawMessage(request), Execution: Execution{ID: "arn:exec"}})
}

func TestThreeTriggerShapesMeetAtOneRun(t *testing.T) {
	h, st, _ := setup(t)
	first, err := handle(t, h, `{"bucket": "b", "key": "datasets/spam/train.jsonl", "source": "s3"}`)
	if err != nil || first.Duplicate || first.Resume || len(first.RunID) != 26 {
		t.Fatalf("S3 trigger: %+v %v", first, err)
	}
	var m runs.Manifest
	if _, err := objects.GetJSON(t.Context(), st, runs.Run(first.RunID).Manifest(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Config.Name != "spam" || m.Config.BaseModel != "models/tiny/" || m.Config.Training.Steps != 5 || m.Trigger.Source != "s3" || m.State != runs.Running {
		t.Fatalf("manifest %+v", m)
	}
	for _, req := range []string{
		`{"source": "schedule", "scheduled_time": "2026-11-30T08:00:00Z", "dataset": "datasets/spam/train.jsonl"}`,
		`{"dataset": "datasets/spam/train.jsonl"}`,
		`{"bucket": "b", "key": "datasets/spam/train.jsonl", "source": "s3"}`,
	} {
		out, err := handle(t, h, req)
		if err != nil || out.RunID != first.RunID || !out.Duplicate {
			t.Errorf("%s: %+v %v; want a duplicate of %s", req, out, err, first.RunID)
		}
	}
	// Another configuration is another run.
	other, err := handle(t, h, `{"dataset": "datasets/spam/train.jsonl", "config": "datasets/configs/fast.json"}`)
	if err != nil || other.RunID == first.RunID || other.Duplicate {
		t.Fatalf("config by key: %+v %v", other, err)
	}
	inline, err := handle(t, h, `{"dataset": "datasets/spam/train.jsonl", "config": {"training": {"learning_rate": 0.5}}}`)
	if err != nil || inline.RunID != other.RunID || !inline.Duplicate {
		t.Fatalf("the same config inline: %+v %v", inline, err)
	}
}

func TestStaleAndFailedRunsAreTakenOver(t *testing.T) {
	h, st, c := setup(t)
	first, err := handle(t, h, `{"dataset": "datasets/spam/train.jsonl"}`)
	if err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(10 * time.Minute)
	if out, _ := handle(t, h, `{"dataset": "datasets/spam/train.jsonl"}`); !out.Duplicate {
		t.Fatalf("a fresh running run was not left alone: %+v", out)
	}
	c.t = c.t.Add(time.Hour)
	out, err := handle(t, h, `{"dataset": "datasets/spam/train.jsonl"}`)
	if err != nil || out.Duplicate || !out.Resume || out.RunID != first.RunID {
		t.Fatalf("a stale run was not taken over: %+v %v", out, err)
	}
	// A failed run resumes too.
	key := runs.Run(first.RunID).Manifest()
	var m runs.Manifest
	etag, _ := objects.GetJSON(t.Context(), st, key, &m)
	m.State, m.Failure = runs.Failed, &runs.Failure{Error: "x"}
	if _, err := objects.PutJSON(t.Context(), st, key, m, blob.PutOptions{IfMatch: etag}); err != nil {
		t.Fatal(err)
	}
	out, err = handle(t, h, `{"dataset": "datasets/spam/train.jsonl"}`)
	if err != nil || !out.Resume || out.Duplicate {
		t.Fatalf("a failed run was not resumed: %+v %v", out, err)
	}
	var taken runs.Manifest
	objects.GetJSON(t.Context(), st, key, &taken)
	if taken.State != runs.Running || taken.Failure != nil {
		t.Fatalf("taken-over manifest %+v", taken)
	}
	// Continuations name the run.
	out, err = handle(t, h, `{"runId": "`+first.RunID+`", "segment": 2, "resume": true}`)
	if err != nil || out.Segment != 2 || !out.Resume || out.Duplicate {
		t.Fatalf("continuation: %+v %v", out, err)
	}
}

func TestBadRequestsNameTheProblem(t *testing.T) {
	h, st, _ := setup(t)
	st.Put(t.Context(), "datasets/bad/train.jsonl", strings.NewReader("x"), blob.PutOptions{})
	st.Put(t.Context(), "datasets/bad/lorafn.json", strings.NewReader(`{"base_model": "models/none/"}`), blob.PutOptions{})
	for req, want := range map[string]string{
		`{"bucket": "other", "key": "datasets/spam/train.jsonl", "source": "s3"}`:                       `bucket "other"`,
		`{"dataset": "runs/x/train.jsonl"}`:                                                             "must be under datasets/",
		`{"dataset": "datasets/../runs/train.jsonl"}`:                                                   ". or ..",
		`{"dataset": "datasets/spam/missing.jsonl"}`:                                                    "datasets/spam/missing.jsonl",
		`{"dataset": "datasets/spam/train.jsonl", "config": {"training": {"lr": 1}}}`:                   `"lr"`,
		`{"dataset": "datasets/spam/train.jsonl", "config": {"method": {"lora": {"r": 0}}}}`:            "r = 0",
		`{"dataset": "datasets/bad/train.jsonl"}`:                                                       "no config.json",
		`{"source": "schedule", "scheduled_time": "yesterday", "dataset": "datasets/spam/train.jsonl"}`: "scheduled_time",
		`{"datasett": "datasets/spam/train.jsonl"}`:                                                     "datasett",
	} {
		_, err := handle(t, h, req)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to mention %s", req, err, want)
		}
	}
	if infos, _ := st.List(t.Context(), runs.RunsPrefix); len(infos) != 0 {
		t.Errorf("refused requests claimed runs: %v", infos)
	}
}
