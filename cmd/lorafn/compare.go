package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lorafn/lorafn/core/data"
	"github.com/lorafn/lorafn/core/eval"
	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/peft/lora"
	"github.com/lorafn/lorafn/core/train"
	"github.com/lorafn/lorafn/core/tune"
	"github.com/lorafn/lorafn/internal/atomicfile"
)

// compareLR returns each method's default learning rate: the methods train
// very different numbers of values, so one rate cannot serve them all.
func compareLR() map[string]float64 {
	return map[string]float64{
		tune.Full: 1e-4, tune.LastK: 2e-4, tune.LoRA: 1e-3, tune.DoRA: 1e-3,
		tune.IA3: 1e-2, tune.Prompt: 3e-2, tune.Prefix: 1e-2,
	}
}

// Lambda settings of the cost estimate: the largest function, chunks a
// minute short of the 15-minute limit, a few state transitions per chunk.
const (
	compareLambdaMB        = 10240
	compareChunkSeconds    = 840
	compareTransitionsPerC = 4
)

// compareRow is one method's line of the comparison.
type compareRow struct {
	Method       string   `json:"method"`
	LR           float64  `json:"lr"`
	Trainable    int      `json:"trainable_params"`
	SizeBytes    int64    `json:"size_bytes"`
	ValLoss      *float64 `json:"val_loss,omitempty"`
	Metric       string   `json:"metric,omitempty"`
	MetricValue  *float64 `json:"metric_value,omitempty"`
	Forgetting   *float64 `json:"forgetting,omitempty"` // relative perplexity change on the general set
	TokensPerSec float64  `json:"tokens_per_s"`         // input tokens
	TargetPerSec float64  `json:"target_tokens_per_s"`
	TrainSeconds float64  `json:"train_s"`
	LambdaUSD    float64  `json:"lambda_usd"`
	Serving      string   `json:"serving"`
}

func runCompare(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("compare", stdout)
	base := fs.String("base", "", "Hugging Face model folder to fine-tune")
	dataPath := fs.String("data", "", "training data, in any form 'lorafn train' takes")
	valData := fs.String("val-data", "", "validation data (default: the split of --val-fraction)")
	valFraction := fs.Float64("val-fraction", 0.1, "hold out this fraction of --data when there is no --val-data")
	general := fs.String("general", "", "general text for forgetting (a dataset file or prepared folder)")
	out := fs.String("out", "", "output folder: one training folder per method, compare.md and compare.json")
	methods := fs.String("methods", strings.Join([]string{tune.Full, tune.LastK, tune.LoRA, tune.DoRA, tune.IA3, tune.Prompt, tune.Prefix}, ","), "methods to train, comma-separated")
	lrs := fs.String("lr", "", `learning rates overriding the defaults, e.g. "lora=2e-3,prompt=0.1"`)
	c := train.DefaultConfig()
	fs.IntVar(&c.Steps, "steps", 100, "optimizer steps of every method (the fixed budget)")
	fs.IntVar(&c.BatchSize, "batch-size", c.BatchSize, "sequences per step")
	fs.IntVar(&c.SeqLen, "seq-len", c.SeqLen, "cut longer sequences to this many tokens")
	fs.IntVar(&c.WarmupSteps, "warmup", 0, "warmup steps")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of every run")
	virtual := fs.Int("num-virtual-tokens", 20, "prompt and prefix tuning: virtual tokens")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	for _, f := range []struct{ name, v string }{{"base", *base}, {"data", *dataPath}, {"out", *out}} {
		if err := required(f.name, f.v); err != nil {
			return err
		}
	}
	rates := compareLR()
	override, err := parseRates(*lrs)
	if err != nil {
		return usageError{err.Error()}
	}
	maps.Copy(rates, override)
	list := strings.Split(*methods, ",")
	for _, m := range list {
		if _, ok := rates[m]; !ok {
			return usageError{fmt.Sprintf("--methods: unknown method %q (want some of %s)", m, strings.Join(tune.Methods(), ", "))}
		}
	}
	if entries, err := os.ReadDir(*out); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty; choose a new --out", *out)
	}

	// Prepare the data once, so every method sees the same examples.
	if *valData != "" {
		*valFraction = 0 // train on all of --data
	}
	trainDir, err := prepared(ctx, *base, *dataPath, filepath.Join(*out, "prep", "train"), c.SeqLen, *valFraction, stdout)
	if err != nil {
		return err
	}
	valDir, valSub := filepath.Join(trainDir, data.ValidationDir), ""
	if *valData != "" {
		if valDir, err = prepared(ctx, *base, *valData, filepath.Join(*out, "prep", "validation"), c.SeqLen, 0, stdout); err != nil {
			return err
		}
		valSub = data.TrainDir
	}
	sets := eval.Sets{}
	var closers []func()
	defer func() {
		for _, f := range closers {
			f()
		}
	}()
	if ds, closeDS, err := openDataset(valDir, valSub); err == nil && ds.Len() > 0 {
		sets.Validation, closers = ds, append(closers, closeDS)
	}
	if sets.Validation == nil {
		return fmt.Errorf("compare: no validation examples: give --val-data or a --val-fraction above 0")
	}
	if *general != "" {
		genDir, err := prepared(ctx, *base, *general, filepath.Join(*out, "prep", "general"), c.SeqLen, 0, stdout)
		if err != nil {
			return err
		}
		ds, closeDS, err := openDataset(genDir, data.TrainDir)
		if err != nil {
			return err
		}
		sets.Reference, closers = ds, append(closers, closeDS)
	}
	opts := eval.Options{Loss: eval.LossOptions{BatchSize: c.BatchSize, SeqLen: c.SeqLen}, Task: eval.TaskOptions{SeqLen: c.SeqLen}}
	if sets.Task, err = eval.Tasks(sets.Validation, opts.Rule); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	baseModel, err := model.Load(*base, nil)
	if err != nil {
		return err
	}
	baseMetrics, err := eval.Measure(ctx, baseModel, sets, opts)
	if err != nil {
		return fmt.Errorf("compare: base model: %w", err)
	}
	rows := []compareRow{baseRow(baseMetrics)}

	for _, method := range list {
		rs := runSpec{Base: *base, Data: trainDir, ValData: valDir, Train: c}
		rs.Train.LR = rates[method]
		rs.Tune = compareSpec(method, *virtual)
		dir := filepath.Join(*out, method)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "compare: training %s (lr %g, %d steps)\n", method, rs.Train.LR, c.Steps)
		if err := trainRun(ctx, rs, dir, "", 0, io.Discard); err != nil {
			return fmt.Errorf("compare: %s: %w", method, err)
		}
		row, err := measureMethod(ctx, rs, dir, sets, opts, baseMetrics)
		if err != nil {
			return fmt.Errorf("compare: %s: %w", method, err)
		}
		rows = append(rows, row)
	}

	table := compareTable(rows, c, baseModel.Config.Architecture)
	raw, err := json.MarshalIndent(rows, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(*out, "compare.json"), append(raw, '\n')); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(*out, "compare.md"), []byte(table)); err != nil {
		return err
	}
	fmt.Fprint(stdout, table)
	return nil
}

// compareSpec is each method's setup: LoRA and DoRA at r 8 on every
// linear layer, (IA)³ with PEFT's targets, last-k on the top two layers.
func compareSpec(method string, virtual int) tune.Spec {
	s := tune.Spec{Method: method, LoRA: lora.DefaultConfig(), LastK: 2}
	s.LoRA.Alpha = 16
	s.LoRA.TargetModules = lora.ParseTargets(lora.AllLinear)
	s.Prompt.NumVirtualTokens, s.Prefix.NumVirtualTokens = virtual, virtual
	return s
}

func parseRates(s string) (map[string]float64, error) {
	out := map[string]float64{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		name, v, ok := strings.Cut(f, "=")
		r, err := strconv.ParseFloat(v, 64)
		if _, known := compareLR()[name]; !ok || !known || err != nil || !(r > 0) {
			return nil, fmt.Errorf("--lr: %q: want method=rate with a known method and a positive rate", f)
		}
		out[name] = r
	}
	return out, nil
}

func baseRow(m eval.Metrics) compareRow {
	row := compareRow{Method: "base (no tuning)", Serving: "-"}
	fillMetrics(&row, m, m)
	return row
}

func fillMetrics(row *compareRow, m, base eval.Metrics) {
	if m.Validation != nil {
		row.ValLoss = &m.Validation.Loss
	}
	switch {
	case m.Classification != nil:
		row.Metric, row.MetricValue = "accuracy", &m.Classification.Accuracy
	case m.ExactMatch != nil:
		row.Metric, row.MetricValue = "exact match", &m.ExactMatch.ExactMatch
	}
	if m.Reference != nil && base.Reference != nil {
		f := eval.NewForgetting(*base.Reference, *m.Reference, eval.DefaultRules())
		row.Forgetting = &f.RelativeChange
	}
}

// measureMethod scores the trained result in dir and reads its training
// log and file sizes.
func measureMethod(ctx context.Context, rs runSpec, dir string, sets eval.Sets, opts eval.Options, base eval.Metrics) (compareRow, error) {
	row := compareRow{Method: rs.Tune.Method, LR: rs.Train.LR, Serving: tune.Serving(rs.Tune.Method)}
	m, err := model.Load(rs.Base, nil)
	if err != nil {
		return row, err
	}
	file := lora.WeightsFile
	if rs.Tune.Method == tune.Full || rs.Tune.Method == tune.LastK {
		file = "model.safetensors"
		if m, err = model.Load(dir, nil); err != nil {
			return row, err
		}
		tuned, err := tune.Setup(m, rs.Tune, rs.Train.Seed) // to count what was trained
		if err != nil {
			return row, err
		}
		row.Trainable = tuned.NumTrainable()
	} else {
		a, err := tune.LoadAdapter(dir, m)
		if err != nil {
			return row, err
		}
		for _, p := range a.Params() {
			row.Trainable += len(p.Data)
		}
	}
	st, err := os.Stat(filepath.Join(dir, file))
	if err != nil {
		return row, err
	}
	row.SizeBytes = st.Size()
	metrics, err := eval.Measure(ctx, m, sets, opts)
	if err != nil {
		return row, err
	}
	fillMetrics(&row, metrics, base)

	input, targets, seconds, err := readLogTotals(filepath.Join(dir, logFile))
	if err != nil {
		return row, err
	}
	row.TrainSeconds = seconds
	if seconds > 0 {
		row.TokensPerSec = float64(input) / seconds
		row.TargetPerSec = float64(targets) / seconds
	}
	chunks := int(math.Ceil(seconds / compareChunkSeconds))
	cost, err := eval.EstimateCost(eval.Usage{Arch: eval.X86_64, LambdaMemoryMB: compareLambdaMB, LambdaSeconds: seconds,
		LambdaInvocations: chunks, StateTransitions: chunks * compareTransitionsPerC}, eval.DefaultPrices())
	if err != nil {
		return row, err
	}
	row.LambdaUSD = cost.Total
	return row, nil
}

// readLogTotals sums the input and target tokens of train_log.jsonl and
// returns the elapsed training time of its last line.
func readLogTotals(path string) (input, targets int, seconds float64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for sc.Scan() {
		var l train.LogLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return 0, 0, 0, fmt.Errorf("%s: %w", path, err)
		}
		input += l.Input
		targets += l.Tokens
		seconds = l.ElapsedSec
	}
	return input, targets, seconds, sc.Err()
}

// compareTable renders the rows as a Markdown table with its settings.
func compareTable(rows []compareRow, c train.Config, arch string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Fine-tuning methods on %s: %d steps of %d sequences (≤ %d tokens), seed %d.\n\n", arch, c.Steps, c.BatchSize, c.SeqLen, c.Seed)
	b.WriteString("| method | lr | trainable params | size on disk | val loss | task metric | forgetting | tokens/s | est. Lambda cost | serving |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	opt := func(v *float64, f string) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf(f, *v)
	}
	for _, r := range rows {
		metric := "-"
		if r.MetricValue != nil {
			metric = fmt.Sprintf("%s %.3f", r.Metric, *r.MetricValue)
		}
		lr, trainable, size, speed, cost := "-", "-", "-", "-", "-"
		if r.LR > 0 {
			lr, trainable, size = fmt.Sprintf("%g", r.LR), fmt.Sprint(r.Trainable), humanBytes(r.SizeBytes)
			speed, cost = fmt.Sprintf("%.0f", r.TokensPerSec), fmt.Sprintf("$%.6f", r.LambdaUSD)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Method, lr, trainable, size,
			opt(r.ValLoss, "%.4f"), metric, forgetting(r.Forgetting), speed, cost, r.Serving)
	}
	fmt.Fprintf(&b, "\nForgetting is the relative change of perplexity on the general text against the base model. "+
		"Tokens/s is this machine's training speed in input tokens; the Lambda cost prices that training time at %d MB (x86_64, list prices, %d-second chunks).\n",
		compareLambdaMB, compareChunkSeconds)
	return b.String()
}

func forgetting(f *float64) string {
	if f == nil {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", 100**f)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
