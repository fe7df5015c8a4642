package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/safetensors"
	"github.com/lorafn/lorafn/internal/atomicfile"
)

// Checkpoint file names. The state file is written last: a folder without
// it holds no checkpoint.
const (
	StateFile     = "trainer_state.json"
	ParamsFile    = "params.safetensors"
	OptimizerFile = "optimizer.safetensors"
	formatVersion = "lorafn-trainer/1"
)

// identity is what makes a checkpoint belong to a run: resuming with any
// other configuration, data size or parameter layout would silently compute
// something else, so Load refuses it and names the difference.
type identity struct {
	Config        Config          `json:"config"`
	TotalSteps    int             `json:"total_steps"`
	TrainExamples int             `json:"train_examples"`
	ValExamples   int             `json:"val_examples"`
	Groups        []groupIdentity `json:"groups"`
}

type groupIdentity struct {
	Name    string       `json:"name"`
	LRScale float64      `json:"lr_scale"`
	Decay   bool         `json:"decay"`
	Params  []paramShape `json:"params"`
}

type paramShape struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

type stateFile struct {
	Format   string   `json:"format"`
	State    State    `json:"state"`
	Identity identity `json:"identity"`
}

func (t *Trainer) identity() identity {
	id := identity{Config: t.cfg, TotalSteps: t.sched.Total, TrainExamples: t.train.Len()}
	if t.val != nil {
		id.ValExamples = t.val.Len()
	}
	for _, g := range t.groups {
		gi := groupIdentity{Name: g.Name, LRScale: g.lrScale(), Decay: g.Decay}
		for _, p := range g.Params {
			gi.Params = append(gi.Params, paramShape{p.Name, p.Shape})
		}
		id.Groups = append(id.Groups, gi)
	}
	return id
}

// Save writes the checkpoint into dir (created if needed): the trained
// weights, the AdamW moments and the state. Every file carries the step, so
// files of different checkpoints are never mixed up on load.
func (t *Trainer) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("train: save: %w", err)
	}
	meta := map[string]string{"format": "pt", "step": strconv.Itoa(t.State.Step)}
	var params, moments []safetensors.Tensor
	for _, p := range t.params {
		st := t.opt.state[p]
		params = append(params, safetensors.F32Tensor(p.Name, p.Shape, p.Data))
		moments = append(moments,
			safetensors.F32Tensor(p.Name+".exp_avg", p.Shape, st.expAvg),
			safetensors.F32Tensor(p.Name+".exp_avg_sq", p.Shape, st.expAvgSq))
	}
	if err := safetensors.WriteFile(filepath.Join(dir, ParamsFile), params, meta); err != nil {
		return fmt.Errorf("train: save: %w", err)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, OptimizerFile), moments, meta); err != nil {
		return fmt.Errorf("train: save: %w", err)
	}
	data, err := json.MarshalIndent(stateFile{formatVersion, t.State, t.identity()}, "", "  ")
	if err != nil {
		return fmt.Errorf("train: save: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, StateFile), append(data, '\n')); err != nil {
		return fmt.Errorf("train: save: %w", err)
	}
	return nil
}

// Load restores a checkpoint written by Save for this same run.
func (t *Trainer) Load(dir string) error {
	path := filepath.Join(dir, StateFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	var sf stateFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sf); err != nil {
		return fmt.Errorf("train: %s: %w", path, err)
	}
	if sf.Format != formatVersion {
		return fmt.Errorf("train: %s: format %q, want %q", path, sf.Format, formatVersion)
	}
	if err := sameRun(path, sf.Identity, t.identity()); err != nil {
		return err
	}
	step := strconv.Itoa(sf.State.Step)
	if err := readInto(filepath.Join(dir, ParamsFile), step, func(p *model.Param) map[string][]float32 {
		return map[string][]float32{p.Name: p.Data}
	}, t.params); err != nil {
		return err
	}
	if err := readInto(filepath.Join(dir, OptimizerFile), step, func(p *model.Param) map[string][]float32 {
		st := t.opt.state[p]
		return map[string][]float32{p.Name + ".exp_avg": st.expAvg, p.Name + ".exp_avg_sq": st.expAvgSq}
	}, t.params); err != nil {
		return err
	}
	t.State = sf.State
	return nil
}

// sameRun compares a checkpoint's identity with the run's, field by field.
func sameRun(path string, saved, run identity) error {
	type field struct {
		name       string
		saved, run any
	}
	fields := []field{
		{"total_steps", saved.TotalSteps, run.TotalSteps},
		{"train_examples", saved.TrainExamples, run.TrainExamples},
		{"val_examples", saved.ValExamples, run.ValExamples},
		{"groups", saved.Groups, run.Groups},
	}
	// Config fields by their JSON names.
	var sc, rc map[string]any
	sj, _ := json.Marshal(saved.Config)
	rj, _ := json.Marshal(run.Config)
	json.Unmarshal(sj, &sc)
	json.Unmarshal(rj, &rc)
	for _, k := range slices.Sorted(maps.Keys(rc)) {
		fields = append(fields, field{k, sc[k], rc[k]})
	}
	for _, f := range fields {
		a, _ := json.Marshal(f.saved)
		b, _ := json.Marshal(f.run)
		if !bytes.Equal(a, b) {
			return fmt.Errorf("train: %s: checkpoint of another run: %s is %s there, %s here", path, f.name, abbrev(a), abbrev(b))
		}
	}
	return nil
}

// readInto copies every tensor that want names from the safetensors file at
// path, which must hold exactly those tensors and have been written at step.
func readInto(path, step string, want func(*model.Param) map[string][]float32, params []*model.Param) error {
	f, err := safetensors.Open(path)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	if got := f.Metadata()["step"]; got != step {
		return fmt.Errorf("train: %s: written at step %q, but the state is at step %s", path, got, step)
	}
	n := 0
	for _, p := range params {
		for name, dst := range want(p) {
			src, err := f.Float32(name)
			if err != nil {
				return fmt.Errorf("train: %s: %w", path, err)
			}
			if len(src) != len(dst) {
				return fmt.Errorf("train: %s: tensor %s has %d values, want %d", path, name, len(src), len(dst))
			}
			copy(dst, src)
			n++
		}
	}
	if len(f.Names()) != n {
		return fmt.Errorf("train: %s: %d tensors, want %d", path, len(f.Names()), n)
	}
	return nil
}

func abbrev(b []byte) string {
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}
