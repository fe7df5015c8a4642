package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/lorafn/lorafn/core/data"
	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/peft/lora"
	"github.com/lorafn/lorafn/core/peft/prefix"
	"github.com/lorafn/lorafn/core/peft/prompt"
	"github.com/lorafn/lorafn/core/train"
	"github.com/lorafn/lorafn/core/tune"
	"github.com/lorafn/lorafn/internal/atomicfile"
)

// Files of a training output folder, beside the adapter (or model) files.
const (
	runFile         = "run.json"        // everything needed to resume
	logFile         = "train_log.jsonl" // one line per optimizer step
	checkpointsDir  = "checkpoints"     // step-N/ folders and the LATEST pointer
	latestFile      = "LATEST"
	keepCheckpoints = 2
)

// runSpec is a training run as the command line described it; it is saved
// as run.json so --resume needs nothing else.
type runSpec struct {
	Base    string `json:"base"`
	Data    string `json:"data"`
	ValData string `json:"val_data,omitempty"`
	// ValFraction holds out that fraction of a raw dataset for validation
	// when no --val-data is given.
	ValFraction float64      `json:"val_fraction,omitempty"`
	Tune        tune.Spec    `json:"tune"`
	Train       train.Config `json:"train"`
}

func runTrain(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("train", stdout)
	var rs runSpec
	rs.Train = train.DefaultConfig()
	rs.Tune.LoRA = lora.DefaultConfig()
	rs.Tune.LoRA.Alpha = 16
	out := fs.String("out", "", "output folder: the adapter (or model), train_log.jsonl, checkpoints/")
	resume := fs.String("resume", "", "continue the run in this output folder from its latest checkpoint")
	fs.StringVar(&rs.Base, "base", "", "Hugging Face model folder to fine-tune")
	fs.StringVar(&rs.Data, "data", "", "training data: a JSONL/CSV dataset in any format 'lorafn prep' reads (tokenized with the base model's tokenizer), or a folder written by 'lorafn prep'")
	fs.Float64Var(&rs.ValFraction, "val-fraction", 0, "hold out this fraction of a raw --data file for validation (when no --val-data)")
	fs.StringVar(&rs.ValData, "val-data", "", "validation data, in the same forms as --data")
	fs.StringVar(&rs.Tune.Method, "method", tune.LoRA, strings.Join(tune.Methods(), ", ")+" (dora: LoRA with DoRA's magnitude; takes the LoRA flags)")
	fs.IntVar(&rs.Tune.LoRA.R, "r", 8, "LoRA rank")
	fs.Float64Var(&rs.Tune.LoRA.Alpha, "alpha", 16, "LoRA alpha (scaling alpha/r, or alpha/sqrt(r) with --rslora)")
	fs.Float64Var(&rs.Tune.LoRA.Dropout, "dropout", 0.05, "LoRA dropout")
	targets := fs.String("targets", "", `LoRA target modules: "q_proj,v_proj", "all-linear" or "re:REGEX" (default: the family's, as PEFT)`)
	fs.BoolVar(&rs.Tune.LoRA.UseRSLoRA, "rslora", false, "rank-stabilised LoRA scaling")
	fs.StringVar(&rs.Tune.LoRA.Init, "init", "true", `LoRA A initialisation: "true" (PEFT's default) or "gaussian"`)
	fs.StringVar(&rs.Tune.InitAdapter, "init-adapter", "", "start from this PEFT LoRA adapter folder")
	fs.Float64Var(&rs.Tune.LoRAPlusRatio, "loraplus-ratio", 0, "LoRA+: learning rate of B is this times --lr (0: off)")
	ia3Targets := fs.String("ia3-targets", "", `ia3: target modules (default: PEFT's, "k_proj,v_proj,down_proj" or "c_attn,mlp.c_proj" for GPT-2)`)
	ia3FF := fs.String("ia3-feedforward", "", "ia3: the targets whose input (not output) is scaled (default: PEFT's, down_proj or mlp.c_proj)")
	virtual := fs.Int("num-virtual-tokens", 20, "prompt, prefix: the number of virtual tokens")
	fs.StringVar(&rs.Tune.Prefix.InitWeights, "prefix-init", "", `prefix: "" (N(0,1), PEFT's default) or "zero"`)
	fs.StringVar(&rs.Tune.Prompt.Init, "prompt-init", "random", "prompt: initialisation, random (N(0,1)) or text (embeddings of --prompt-init-text)")
	fs.StringVar(&rs.Tune.Prompt.InitText, "prompt-init-text", "", "prompt: the text whose token embeddings start the virtual tokens")
	fs.IntVar(&rs.Tune.LastK, "last-k", 2, "last-k: the number of top layers to train")
	fs.BoolVar(&rs.Tune.TrainHead, "train-head", false, "last-k: also train the output head")
	fs.BoolVar(&rs.Tune.TrainNorm, "train-norm", false, "last-k: also train the final norm")
	c := &rs.Train
	fs.Float64Var(&c.LR, "lr", c.LR, "peak learning rate")
	fs.StringVar(&c.Schedule, "schedule", c.Schedule, "learning-rate schedule: constant, constant_with_warmup, linear or cosine")
	fs.IntVar(&c.WarmupSteps, "warmup", 0, "warmup steps")
	fs.Float64Var(&c.WeightDecay, "weight-decay", 0, "decoupled weight decay of matrices")
	fs.Float64Var(&c.MaxGradNorm, "clip", c.MaxGradNorm, "clip the global gradient norm to this (0: off)")
	fs.IntVar(&c.Steps, "steps", 0, "optimizer steps (0: from --epochs)")
	fs.Float64Var(&c.Epochs, "epochs", c.Epochs, "passes over the training data when --steps is 0")
	fs.IntVar(&c.BatchSize, "batch-size", c.BatchSize, "sequences per micro-batch")
	fs.IntVar(&c.GradAccum, "grad-accum", 1, "micro-batches per optimizer step")
	fs.IntVar(&c.SeqLen, "seq-len", c.SeqLen, "cut longer sequences to this many tokens")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed of the data order, dropout and adapter initialisation")
	noShuffle := fs.Bool("no-shuffle", false, "train on the examples in file order")
	fs.IntVar(&c.EvalSteps, "eval-steps", 0, "evaluate the validation data every N steps (always at the end)")
	fs.IntVar(&c.EarlyStoppingPatience, "early-stopping", 0, "stop after N evaluations without improvement (0: off)")
	fs.BoolVar(&c.Recompute, "recompute", false, "recompute activations in the backward pass to save memory")
	saveSteps := fs.Int("save-steps", 100, "write a checkpoint every N steps (and when interrupted)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *resume != "" {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name := range set {
			if name != "resume" && name != "save-steps" && name != "recompute" {
				return usageError{fmt.Sprintf("--%s cannot be combined with --resume: the run's settings are in %s", name, filepath.Join(*resume, runFile))}
			}
		}
		return resumeTrain(ctx, *resume, *saveSteps, c.Recompute, stdout)
	}
	for _, f := range []struct{ name, v string }{{"base", rs.Base}, {"data", rs.Data}, {"out", *out}} {
		if err := required(f.name, f.v); err != nil {
			return err
		}
	}
	c.Shuffle = !*noShuffle
	if *targets != "" {
		rs.Tune.LoRA.TargetModules = lora.ParseTargets(*targets)
	}
	rs.Tune.Prompt.Init = strings.ToUpper(rs.Tune.Prompt.Init)
	if rs.Tune.Prompt.Init == "TEXT" {
		rs.Tune.Prompt.TokenizerName = rs.Base
	}
	rs.Tune.Prompt.NumVirtualTokens, rs.Tune.Prefix.NumVirtualTokens = *virtual, *virtual
	if rs.Tune.Method != tune.Prompt { // keep run.json to the method's options
		rs.Tune.Prompt = prompt.Config{}
	}
	if rs.Tune.Method != tune.Prefix {
		rs.Tune.Prefix = prefix.Config{}
	}
	if *ia3Targets != "" {
		rs.Tune.IA3.TargetModules = lora.ParseTargets(*ia3Targets)
		rs.Tune.IA3.FeedforwardModules = lora.ParseTargets(*ia3FF)
	} else if *ia3FF != "" {
		return usageError{"--ia3-feedforward needs --ia3-targets"}
	}
	if err := c.Validate(); err != nil {
		return usageError{err.Error()}
	}
	if entries, err := os.ReadDir(*out); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty; choose a new --out, or continue it with --resume %s", *out, *out)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	spec, err := json.MarshalIndent(rs, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(*out, runFile), append(spec, '\n')); err != nil {
		return err
	}
	return trainRun(ctx, rs, *out, "", *saveSteps, stdout)
}

// resumeTrain continues the run in out from its latest checkpoint.
func resumeTrain(ctx context.Context, out string, saveSteps int, recompute bool, stdout io.Writer) error {
	raw, err := os.ReadFile(filepath.Join(out, runFile))
	if err != nil {
		return err
	}
	var rs runSpec
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rs); err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(out, runFile), err)
	}
	rs.Train.Recompute = recompute
	latest, err := os.ReadFile(filepath.Join(out, checkpointsDir, latestFile))
	if err != nil {
		return fmt.Errorf("no checkpoint to resume from: %w", err)
	}
	ck := filepath.Join(out, checkpointsDir, strings.TrimSpace(string(latest)))
	return trainRun(ctx, rs, out, ck, saveSteps, stdout)
}

// trainRun sets the run up, restores checkpoint ck if given, trains to the
// end (or until interrupted, saving a checkpoint) and saves the result.
func trainRun(ctx context.Context, rs runSpec, out, ck string, saveSteps int, stdout io.Writer) error {
	m, err := model.Load(rs.Base, nil)
	if err != nil {
		return err
	}
	dataDir, err := prepared(ctx, rs.Base, rs.Data, filepath.Join(out, "prep", "train"), rs.Train.SeqLen, rs.ValFraction, stdout)
	if err != nil {
		return err
	}
	trainSet, closeTrain, err := openDataset(dataDir, data.TrainDir)
	if err != nil {
		return err
	}
	defer closeTrain()
	var valSet train.Dataset
	switch {
	case rs.ValData != "":
		valDir, err := prepared(ctx, rs.Base, rs.ValData, filepath.Join(out, "prep", "validation"), rs.Train.SeqLen, 0, stdout)
		if err != nil {
			return err
		}
		v, closeVal, err := openDataset(valDir, data.TrainDir)
		if err != nil {
			return err
		}
		defer closeVal()
		valSet = v
	default:
		// A prepared folder may hold its own validation split.
		if v, closeVal, err := openDataset(filepath.Join(dataDir, data.ValidationDir), ""); err == nil && v.Len() > 0 {
			defer closeVal()
			valSet = v
		}
	}
	tuned, err := tune.Setup(m, rs.Tune, rs.Train.Seed)
	if err != nil {
		return err
	}
	tuned.BaseDir = rs.Base
	tr, err := train.New(m, tuned.Groups(), trainSet, valSet, rs.Train)
	if err != nil {
		return err
	}
	if ck != "" {
		if err := tr.Load(ck); err != nil {
			return err
		}
	}
	log, err := openTrainLog(filepath.Join(out, logFile), tr.State.Step)
	if err != nil {
		return err
	}
	defer log.Close()

	total := tr.TotalSteps()
	fmt.Fprintf(stdout, "lorafn train: %s on %s, %d trainable of %d parameters, %d examples, %d steps from step %d\n",
		rs.Tune.Method, filepath.Base(filepath.Clean(rs.Base)), tuned.NumTrainable(), m.NumParams(), trainSet.Len(), total, tr.State.Step)
	prog := newProgress(stdout, total, tr.State.Step)
	save := func() error {
		if err := saveCheckpoint(out, tr); err != nil {
			return err
		}
		prog.note(fmt.Sprintf("checkpoint step-%d", tr.State.Step))
		return nil
	}
	_, runErr := tr.RunUntil(ctx, train.Budget{}, func(l train.StepLog) error {
		line := prog.step(l)
		if err := log.write(line); err != nil {
			return err
		}
		if saveSteps > 0 && l.Step%saveSteps == 0 && !tr.Done() {
			return save()
		}
		return nil
	})
	prog.finish()
	if runErr != nil {
		if errors.Is(runErr, context.Canceled) && tr.State.Step > 0 {
			if err := save(); err != nil {
				return errors.Join(runErr, err)
			}
			fmt.Fprintf(stdout, "interrupted at step %d; continue with: lorafn train --resume %s\n", tr.State.Step, out)
		}
		return runErr
	}
	if err := save(); err != nil {
		return err
	}
	if err := tuned.Save(out); err != nil {
		return err
	}
	what := "adapter"
	if tuned.PEFT == nil {
		what = "model"
	} else if err := tuned.WriteCard(out, filepath.Base(filepath.Clean(rs.Base))); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s written to %s (%d steps, %d target tokens", what, out, tr.State.Step, tr.State.Tokens)
	if tr.State.Evals > 0 {
		fmt.Fprintf(stdout, ", best validation loss %.4f", tr.State.BestValLoss)
	}
	if tr.State.EarlyStop {
		fmt.Fprint(stdout, ", stopped early")
	}
	fmt.Fprintln(stdout, ")")
	fmt.Fprintf(stdout, "serving: %s\n", tune.Serving(tuned.Method()))
	return nil
}

// saveCheckpoint writes checkpoints/step-N, then moves LATEST to it, then
// removes all but the newest keepCheckpoints.
func saveCheckpoint(out string, tr *train.Trainer) error {
	root := filepath.Join(out, checkpointsDir)
	name := fmt.Sprintf("step-%d", tr.State.Step)
	if err := tr.Save(filepath.Join(root, name)); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(root, latestFile), []byte(name+"\n")); err != nil {
		return err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	var steps []int
	for _, e := range entries {
		if n, ok := strings.CutPrefix(e.Name(), "step-"); ok && e.IsDir() {
			if s, err := strconv.Atoi(n); err == nil && s < tr.State.Step {
				steps = append(steps, s)
			}
		}
	}
	for len(steps) >= keepCheckpoints {
		oldest := 0
		for i, s := range steps {
			if s < steps[oldest] {
				oldest = i
			}
		}
		if err := os.RemoveAll(filepath.Join(root, fmt.Sprintf("step-%d", steps[oldest]))); err != nil {
			return err
		}
		steps = append(steps[:oldest], steps[oldest+1:]...)
	}
	return nil
}

// prepared returns a folder of prepared shards for path: path itself when
// it is one; otherwise path is a dataset file, prepared into dir with the
// base model's tokenizer (once: a resumed run finds dir complete). A file
// of pre-tokenized records is used as it is when the base model has no
// tokenizer.json.
func prepared(ctx context.Context, base, path, dir string, maxLen int, valFraction float64, stdout io.Writer) (string, error) {
	if st, err := os.Stat(path); err != nil || st.IsDir() {
		return path, err
	}
	if _, err := os.Stat(filepath.Join(base, "tokenizer.json")); errors.Is(err, os.ErrNotExist) {
		return path, nil // pre-tokenized records; openDataset reads them
	}
	if _, err := os.Stat(filepath.Join(dir, data.StatsName)); err == nil {
		return dir, nil
	}
	tok, err := loadTokenizer(base)
	if err != nil {
		return "", err
	}
	tc, tcPath, err := tokenizerConfig(base)
	if err != nil {
		return "", err
	}
	opts := data.Options{MaxLen: maxLen, ValFraction: valFraction, EOS: tc.EOSToken}
	if opts.Chat, err = chooseChat("auto", tc, tcPath); err != nil {
		return "", err
	}
	src, closer, err := data.OpenFile(path)
	if err != nil {
		return "", err
	}
	defer closer.Close()
	stats, err := data.Prepare(ctx, src, tok, dir, opts)
	if stats != nil {
		printPrepSummary(stdout, stats)
	}
	if err != nil {
		return "", err
	}
	return dir, nil
}

// openDataset opens prepared shards (a folder holding sub, or shards
// directly) or a JSONL file of pre-tokenized records.
func openDataset(path, sub string) (train.Dataset, func(), error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, nil, err
	}
	if st.IsDir() {
		dir := path
		if sub != "" {
			if _, err := os.Stat(filepath.Join(path, sub)); err == nil {
				dir = filepath.Join(path, sub)
			}
		}
		s, err := data.OpenShards(dir)
		if err != nil {
			return nil, nil, err
		}
		return shardSet{s}, func() { s.Close() }, nil
	}
	records, err := readTokenRecords(path)
	if err != nil {
		return nil, nil, err
	}
	exs := make(train.Examples, len(records))
	for i, r := range records {
		exs[i] = train.Example{IDs: r.InputIDs, Labels: r.Labels}
	}
	return exs, func() {}, nil
}

// shardSet adapts prepared shards to the trainer.
type shardSet struct{ s *data.Shards }

func (d shardSet) Len() int { return d.s.Len() }

func (d shardSet) Example(i int) (train.Example, error) {
	ex, err := d.s.Example(i)
	return train.Example{IDs: ex.IDs, Labels: ex.Labels}, err
}

// trainLog appends step lines to train_log.jsonl.
type trainLog struct{ f *os.File }

// openTrainLog opens the log for appending after dropping the lines of
// steps beyond step, which a resumed run does again.
func openTrainLog(path string, step int) (*trainLog, error) {
	var keep []byte
	if old, err := os.ReadFile(path); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(old))
		sc.Buffer(make([]byte, 1<<16), 1<<24)
		for sc.Scan() {
			var l struct{ Step int }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Step <= step {
				keep = append(append(keep, sc.Bytes()...), '\n')
			}
		}
	}
	if err := atomicfile.WriteFile(path, keep); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &trainLog{f}, nil
}

func (l *trainLog) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = l.f.Write(append(b, '\n'))
	return err
}

func (l *trainLog) Close() error { return l.f.Close() }

// progress shows training progress: a bar redrawn in place on a terminal,
// plain lines otherwise.
type progress struct {
	w         io.Writer
	tty       bool
	total     int
	start     time.Time
	last      time.Time
	firstStep int
	tokens    int
	lastPrint time.Time
}

func newProgress(w io.Writer, total, from int) *progress {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	now := time.Now()
	return &progress{w: w, tty: tty, total: total, start: now, last: now, firstStep: from}
}

func (p *progress) step(l train.StepLog) train.LogLine {
	now := time.Now()
	dt := now.Sub(p.last).Seconds()
	p.last = now
	p.tokens += l.Input
	line := train.LogLine{StepLog: l, ElapsedSec: now.Sub(p.start).Seconds()}
	if dt > 0 {
		line.TokensPerSec = float64(l.Input) / dt
	}
	done := l.Step - p.firstStep
	rate := float64(p.tokens) / now.Sub(p.start).Seconds()
	eta := time.Duration(float64(now.Sub(p.start)) / float64(done) * float64(p.total-l.Step)).Round(time.Second)
	val := ""
	if l.ValLoss != nil {
		val = fmt.Sprintf(" val %.4f", *l.ValLoss)
	}
	msg := fmt.Sprintf("step %d/%d loss %.4f lr %.3g grad %.3g %.0f tok/s%s ETA %s", l.Step, p.total, l.Loss, l.LR, l.GradNorm, rate, val, eta)
	switch {
	case p.tty:
		const width = 24
		filled := width * l.Step / max(1, p.total)
		fmt.Fprintf(p.w, "\r[%s%s] %s\x1b[K", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), msg)
		if l.ValLoss != nil {
			fmt.Fprintln(p.w)
		}
	case l.ValLoss != nil || l.Step == p.total || now.Sub(p.lastPrint) >= 10*time.Second || done <= 1:
		fmt.Fprintln(p.w, msg)
		p.lastPrint = now
	}
	return line
}

func (p *progress) note(s string) {
	if p.tty {
		fmt.Fprintf(p.w, "\r%s\x1b[K\n", s)
		return
	}
	fmt.Fprintln(p.w, s)
}

func (p *progress) finish() {
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
