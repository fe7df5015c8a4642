// Package batch holds the AWS Batch side of lorafn: the PyTorch trainer
// (trainer/) that continues runs on a GPU, and its container image. These
// tests check on CPU that the PyTorch trainer is lorafn's trainer: it
// matches the Go trainer step for step, and each continues the other's
// checkpoints through the real S3 layout.
package batch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/lorafn/lorafn/core/data"
	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/peft/lora"
	"github.com/lorafn/lorafn/core/safetensors"
	"github.com/lorafn/lorafn/core/train"
	"github.com/lorafn/lorafn/functions/blob"
	"github.com/lorafn/lorafn/functions/runs"
	"github.com/lorafn/lorafn/functions/trainchunk"
	"github.com/lorafn/lorafn/internal/torchref"
)

// Tiny models covering the arithmetic the trainer must reproduce: GQA,
// Llama-3 RoPE scaling and tied embeddings; Qwen2's q/k/v biases; GPT-2.
const (
	tinyLlama = `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 61,
	"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
	"num_key_value_heads": 2, "head_dim": 8, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
	"rope_theta": 500000.0, "tie_word_embeddings": true, "hidden_act": "silu",
	"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
	"high_freq_factor": 4.0, "original_max_position_embeddings": 16}}`
	tinyQwen2 = `{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 61,
	"hidden_size": 32, "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4,
	"num_key_value_heads": 1, "max_position_embeddings": 64, "rms_norm_eps": 1e-6,
	"rope_theta": 10000.0, "tie_word_embeddings": false, "hidden_act": "silu"}`
	tinyGPT2 = `{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 61,
	"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 32, "n_ctx": 32,
	"activation_function": "gelu_new", "layer_norm_epsilon": 1e-5}`
)

const runID = "testrun"

// examples draws n sequences of 3..maxLen tokens; every third has an
// ignored prompt, as prepared prompt/completion data has.
func examples(n, maxLen, vocab int, seed uint64) []data.Example {
	rng := rand.New(rand.NewPCG(seed, 11))
	var out []data.Example
	for i := 0; i < n; i++ {
		l := 3 + rng.IntN(maxLen-2)
		ex := data.Example{IDs: make([]int, l)}
		for j := range ex.IDs {
			ex.IDs[j] = rng.IntN(vocab)
		}
		ex.Labels = slices.Clone(ex.IDs)
		if i%3 == 0 {
			for j := 0; j < l/2; j++ {
				ex.Labels[j] = model.IgnoreIndex
			}
		}
		out = append(out, ex)
	}
	return out
}

// runConfig is a run that exercises every part of a step: accumulation,
// clipping, warmup and decay, weight decay, LoRA dropout, rsLoRA, LoRA+,
// evaluation with early stopping.
func runConfig(steps int) runs.Config {
	c := runs.DefaultConfig()
	c.Name = "compat"
	c.BaseModel = "models/tiny/"
	c.Method.LoRA.R = 4
	c.Method.LoRA.Alpha = 8
	c.Method.LoRA.Dropout = 0.1
	c.Method.LoRA.UseRSLoRA = true
	c.Method.LoRA.TargetModules = lora.ParseTargets("all-linear")
	c.Method.LoRAPlusRatio = 4
	t := &c.Training
	t.LR, t.Schedule, t.WarmupSteps, t.WeightDecay, t.MaxGradNorm = 3e-3, train.Cosine, 1, 0.01, 0.5
	t.BatchSize, t.GradAccum, t.SeqLen, t.Steps, t.Seed = 3, 2, 20, steps, 7
	t.EvalSteps, t.EarlyStoppingPatience = 2, 5
	return c
}

// newStore lays a run out in a folder as in the bucket: the base model,
// the prepared shards, the plan and the manifest.
func newStore(t *testing.T, modelConfig string, cfg runs.Config) string {
	t.Helper()
	root := t.TempDir()
	c, err := model.ParseConfig("config.json", []byte(modelConfig))
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(c, nil)
	m.InitRandom(1, 0.2)
	if err := m.Save(filepath.Join(root, "models", "tiny")); err != nil {
		t.Fatal(err)
	}
	r := runs.Run(runID)
	prep := filepath.Join(root, filepath.FromSlash(r.Prep()))
	for _, split := range []struct {
		dir  string
		exs  []data.Example
		size int64
	}{
		{data.TrainDir, examples(23, 24, c.VocabSize, 1), 150}, // several shard files
		{data.ValidationDir, examples(5, 16, c.VocabSize, 2), 0},
	} {
		w, err := data.NewShardWriter(filepath.Join(prep, split.dir), split.size)
		if err != nil {
			t.Fatal(err)
		}
		for _, ex := range split.exs {
			if err := w.Add(ex); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	writeJSON(t, filepath.Join(root, filepath.FromSlash(r.Plan())), runs.Plan{Backend: "batch", Reason: "test"})
	writeJSON(t, filepath.Join(root, filepath.FromSlash(r.Manifest())), runs.Manifest{RunID: runID, BaseETag: "tiny", Config: cfg, State: "training"})
	return root
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// goChunk runs one Lambda training chunk (the manifest's chunk.max_steps
// bounds it) on the store.
func goChunk(t *testing.T, root string) trainchunk.Out {
	t.Helper()
	h := &trainchunk.Handler{Store: &blob.Dir{Root: root}, CacheDir: t.TempDir()}
	out, err := h.Handle(context.Background(), trainchunk.In{RunID: runID})
	if err != nil {
		t.Fatalf("Go chunk: %v", err)
	}
	return out
}

// pyTrain runs the PyTorch trainer on the store; steps 0 trains to the end.
func pyTrain(t *testing.T, root string, steps int) string {
	t.Helper()
	cmd := exec.Command(torchref.Python(t), "-m", "trainer", "--run-id", runID, "--store", root,
		"--device", "cpu", "--max-steps", fmt.Sprint(steps))
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python -m trainer: %v\n%s", err, out)
	}
	return string(out)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tensors reads every tensor of a safetensors file.
func tensors(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float32{}
	for _, name := range f.Names() {
		if out[name], err = f.Float32(name); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// relDiff compares two sets of tensors: for each tensor the relative error
// in the L2 norm, ‖got−want‖/‖want‖, and in the max norm,
// max|got−want|/max|want|; it returns the worst of each over the tensors.
// AdamW divides every gradient element by its own running magnitude, so an
// element whose gradient is a cancellation of larger terms carries float32
// rounding noise of 1e-4 relative into its update; the L2 norm weighs such
// elements by their size, the max norm shows the worst of them.
func relDiff(t *testing.T, got, want map[string][]float32) (l2, maxNorm float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d tensors, want %d", len(got), len(want))
	}
	for name, w := range want {
		g, ok := got[name]
		if !ok || len(g) != len(w) {
			t.Fatalf("tensor %s missing or of another size", name)
		}
		var d2, w2, dm, wm float64
		for i := range w {
			d := math.Abs(float64(g[i]) - float64(w[i]))
			d2, w2 = d2+d*d, w2+float64(w[i])*float64(w[i])
			dm, wm = max(dm, d), max(wm, math.Abs(float64(w[i])))
		}
		if wm == 0 {
			w2, wm = 1, 1
		}
		l2, maxNorm = max(l2, math.Sqrt(d2/w2)), max(maxNorm, dm/wm)
	}
	return l2, maxNorm
}

func storePath(root, key string) string { return filepath.Join(root, filepath.FromSlash(key)) }

type state struct {
	Step        int     `json:"step"`
	Tokens      int64   `json:"tokens"`
	Evals       int     `json:"evals"`
	BestValLoss float64 `json:"best_val_loss"`
	BadEvals    int     `json:"bad_evals"`
	EarlyStop   bool    `json:"early_stopped"`
}

// finalState returns the state of the checkpoint LATEST points at.
func finalState(t *testing.T, root string) state {
	t.Helper()
	r := runs.Run(runID)
	name := strings.TrimSpace(string(readFile(t, storePath(root, r.Latest()))))
	var sf struct {
		State state `json:"state"`
	}
	if err := json.Unmarshal(readFile(t, storePath(root, r.Checkpoints()+name+"/"+train.StateFile)), &sf); err != nil {
		t.Fatal(err)
	}
	return sf.State
}

// TestFiveStepsMatchGo: five AdamW steps of the PyTorch trainer give the Go
// trainer's adapter and moments within 1e-5 relative, and its adapter files
// are the Go trainer's byte for byte apart from the float values.
func TestFiveStepsMatchGo(t *testing.T) {
	t.Parallel()
	torchref.Python(t)
	for _, mc := range []struct{ name, config string }{{"llama", tinyLlama}, {"qwen2", tinyQwen2}, {"gpt2", tinyGPT2}} {
		t.Run(mc.name, func(t *testing.T) {
			t.Parallel()
			cfg := runConfig(5)
			if mc.name == "gpt2" {
				cfg.Method.LoRA.TargetModules = lora.Targets{} // PEFT's default, c_attn
				cfg.Method.LoRAPlusRatio = 0
			}
			goRoot, pyRoot := newStore(t, mc.config, cfg), newStore(t, mc.config, cfg)
			if out := goChunk(t, goRoot); !out.Done || out.Step != 5 {
				t.Fatalf("Go chunk: %+v, want done at step 5", out)
			}
			pyTrain(t, pyRoot, 0)
			r := runs.Run(runID)
			for _, file := range []string{train.ParamsFile, train.OptimizerFile} {
				key := r.Checkpoint(5) + file
				l2, mx := relDiff(t, tensors(t, storePath(pyRoot, key)), tensors(t, storePath(goRoot, key)))
				t.Logf("%s after 5 steps: relative difference %.2g (L2), %.2g (max)", file, l2, mx)
				if l2 > 1e-5 || mx > 2e-4 {
					t.Errorf("%s: PyTorch and Go differ by %.3g relative (L2) and %.3g (max), want ≤ 1e-5 and ≤ 2e-4", file, l2, mx)
				}
			}
			goAdapter, pyAdapter := storePath(goRoot, r.Result()), storePath(pyRoot, r.Result())
			if l2, _ := relDiff(t, tensors(t, filepath.Join(pyAdapter, lora.WeightsFile)), tensors(t, filepath.Join(goAdapter, lora.WeightsFile))); l2 > 1e-5 {
				t.Errorf("result adapter differs by %.3g relative (L2)", l2)
			}
			if g, p := readFile(t, filepath.Join(goAdapter, lora.ConfigFile)), readFile(t, filepath.Join(pyAdapter, lora.ConfigFile)); !bytes.Equal(g, p) {
				t.Errorf("adapter_config.json differs:\nGo:\n%s\nPyTorch:\n%s", g, p)
			}
			for _, file := range []string{r.Result() + lora.WeightsFile, r.Checkpoint(5) + train.ParamsFile, r.Checkpoint(5) + train.OptimizerFile} {
				if g, p := header(t, storePath(goRoot, file)), header(t, storePath(pyRoot, file)); !bytes.Equal(g, p) {
					t.Errorf("%s: safetensors header differs:\nGo:      %s\nPyTorch: %s", file, g, p)
				}
			}
			gs, ps := finalState(t, goRoot), finalState(t, pyRoot)
			if gs.Step != ps.Step || gs.Tokens != ps.Tokens || gs.Evals != ps.Evals || gs.BadEvals != ps.BadEvals ||
				math.Abs(gs.BestValLoss-ps.BestValLoss) > 1e-5*math.Abs(gs.BestValLoss) {
				t.Errorf("trainer state: Go %+v, PyTorch %+v", gs, ps)
			}
			// The identity and the state file's layout are the Go trainer's:
			// only best_val_loss may differ, in its last digits.
			if g, p := stateWithoutLoss(t, goRoot), stateWithoutLoss(t, pyRoot); g != p {
				t.Errorf("trainer_state.json differs beyond best_val_loss:\nGo:\n%s\nPyTorch:\n%s", g, p)
			}
		})
	}
}

// header returns a safetensors file's header bytes.
func header(t *testing.T, path string) []byte {
	t.Helper()
	b := readFile(t, path)
	n := binary.LittleEndian.Uint64(b)
	return b[:8+n]
}

func stateWithoutLoss(t *testing.T, root string) string {
	t.Helper()
	r := runs.Run(runID)
	name := strings.TrimSpace(string(readFile(t, storePath(root, r.Latest()))))
	lines := strings.Split(string(readFile(t, storePath(root, r.Checkpoints()+name+"/"+train.StateFile))), "\n")
	for i, l := range lines {
		if strings.Contains(l, `"best_val_loss"`) {
			lines[i] = "best_val_loss"
		}
	}
	return strings.Join(lines, "\n")
}

// TestResumeAcrossTrainers: N Go steps then N PyTorch steps, and N PyTorch
// steps then N Go steps, each continuing the other's checkpoint through
// LATEST, end where a 2N-step Go run ends, within float32 tolerance.
func TestResumeAcrossTrainers(t *testing.T) {
	t.Parallel()
	torchref.Python(t)
	const n = 4
	cfg := runConfig(2 * n)
	ref := newStore(t, tinyLlama, cfg)
	if out := goChunk(t, ref); !out.Done || out.Step != 2*n {
		t.Fatalf("Go reference: %+v, want done at step %d", out, 2*n)
	}
	cfg.Chunk.MaxSteps = n
	goPy, pyGo := newStore(t, tinyLlama, cfg), newStore(t, tinyLlama, cfg)

	if out := goChunk(t, goPy); out.Done || out.Step != n {
		t.Fatalf("Go chunk: %+v, want step %d", out, n)
	}
	pyTrain(t, goPy, 0)

	pyTrain(t, pyGo, n)
	if s := finalState(t, pyGo); s.Step != n {
		t.Fatalf("PyTorch stopped at step %d, want %d", s.Step, n)
	}
	if out := goChunk(t, pyGo); !out.Done || out.Step != 2*n { // loads the PyTorch checkpoint
		t.Fatalf("Go chunk after PyTorch: %+v, want done at step %d", out, 2*n)
	}

	r := runs.Run(runID)
	want := tensors(t, filepath.Join(storePath(ref, r.Result()), lora.WeightsFile))
	wantState := finalState(t, ref)
	for name, root := range map[string]string{"Go then PyTorch": goPy, "PyTorch then Go": pyGo} {
		l2, mx := relDiff(t, tensors(t, filepath.Join(storePath(root, r.Result()), lora.WeightsFile)), want)
		t.Logf("%s, %d+%d steps: adapter within %.2g (L2), %.2g (max) relative of %d Go steps", name, n, n, l2, mx, 2*n)
		if l2 > 2e-5 || mx > 2e-4 {
			t.Errorf("%s: adapter differs by %.3g (L2) and %.3g (max) relative from the Go run, want ≤ 2e-5 and ≤ 2e-4", name, l2, mx)
		}
		if s := finalState(t, root); s.Step != wantState.Step || s.Tokens != wantState.Tokens || s.Evals != wantState.Evals {
			t.Errorf("%s: state %+v, Go run %+v", name, s, wantState)
		}
	}
}

// TestDataOrderMatchesGo compares the micro-batches of every step, over
// several epochs, with the Go trainer's, for several seeds and shapes.
func TestDataOrderMatchesGo(t *testing.T) {
	t.Parallel()
	py := torchref.Python(t)
	c, err := model.ParseConfig("config.json", []byte(tinyGPT2))
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(c, nil)
	exs := train.Examples{}
	for i, ex := range examples(13, 20, c.VocabSize, 3) {
		e := train.Example{IDs: ex.IDs}
		if i%2 == 0 {
			e.Labels = ex.Labels // some examples without labels
		}
		exs = append(exs, e)
	}
	type batch struct {
		IDs    []int  `json:"ids"`
		Mask   []bool `json:"mask"`
		Labels []int  `json:"labels"`
	}
	type step struct {
		Batches []batch `json:"batches"`
		Tokens  int     `json:"tokens"`
	}
	cases := []struct {
		seed           uint64
		shuffle        bool
		b, g, seq, eps int
	}{{42, true, 3, 2, 12, 4}, {1, true, 4, 1, 20, 3}, {7, true, 1, 3, 13, 2}, {42, false, 5, 1, 16, 2}}
	var ins []map[string]any
	var wants [][]step
	for _, cs := range cases {
		cfg := train.DefaultConfig()
		cfg.Seed, cfg.Shuffle, cfg.BatchSize, cfg.GradAccum, cfg.SeqLen, cfg.Epochs = cs.seed, cs.shuffle, cs.b, cs.g, cs.seq, float64(cs.eps)
		tr, err := train.New(m, []train.Group{{Name: "decay", Params: []*model.Param{{Name: "w", Shape: []int{1}, Data: []float32{0}, Grad: []float32{0}}}}}, exs, nil, cfg)
		if err != nil {
			t.Fatal(err)
		}
		var want []step
		for s := 0; s < tr.TotalSteps(); s++ {
			bs, tokens, err := tr.StepBatches(s)
			if err != nil {
				t.Fatal(err)
			}
			st := step{Tokens: tokens}
			for _, b := range bs {
				st.Batches = append(st.Batches, batch{b.IDs, b.Mask, b.Labels})
			}
			want = append(want, st)
		}
		if len(want) < cs.eps*len(exs)/(cs.b*cs.g) {
			t.Fatalf("only %d steps", len(want))
		}
		ins = append(ins, map[string]any{"examples": exs, "config": cfg, "steps": tr.TotalSteps()})
		wants = append(wants, want)
	}
	dir := t.TempDir()
	writeJSON(t, filepath.Join(dir, "in.json"), ins)
	cmd := exec.Command(py, filepath.Join("testdata", "order.py"), filepath.Join(dir, "in.json"))
	cmd.Env = append(os.Environ(), "PYTHONPATH=.", "OMP_NUM_THREADS=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("order.py: %v", err)
	}
	var gots [][]step
	if err := json.Unmarshal(out, &gots); err != nil {
		t.Fatal(err)
	}
	if len(gots) != len(cases) {
		t.Fatalf("order.py answered %d cases, want %d", len(gots), len(cases))
	}
	for i, cs := range cases {
		wj, _ := json.Marshal(wants[i])
		gj, _ := json.Marshal(gots[i])
		if !bytes.Equal(wj, gj) {
			t.Errorf("seed %d shuffle %v B=%d G=%d: PyTorch's step batches differ from Go's", cs.seed, cs.shuffle, cs.b, cs.g)
		}
	}
}

// TestPythonUnits runs the trainer's own unit tests.
func TestPythonUnits(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(torchref.Python(t), "-m", "unittest", "discover", "-s", "trainer/tests", "-t", ".")
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python unit tests: %v\n%s", err, out)
	}
}

// TestCorruptShardIsNamed: a flipped bit in a prepared example stops the
// PyTorch trainer with an error naming the shard file and the example.
func TestCorruptShardIsNamed(t *testing.T) {
	t.Parallel()
	py := torchref.Python(t)
	root := newStore(t, tinyGPT2, runConfig(2))
	shard := filepath.Join(storePath(root, runs.Run(runID).Prep()), data.TrainDir, "00000.shard")
	b := readFile(t, shard)
	b[16+4] ^= 1 // the second token of the first example
	if err := os.WriteFile(shard, b, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-m", "trainer", "--run-id", runID, "--store", root, "--device", "cpu")
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the trainer accepted a corrupt shard:\n%s", out)
	}
	if !strings.Contains(string(out), "00000.shard: corrupt shard: example 0: checksum mismatch") {
		t.Errorf("error does not name the file and example:\n%s", out)
	}
	if _, err := os.Stat(storePath(root, runs.Run(runID).Latest())); err == nil {
		t.Error("a failed job moved LATEST")
	}
}

// TestSIGTERMCheckpoints: Batch's SIGTERM (a spot reclaim) lets the step
// under way finish, writes its checkpoint, moves LATEST and exits 143, so
// the job's retry resumes there.
func TestSIGTERMCheckpoints(t *testing.T) {
	t.Parallel()
	py := torchref.Python(t)
	const total = 1000
	root := newStore(t, tinyGPT2, runConfig(total))
	cmd := exec.Command(py, "-m", "trainer", "--run-id", runID, "--store", root, "--device", "cpu")
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1", "PYTHONUNBUFFERED=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && !strings.HasPrefix(lines.Text(), `{"step": 3,`) {
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
	}
	err = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 143 {
		t.Fatalf("exit code %d (%v), want 143\n%s", code, err, stderr.String())
	}
	s := finalState(t, root)
	if s.Step < 3 || s.Step >= total {
		t.Fatalf("LATEST at step %d, want a step in [3, %d)", s.Step, total)
	}
	if _, err := os.Stat(storePath(root, runs.Run(runID).Result())); err == nil {
		t.Error("an interrupted job wrote the result")
	}
	var st runs.Status
	if err := json.Unmarshal(readFile(t, storePath(root, runs.Run(runID).Status())), &st); err != nil {
		t.Fatal(err)
	}
	if st.Done || st.Step != s.Step || st.TotalSteps != total {
		t.Errorf("status.json %+v, want step %d of %d, not done", st, s.Step, total)
	}
}

// TestRefusesAnotherRunsCheckpoint: a checkpoint whose identity differs
// from the run's (here the learning rate) is refused, naming the field.
func TestRefusesAnotherRunsCheckpoint(t *testing.T) {
	t.Parallel()
	py := torchref.Python(t)
	cfg := runConfig(4)
	cfg.Chunk.MaxSteps = 2
	root := newStore(t, tinyGPT2, cfg)
	goChunk(t, root)
	cfg.Training.LR *= 2
	writeJSON(t, storePath(root, runs.Run(runID).Manifest()), runs.Manifest{RunID: runID, BaseETag: "tiny", Config: cfg, State: "training"})
	cmd := exec.Command(py, "-m", "trainer", "--run-id", runID, "--store", root, "--device", "cpu")
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	out, err := cmd.CombinedOutput()
	if err == nil || cmd.ProcessState.ExitCode() != 1 {
		t.Fatalf("resumed another run's checkpoint (%v):\n%s", err, out)
	}
	if !strings.Contains(string(out), "step-2/trainer_state.json: checkpoint of another run: learning_rate") {
		t.Errorf("error does not name the checkpoint and the field:\n%s", out)
	}
}
