// Package trainchunk is the workflow step that trains one deadline-bounded
// chunk of a run: it restores the latest checkpoint, trains until shortly
// before the invocation's deadline, writes checkpoints/step-N/ and only
// then moves checkpoints/LATEST, and reports progress in status.json and as
// CloudWatch Embedded Metric Format lines.
//
// A chunk is idempotent: training is a pure function of the run, so a
// retried chunk writes byte-identical checkpoint files, and LATEST only
// moves forward with a conditional write.
package trainchunk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lorafn/lorafn/core/data"
	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/train"
	"github.com/lorafn/lorafn/core/tune"
	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/objects"
	"github.com/lorafn/lorafn/functions/runs"
)

// In names the run and, for logs, where the workflow is.
type In struct {
	RunID   string `json:"runId"`
	Segment int    `json:"segment"`
	Chunk   int    `json:"chunk"`
}

// Out reports the chunk.
type Out struct {
	Done       bool    `json:"done"`
	Step       int     `json:"step"`
	TotalSteps int     `json:"totalSteps"`
	ChunkSteps int     `json:"chunkSteps"`
	Loss       float64 `json:"loss"`
}

// Handler trains chunks. Its cache folder keeps base models and shards
// across warm invocations.
type Handler struct {
	Store    blob.Store
	CacheDir string
	// Metrics receives one EMF JSON line per optimizer step; nil discards.
	Metrics io.Writer
	Now     func() time.Time
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now().UTC()
}

// Handle trains one chunk of the run.
func (h *Handler) Handle(ctx context.Context, in In) (Out, error) {
	r := runs.Run(in.RunID)
	var m runs.Manifest
	if _, err := objects.GetJSON(ctx, h.Store, r.Manifest(), &m); err != nil {
		return Out{}, fmt.Errorf("train: %w", err)
	}
	var plan runs.Plan
	if _, err := objects.GetJSON(ctx, h.Store, r.Plan(), &plan); err != nil {
		return Out{}, fmt.Errorf("train: %w", err)
	}
	j, err := h.open(ctx, m)
	if err != nil {
		return Out{}, err
	}
	defer j.close()

	// Restore the latest checkpoint, if any.
	latestETag := ""
	var status runs.Status
	if _, err := objects.GetJSON(ctx, h.Store, r.Status(), &status); err != nil && !errors.Is(err, blob.ErrNotFound) {
		return Out{}, fmt.Errorf("train: %w", err)
	}
	if b, info, err := blob.ReadAll(ctx, h.Store, r.Latest()); err == nil {
		latestETag = info.ETag
		name := strings.TrimSpace(string(b))
		dir := filepath.Join(j.work, "restore")
		if _, err := objects.Download(ctx, h.Store, r.Checkpoints()+name+"/", dir); err != nil {
			return Out{}, fmt.Errorf("train: checkpoint %s: %w", name, err)
		}
		if err := j.trainer.Load(dir); err != nil {
			return Out{}, err
		}
	} else if !errors.Is(err, blob.ErrNotFound) {
		return Out{}, fmt.Errorf("train: %w", err)
	}
	tr := j.trainer
	start := tr.State.Step
	out := Out{Step: start, TotalSteps: tr.TotalSteps(), Done: tr.Done()}
	if out.Done {
		return out, h.finish(ctx, r, j, &status, in, out)
	}

	budget := train.Budget{MaxSteps: m.Config.Chunk.MaxSteps, StepEstimate: seconds(status.StepSeconds), Now: h.now}
	chunkStart := h.now()
	if dl, ok := ctx.Deadline(); ok {
		// Keep the configured margin, or twice the last checkpoint's write
		// time if longer, but never more than half of what is left: a
		// short simulated timeout still trains.
		left := time.Until(dl)
		margin := max(seconds(float64(m.Config.Chunk.MarginSeconds)), seconds(2*status.CheckpointSeconds))
		margin = min(margin, left/2)
		budget.Deadline = chunkStart.Add(left - margin)
	}
	var logs []train.LogLine
	last := chunkStart
	_, err = tr.RunUntil(context.WithoutCancel(ctx), budget, func(l train.StepLog) error {
		now := h.now()
		line := train.LogLine{StepLog: l, TokensPerSec: float64(l.Input) / now.Sub(last).Seconds(), ElapsedSec: now.Sub(chunkStart).Seconds()}
		logs = append(logs, line)
		status.StepSeconds = max(status.StepSeconds, now.Sub(last).Seconds())
		h.emit(in, line)
		last = now
		return nil
	})
	if err != nil {
		return Out{}, err
	}
	if len(logs) == 0 {
		return Out{}, fmt.Errorf("train: the chunk's deadline left no time for one step (margin %ds); raise the function timeout or lower chunk.margin_seconds", m.Config.Chunk.MarginSeconds)
	}

	// Checkpoint files first, then LATEST: a crash in between leaves LATEST
	// at the previous checkpoint, and the retry writes the same bytes.
	saveStart := h.now()
	dir := filepath.Join(j.work, "save")
	if err := tr.Save(dir); err != nil {
		return Out{}, err
	}
	if _, err := objects.Upload(ctx, h.Store, dir, r.Checkpoint(tr.State.Step), blob.PutOptions{IfNoneMatch: true, Tags: runs.CheckpointTags}); err != nil {
		return Out{}, fmt.Errorf("train: writing checkpoint: %w", err)
	}
	if err := h.putLog(ctx, r, start, logs); err != nil {
		return Out{}, err
	}
	opts := blob.PutOptions{IfMatch: latestETag, IfNoneMatch: latestETag == ""}
	name := fmt.Sprintf("step-%d\n", tr.State.Step)
	if _, err := h.Store.Put(ctx, r.Latest(), strings.NewReader(name), opts); err != nil {
		if errors.Is(err, blob.ErrPreconditionFailed) {
			return Out{}, fmt.Errorf("train: another invocation moved %s meanwhile: %w", r.Latest(), err)
		}
		return Out{}, fmt.Errorf("train: %w", err)
	}
	status.CheckpointSeconds = h.now().Sub(saveStart).Seconds()
	status.TrainSeconds += h.now().Sub(chunkStart).Seconds()

	lastLog := logs[len(logs)-1]
	out = Out{Done: tr.Done(), Step: tr.State.Step, TotalSteps: tr.TotalSteps(), ChunkSteps: len(logs), Loss: lastLog.Loss}
	status.Loss = lastLog.Loss
	if lastLog.ValLoss != nil {
		status.ValLoss = lastLog.ValLoss
	}
	return out, h.finish(ctx, r, j, &status, in, out)
}

// finish writes the trained result when the run is done, then status.json.
func (h *Handler) finish(ctx context.Context, r runs.Run, j *job, st *runs.Status, in In, out Out) error {
	if out.Done {
		dir := filepath.Join(j.work, "result")
		if err := j.tuned.Save(dir); err != nil {
			return err
		}
		if _, err := objects.Upload(ctx, h.Store, dir, r.Result(), blob.PutOptions{IfNoneMatch: true}); err != nil {
			return fmt.Errorf("train: writing the result: %w", err)
		}
	}
	st.RunID, st.Step, st.TotalSteps, st.Done = string(r), out.Step, out.TotalSteps, out.Done
	st.Tokens = j.trainer.State.Tokens
	st.Chunks++
	st.UpdatedAt = h.now()
	_, err := objects.PutJSON(ctx, h.Store, r.Status(), st, blob.PutOptions{})
	return err
}

// putLog writes the chunk's step logs as one part of the run's log.
func (h *Handler) putLog(ctx context.Context, r runs.Run, start int, logs []train.LogLine) error {
	var b strings.Builder
	for _, l := range logs {
		line, err := json.Marshal(l)
		if err != nil {
			return err
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	_, err := h.Store.Put(ctx, r.LogPart(start), strings.NewReader(b.String()), blob.PutOptions{ContentType: "application/x-ndjson"})
	return err
}

// emit writes one CloudWatch Embedded Metric Format line.
func (h *Handler) emit(in In, l train.LogLine) {
	if h.Metrics == nil {
		return
	}
	line := map[string]any{
		"_aws": map[string]any{
			"Timestamp": h.now().UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "lorafn",
				"Dimensions": [][]string{{"Function"}},
				"Metrics": []map[string]string{
					{"Name": "TrainLoss", "Unit": "None"},
					{"Name": "TokensPerSecond", "Unit": "Count/Second"},
					{"Name": "StepsDone", "Unit": "Count"},
				},
			}},
		},
		"Function":        "train",
		"runId":           in.RunID,
		"segment":         in.Segment,
		"chunk":           in.Chunk,
		"TrainLoss":       l.Loss,
		"TokensPerSecond": l.TokensPerSec,
		"StepsDone":       l.Step,
	}
	b, _ := json.Marshal(line)
	h.Metrics.Write(append(b, '\n'))
}

// job is one chunk's model, method and trainer.
type job struct {
	work    string
	tuned   *tune.Tuned
	trainer *train.Trainer
	closers []func()
}

func (j *job) close() {
	for _, c := range j.closers {
		c()
	}
	os.RemoveAll(j.work)
}

// open loads the base model and shards (from the cache when warm) and sets
// the run's method and trainer up.
func (h *Handler) open(ctx context.Context, m runs.Manifest) (*job, error) {
	cache := h.CacheDir
	if cache == "" {
		cache = filepath.Join(os.TempDir(), "lorafn-cache")
	}
	modelDir, err := objects.Cached(ctx, h.Store, m.Config.BaseModel, filepath.Join(cache, "models", objects.SafeName(m.BaseETag)))
	if err != nil {
		return nil, fmt.Errorf("train: base model: %w", err)
	}
	r := runs.Run(m.RunID)
	prepDir, err := objects.Cached(ctx, h.Store, r.Prep(), filepath.Join(cache, "prep", m.RunID))
	if err != nil {
		return nil, fmt.Errorf("train: shards: %w", err)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(cache, "chunk-")
	if err != nil {
		return nil, err
	}
	j := &job{work: work}
	fail := func(err error) (*job, error) { j.close(); return nil, err }
	mod, err := model.Load(modelDir, nil)
	if err != nil {
		return fail(err)
	}
	trainSet, err := data.OpenShards(filepath.Join(prepDir, data.TrainDir))
	if err != nil {
		return fail(err)
	}
	j.closers = append(j.closers, func() { trainSet.Close() })
	var val train.Dataset
	if vs, err := data.OpenShards(filepath.Join(prepDir, data.ValidationDir)); err == nil && vs.Len() > 0 {
		j.closers = append(j.closers, func() { vs.Close() })
		val = Shards{vs}
	}
	j.tuned, err = tune.Setup(mod, m.Config.Method, m.Config.Training.Seed)
	if err != nil {
		return fail(err)
	}
	j.tuned.BaseDir = modelDir
	j.trainer, err = train.New(mod, j.tuned.Groups(), Shards{trainSet}, val, m.Config.Training)
	if err != nil {
		return fail(err)
	}
	return j, nil
}

// Shards adapts prepared shards to the trainer's Dataset.
type Shards struct{ S *data.Shards }

func (d Shards) Len() int { return d.S.Len() }

func (d Shards) Example(i int) (train.Example, error) {
	ex, err := d.S.Example(i)
	return train.Example{IDs: ex.IDs, Labels: ex.Labels}, err
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
