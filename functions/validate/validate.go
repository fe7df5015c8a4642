// Package validate is the workflow's first step: it turns any of the three
// triggers into one run request, checks the dataset and the run
// configuration, derives the content-based run id and claims the run's
// manifest, so that duplicate triggers meet at one run and an abandoned run
// is resumed instead of restarted.
package validate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/objects"
	"github.com/lorafn/lorafn/functions/runs"
)

// In is the state's input: the execution input as it arrived, and the
// execution it belongs to.
type In struct {
	Request   json.RawMessage `json:"request"`
	Execution Execution       `json:"execution"`
}

// Execution identifies the Step Functions execution.
type Execution struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	StartTime string `json:"startTime"`
}

// Request is the union of the accepted execution inputs:
//
//   - an S3 upload, as the EventBridge rule's input transformer delivers
//     it: {"bucket": B, "key": "datasets/...", "source": "s3"};
//   - a schedule: {"source": "schedule", "scheduled_time":
//     "<aws.scheduler.scheduled-time>", "dataset": KEY, "config": {...}};
//   - a manual start: {"dataset": KEY, "config": {...} or "KEY of a JSON file"};
//   - a continuation: {"runId": ID, "segment": N, "resume": true}, as the
//     workflow starts its next segment.
type Request struct {
	Source        string          `json:"source,omitempty"`
	Bucket        string          `json:"bucket,omitempty"`
	Key           string          `json:"key,omitempty"`
	ScheduledTime string          `json:"scheduled_time,omitempty"`
	Dataset       string          `json:"dataset,omitempty"`
	Config        json.RawMessage `json:"config,omitempty"`
	RunID         string          `json:"runId,omitempty"`
	Segment       int             `json:"segment,omitempty"`
	Resume        bool            `json:"resume,omitempty"`
}

// Out tells the workflow which run to drive.
type Out struct {
	RunID string `json:"runId"`
	// Duplicate means another execution owns the run or it has finished:
	// this execution ends without work.
	Duplicate bool `json:"duplicate"`
	// Resume means the run existed and continues from its checkpoints.
	Resume              bool   `json:"resume"`
	Segment             int    `json:"segment"`
	MaxChunksPerSegment int    `json:"maxChunksPerSegment"`
	State               string `json:"state"` // the manifest's state
}

// Handler validates runs in one bucket.
type Handler struct {
	Store  blob.Store
	Bucket string // the bucket events must come from; empty accepts any
	// Lease is how long a running run may go without progress before
	// another trigger takes it over.
	Lease time.Duration
	Now   func() time.Time
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now().UTC()
}

// Handle validates the request and claims its run.
func (h *Handler) Handle(ctx context.Context, in In) (Out, error) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(in.Request))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Out{}, fmt.Errorf("validate: execution input: %w", err)
	}
	if req.RunID != "" {
		return h.continueRun(ctx, req)
	}
	trigger, dataset, err := h.trigger(req, in.Execution)
	if err != nil {
		return Out{}, err
	}
	if err := runs.CheckDatasetKey(dataset); err != nil {
		return Out{}, fmt.Errorf("validate: %w", err)
	}
	dsInfo, err := h.Store.Head(ctx, dataset)
	if err != nil {
		return Out{}, fmt.Errorf("validate: dataset %s: %w", dataset, err)
	}
	cfg, err := h.config(ctx, dataset, req.Config)
	if err != nil {
		return Out{}, err
	}
	baseETag, err := h.modelIdentity(ctx, cfg.BaseModel)
	if err != nil {
		return Out{}, err
	}
	id := runs.ID(dataset, dsInfo.ETag, baseETag, cfg)
	m := runs.Manifest{
		RunID: id, CreatedAt: h.now(), Trigger: trigger, Dataset: dataset,
		DatasetETag: dsInfo.ETag, BaseETag: baseETag, Config: cfg, State: runs.Running,
	}
	out := Out{RunID: id, MaxChunksPerSegment: cfg.Chunk.MaxChunksPerSegment, State: runs.Running}
	key := runs.Run(id).Manifest()
	_, err = objects.PutJSON(ctx, h.Store, key, m, blob.PutOptions{IfNoneMatch: true})
	if err == nil {
		return out, nil
	}
	if !errors.Is(err, blob.ErrPreconditionFailed) {
		return Out{}, fmt.Errorf("validate: claiming %s: %w", key, err)
	}
	return h.existing(ctx, id, trigger)
}

// trigger normalises the three trigger shapes.
func (h *Handler) trigger(req Request, ex Execution) (runs.Trigger, string, error) {
	t := runs.Trigger{Execution: ex.ID}
	switch {
	case req.Source == "s3" || (req.Bucket != "" && req.Key != ""):
		if req.Key == "" {
			return t, "", errors.New("validate: S3 event without a key")
		}
		if h.Bucket != "" && req.Bucket != h.Bucket {
			return t, "", fmt.Errorf("validate: event from bucket %q, this workflow serves %q", req.Bucket, h.Bucket)
		}
		t.Source, t.Bucket = "s3", req.Bucket
		return t, req.Key, nil
	case req.Source == "schedule":
		if _, err := time.Parse(time.RFC3339, req.ScheduledTime); err != nil {
			return t, "", fmt.Errorf("validate: scheduled_time %q: %w", req.ScheduledTime, err)
		}
		t.Source, t.ScheduledTime = "schedule", req.ScheduledTime
	case req.Source == "" || req.Source == "manual":
		t.Source = "manual"
	default:
		return t, "", fmt.Errorf("validate: source %q: want s3, schedule or manual", req.Source)
	}
	if req.Dataset == "" {
		return t, "", errors.New(`validate: execution input has no "dataset" key`)
	}
	return t, req.Dataset, nil
}

// config builds the run configuration: defaults, then lorafn.json beside
// the dataset, then the request's config (an object, or the key of one).
func (h *Handler) config(ctx context.Context, dataset string, inline json.RawMessage) (runs.Config, error) {
	cfg := runs.DefaultConfig()
	beside := runs.ConfigBeside(dataset)
	data, _, err := blob.ReadAll(ctx, h.Store, beside)
	switch {
	case err == nil:
		if err := cfg.Merge(beside, data); err != nil {
			return cfg, fmt.Errorf("validate: %w", err)
		}
	case !errors.Is(err, blob.ErrNotFound):
		return cfg, fmt.Errorf("validate: %s: %w", beside, err)
	}
	if len(inline) > 0 && string(inline) != "null" {
		var key string
		if json.Unmarshal(inline, &key) == nil {
			if !strings.HasPrefix(key, runs.DatasetsPrefix) {
				return cfg, fmt.Errorf("validate: config key %q: must be under %s", key, runs.DatasetsPrefix)
			}
			if inline, _, err = blob.ReadAll(ctx, h.Store, key); err != nil {
				return cfg, fmt.Errorf("validate: config %s: %w", key, err)
			}
		}
		if err := cfg.Merge("execution input config", inline); err != nil {
			return cfg, fmt.Errorf("validate: %w", err)
		}
	}
	if cfg.Name == "" {
		cfg.Name = path.Base(path.Dir(dataset))
	}
	if cfg.BaseModel != "" && !strings.HasSuffix(cfg.BaseModel, "/") {
		cfg.BaseModel += "/"
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("validate: %w", err)
	}
	return cfg, nil
}

// modelIdentity hashes the keys and ETags of the base model folder, which
// must hold a config.json.
func (h *Handler) modelIdentity(ctx context.Context, prefix string) (string, error) {
	infos, err := h.Store.List(ctx, prefix)
	if err != nil {
		return "", fmt.Errorf("validate: base_model %s: %w", prefix, err)
	}
	sum := sha256.New()
	found := false
	for _, info := range infos {
		found = found || info.Key == prefix+"config.json"
		fmt.Fprintf(sum, "%s\x00%s\x00", info.Key, info.ETag)
	}
	if !found {
		return "", fmt.Errorf("validate: base_model %s: no config.json there", prefix)
	}
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// existing decides what a trigger for an already claimed run does.
func (h *Handler) existing(ctx context.Context, id string, trigger runs.Trigger) (Out, error) {
	r := runs.Run(id)
	var m runs.Manifest
	etag, err := objects.GetJSON(ctx, h.Store, r.Manifest(), &m)
	if err != nil {
		return Out{}, fmt.Errorf("validate: %w", err)
	}
	out := Out{RunID: id, MaxChunksPerSegment: m.Config.Chunk.MaxChunksPerSegment, State: m.State}
	switch m.State {
	case runs.Succeeded:
		out.Duplicate = true
		return out, nil
	case runs.Running:
		last := m.CreatedAt
		var st runs.Status
		if _, err := objects.GetJSON(ctx, h.Store, r.Status(), &st); err == nil && st.UpdatedAt.After(last) {
			last = st.UpdatedAt
		}
		if h.now().Sub(last) < h.lease() {
			out.Duplicate = true // another execution is driving it
			return out, nil
		}
	}
	// A failed or abandoned run: take it over and resume it.
	m.State, m.Failure, m.Trigger = runs.Running, nil, trigger
	m.CreatedAt = h.now()
	if _, err := objects.PutJSON(ctx, h.Store, r.Manifest(), m, blob.PutOptions{IfMatch: etag}); err != nil {
		if errors.Is(err, blob.ErrPreconditionFailed) {
			out.Duplicate = true // another trigger took it over first
			return out, nil
		}
		return Out{}, fmt.Errorf("validate: taking over %s: %w", id, err)
	}
	out.Resume, out.State = true, runs.Running
	return out, nil
}

func (h *Handler) lease() time.Duration {
	if h.Lease > 0 {
		return h.Lease
	}
	return 30 * time.Minute
}

// continueRun is the entry of a continuation segment: the run must exist
// and still be running.
func (h *Handler) continueRun(ctx context.Context, req Request) (Out, error) {
	var m runs.Manifest
	if _, err := objects.GetJSON(ctx, h.Store, runs.Run(req.RunID).Manifest(), &m); err != nil {
		return Out{}, fmt.Errorf("validate: continuing run %s: %w", req.RunID, err)
	}
	out := Out{RunID: m.RunID, Resume: true, Segment: req.Segment, MaxChunksPerSegment: m.Config.Chunk.MaxChunksPerSegment, State: m.State}
	if m.State != runs.Running {
		out.Duplicate = true
	}
	return out, nil
}
