// Package evaluate is the workflow step that measures a trained run
// against its base model — validation loss and perplexity, task metrics,
// forgetting on general text, overfitting — writes the report under
// reports/<runId>/, and returns the verdict the quality gate routes on.
package evaluate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/lorafn/lorafn/core/data"
	"github.com/lorafn/lorafn/core/eval"
	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/tokenizer"
	"github.com/lorafn/lorafn/core/train"
	"github.com/lorafn/lorafn/core/tune"
	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/objects"
	"github.com/lorafn/lorafn/functions/runs"
	"github.com/lorafn/lorafn/functions/trainchunk"
)

// In names the run.
type In struct {
	RunID string `json:"runId"`
}

// Out is the verdict.
type Out = runs.Verdict

// Handler evaluates runs.
type Handler struct {
	Store    blob.Store
	CacheDir string
	Prices   eval.Prices // zero: eval.DefaultPrices
	// MemoryMB is the Lambda memory the cost estimate assumes for the
	// training chunks (0: AWS_LAMBDA_FUNCTION_MEMORY_SIZE, else 10240).
	MemoryMB int
	// MaxTaskExamples bounds the examples scored for task metrics (0: 500).
	MaxTaskExamples int
}

// Handle evaluates the run and writes its report.
func (h *Handler) Handle(ctx context.Context, in In) (Out, error) {
	r := runs.Run(in.RunID)
	var m runs.Manifest
	if _, err := objects.GetJSON(ctx, h.Store, r.Manifest(), &m); err != nil {
		return Out{}, fmt.Errorf("evaluate: %w", err)
	}
	var status runs.Status
	if _, err := objects.GetJSON(ctx, h.Store, r.Status(), &status); err != nil && !errors.Is(err, blob.ErrNotFound) {
		return Out{}, fmt.Errorf("evaluate: %w", err)
	}
	cache := h.CacheDir
	if cache == "" {
		cache = filepath.Join(os.TempDir(), "lorafn-cache")
	}
	baseDir, err := objects.Cached(ctx, h.Store, m.Config.BaseModel, filepath.Join(cache, "models", objects.SafeName(m.BaseETag)))
	if err != nil {
		return Out{}, fmt.Errorf("evaluate: base model: %w", err)
	}
	prepDir, err := objects.Cached(ctx, h.Store, r.Prep(), filepath.Join(cache, "prep", m.RunID))
	if err != nil {
		return Out{}, fmt.Errorf("evaluate: shards: %w", err)
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return Out{}, err
	}
	work, err := os.MkdirTemp(cache, "eval-")
	if err != nil {
		return Out{}, err
	}
	defer os.RemoveAll(work)
	resultDir := filepath.Join(work, "result")
	if n, err := objects.Download(ctx, h.Store, r.Result(), resultDir); err != nil || n == 0 {
		return Out{}, fmt.Errorf("evaluate: run %s has no trained result: %v", m.RunID, err)
	}

	sets, closeSets, err := openSets(prepDir)
	if err != nil {
		return Out{}, err
	}
	defer closeSets()
	seqLen := m.Config.Training.SeqLen
	opts := eval.Options{
		Loss: eval.LossOptions{BatchSize: m.Config.Training.BatchSize, SeqLen: seqLen},
		Task: eval.TaskOptions{SeqLen: seqLen, MaxExamples: h.maxTask()},
	}
	if sets.Validation != nil {
		if sets.Task, err = eval.Tasks(sets.Validation, opts.Rule); err != nil {
			return Out{}, fmt.Errorf("evaluate: %w", err)
		}
	}

	base, err := model.Load(baseDir, nil)
	if err != nil {
		return Out{}, err
	}
	baseMetrics, err := eval.Measure(ctx, base, sets, opts)
	if err != nil {
		return Out{}, fmt.Errorf("evaluate: base model: %w", err)
	}
	// Adapters attach to the base; full and last-k results are models.
	tuned := base
	if m.Config.Method.Method == tune.Full || m.Config.Method.Method == tune.LastK {
		if tuned, err = model.Load(resultDir, nil); err != nil {
			return Out{}, err
		}
	} else if _, err := tune.LoadAdapter(resultDir, base); err != nil {
		return Out{}, err
	}
	tunedMetrics, err := eval.Measure(ctx, tuned, sets, opts)
	if err != nil {
		return Out{}, fmt.Errorf("evaluate: tuned model: %w", err)
	}

	rules := eval.DefaultRules()
	if m.Config.Gate.MaxForgetting > 0 {
		rules.MaxForgetting = m.Config.Gate.MaxForgetting
	}
	in2 := eval.ReportInput{Run: m.RunID, Base: baseMetrics, Tuned: tunedMetrics, Rules: rules, Prices: h.prices()}
	if sets.Task != nil && sets.Task.Classes != nil {
		if tok, err := tokenizer.Load(filepath.Join(baseDir, "tokenizer.json")); err == nil {
			for _, c := range sets.Task.Classes {
				in2.ClassNames = append(in2.ClassNames, strings.TrimSpace(tok.Decode(c, true)))
			}
		}
	}
	if lines, err := h.trainLog(ctx, r); err != nil {
		return Out{}, err
	} else if len(lines) > 0 {
		s := eval.Summarize(lines)
		in2.Training = &s
	}
	in2.Usage = h.usage(status)
	rep, err := eval.NewReport(in2)
	if err != nil {
		return Out{}, fmt.Errorf("evaluate: %w", err)
	}
	repDir := filepath.Join(work, "report")
	if err := os.MkdirAll(repDir, 0o755); err != nil {
		return Out{}, err
	}
	if err := rep.WriteFiles(repDir); err != nil {
		return Out{}, err
	}
	if _, err := objects.Upload(ctx, h.Store, repDir, r.Report(), blob.PutOptions{}); err != nil {
		return Out{}, fmt.Errorf("evaluate: writing the report: %w", err)
	}
	return verdict(m.Config.Gate, rep, r.Report()), nil
}

// verdict applies the quality gate to the report.
func verdict(g runs.Gate, rep *eval.Report, report string) Out {
	v := Out{Pass: true, Report: report}
	bv, tv := rep.Base.Validation, rep.Tuned.Validation
	if bv == nil || tv == nil {
		v.Pass = false
		v.Reasons = append(v.Reasons, "no validation data: nothing to judge the run by")
		return v
	}
	v.ValLoss, v.BaseValLoss = tv.Loss, bv.Loss
	improvement := (bv.Loss - tv.Loss) / bv.Loss
	if math.IsNaN(improvement) || improvement < g.MinImprovement {
		v.Pass = false
		v.Reasons = append(v.Reasons, fmt.Sprintf("validation loss %.4f vs base %.4f: %.1f%% better, below the required %.1f%%", tv.Loss, bv.Loss, 100*improvement, 100*g.MinImprovement))
	} else {
		v.Reasons = append(v.Reasons, fmt.Sprintf("validation loss %.4f vs base %.4f: %.1f%% better (required %.1f%%)", tv.Loss, bv.Loss, 100*improvement, 100*g.MinImprovement))
	}
	if f := rep.Forgetting; f != nil {
		change := f.RelativeChange
		v.Forgetting = &change
		if g.MaxForgetting > 0 && change > g.MaxForgetting {
			v.Pass = false
			v.Reasons = append(v.Reasons, fmt.Sprintf("general-text perplexity %.3f -> %.3f (%+.1f%%): more forgetting than the allowed %.1f%%", f.BasePerplexity, f.TunedPerplexity, 100*change, 100*g.MaxForgetting))
		} else {
			v.Reasons = append(v.Reasons, fmt.Sprintf("general-text perplexity %.3f -> %.3f (%+.1f%%)", f.BasePerplexity, f.TunedPerplexity, 100*change))
		}
	}
	if c, b := rep.Tuned.Classification, rep.Base.Classification; c != nil && b != nil {
		v.Reasons = append(v.Reasons, fmt.Sprintf("accuracy %.3f vs base %.3f, macro-F1 %.3f vs %.3f", c.Accuracy, b.Accuracy, c.MacroF1, b.MacroF1))
	}
	if o := rep.Overfitting; o != nil && o.Flagged {
		v.Reasons = append(v.Reasons, "overfitting flagged (see the report)")
	}
	return v
}

// openSets opens the prepared validation split, the general reference set
// and a fixed sample of the training split.
func openSets(prepDir string) (eval.Sets, func(), error) {
	var sets eval.Sets
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	open := func(name string) (train.Dataset, error) {
		s, err := data.OpenShards(filepath.Join(prepDir, name))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil, nil
			}
			return nil, err
		}
		closers = append(closers, func() { s.Close() })
		if s.Len() == 0 {
			return nil, nil
		}
		return trainchunk.Shards{S: s}, nil
	}
	var err error
	if sets.Validation, err = open(data.ValidationDir); err != nil {
		closeAll()
		return sets, nil, fmt.Errorf("evaluate: %w", err)
	}
	if sets.Reference, err = open("general"); err != nil {
		closeAll()
		return sets, nil, fmt.Errorf("evaluate: %w", err)
	}
	trainSet, err := open(data.TrainDir)
	if err != nil || trainSet == nil {
		closeAll()
		return sets, nil, fmt.Errorf("evaluate: training shards: %v", err)
	}
	sets.TrainSample = eval.Sample(trainSet, 256)
	return sets, closeAll, nil
}

// trainLog reads the run's log parts in step order.
func (h *Handler) trainLog(ctx context.Context, r runs.Run) ([]eval.LogLine, error) {
	prefix := strings.TrimSuffix(r.LogPart(0), "part-000000000.jsonl")
	infos, err := h.Store.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Key < infos[j].Key })
	var all []byte
	for _, info := range infos {
		b, _, err := blob.ReadAll(ctx, h.Store, info.Key)
		if err != nil {
			return nil, err
		}
		all = append(all, b...)
	}
	if len(all) == 0 {
		return nil, nil
	}
	return eval.ReadTrainLog(strings.NewReader(string(all)), prefix)
}

// usage estimates what the run consumed from its status.
func (h *Handler) usage(st runs.Status) *eval.Usage {
	mem := h.MemoryMB
	if mem == 0 {
		mem, _ = strconv.Atoi(os.Getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"))
	}
	if mem == 0 {
		mem = 10240
	}
	arch := eval.X86_64
	if runtime.GOARCH == "arm64" {
		arch = eval.ARM64
	}
	// Each chunk costs about 9 state transitions (TrainChunk, CountChunk,
	// MoreChunks); the rest of the workflow about 20.
	return &eval.Usage{
		Arch: arch, LambdaMemoryMB: mem, LambdaSeconds: st.TrainSeconds,
		LambdaInvocations: st.Chunks + 5, StateTransitions: 9*st.Chunks + 20,
	}
}

func (h *Handler) prices() eval.Prices {
	if h.Prices.LambdaGBSecond == nil {
		return eval.DefaultPrices()
	}
	return h.Prices
}

func (h *Handler) maxTask() int {
	if h.MaxTaskExamples > 0 {
		return h.MaxTaskExamples
	}
	return 500
}
