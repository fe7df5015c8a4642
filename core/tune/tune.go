// Package tune sets up a fine-tuning method on a model — LoRA, DoRA, (IA)³,
// prompt tuning, prefix tuning, full fine-tuning or the last k layers — and
// saves what it trained: a PEFT adapter, or a complete Hugging Face model
// folder.
package tune

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/peft/ia3"
	"github.com/lorafn/lorafn/core/peft/lora"
	"github.com/lorafn/lorafn/core/peft/prefix"
	"github.com/lorafn/lorafn/core/peft/prompt"
	"github.com/lorafn/lorafn/core/tokenizer"
	"github.com/lorafn/lorafn/core/train"
	"github.com/lorafn/lorafn/internal/atomicfile"
)

// Methods.
const (
	LoRA   = "lora"
	Full   = "full"
	LastK  = "last-k"
	DoRA   = "dora"
	IA3    = "ia3"
	Prompt = "prompt"
	Prefix = "prefix"
)

// Spec chooses a method and its options.
type Spec struct {
	Method string      `json:"method"`
	LoRA   lora.Config `json:"lora"`
	// LoRAPlusRatio, when above 0, trains every B matrix with the learning
	// rate times this ratio (LoRA+; its authors suggest 16).
	LoRAPlusRatio float64 `json:"loraplus_lr_ratio,omitempty"`
	// IA3 configures (IA)³; empty targets mean PEFT's family defaults.
	IA3 ia3.Config `json:"ia3,omitzero"`
	// Prompt configures prompt tuning. With TEXT initialisation its
	// tokenizer_name_or_path names the folder holding tokenizer.json.
	Prompt prompt.Config `json:"prompt,omitzero"`
	// Prefix configures prefix tuning.
	Prefix prefix.Config `json:"prefix,omitzero"`
	// InitAdapter starts LoRA from an existing PEFT adapter folder.
	InitAdapter string `json:"init_adapter,omitempty"`

	// LastK is the number of top decoder layers that last-k trains;
	// TrainHead and TrainNorm add the output head and the final norm.
	LastK     int  `json:"last_k,omitempty"`
	TrainHead bool `json:"train_head,omitempty"`
	TrainNorm bool `json:"train_norm,omitempty"`
}

// Tuned is a model with a method set up on it.
type Tuned struct {
	Spec    Spec
	Model   *model.Model
	Adapter *lora.Adapter // LoRA and DoRA only
	// PEFT is the adapter of any PEFT method (the same as Adapter for LoRA);
	// nil for full and last-k tuning.
	PEFT Adapter
	// BaseDir, when set, is the base model folder whose tokenizer files a
	// saved full model carries along.
	BaseDir string
}

// Adapter is what every PEFT method's adapter offers.
type Adapter interface {
	Params() []*model.Param
	Save(dir string) error
}

// Setup freezes m and makes the method's parameters trainable. seed draws a
// new adapter's initial weights.
func Setup(m *model.Model, spec Spec, seed uint64) (*Tuned, error) {
	m.SetTrainable(func(string) bool { return false })
	t := &Tuned{Spec: spec, Model: m}
	switch spec.Method {
	case LoRA, DoRA:
		var err error
		if spec.Method == DoRA {
			spec.LoRA.UseDoRA = true
			t.Spec.LoRA.UseDoRA = true
		}
		if spec.InitAdapter != "" {
			t.Adapter, err = lora.Load(spec.InitAdapter, m)
			if err == nil {
				t.Spec.LoRA = t.Adapter.Config
			}
		} else {
			t.Adapter, err = lora.Apply(m, spec.LoRA, seed)
		}
		if err != nil {
			return nil, err
		}
		t.PEFT = t.Adapter
		if !(spec.LoRAPlusRatio >= 0) {
			return nil, fmt.Errorf("tune: loraplus_lr_ratio = %v: must not be negative", spec.LoRAPlusRatio)
		}
	case IA3:
		a, err := ia3.Apply(m, spec.IA3)
		if err != nil {
			return nil, err
		}
		t.Spec.IA3, t.PEFT = a.Config, a
	case Prompt:
		var ids []int
		if spec.Prompt.Init == prompt.Text {
			var err error
			if ids, err = textIDs(spec.Prompt); err != nil {
				return nil, err
			}
		}
		a, err := prompt.Apply(m, spec.Prompt, ids, seed)
		if err != nil {
			return nil, err
		}
		t.Spec.Prompt, t.PEFT = a.Config, a
	case Prefix:
		a, err := prefix.Apply(m, spec.Prefix, seed)
		if err != nil {
			return nil, err
		}
		t.Spec.Prefix, t.PEFT = a.Config, a
	case Full:
		m.SetTrainable(func(string) bool { return true })
	case LastK:
		L := len(m.Weights.Blocks)
		if spec.LastK <= 0 || spec.LastK > L {
			return nil, fmt.Errorf("tune: last_k = %d: must be in [1, %d], the model's layers", spec.LastK, L)
		}
		names := map[string]bool{}
		for _, b := range m.Weights.Blocks[L-spec.LastK:] {
			for _, p := range blockParams(b) {
				names[p.Name] = true
			}
		}
		if spec.TrainNorm {
			for _, p := range []*model.Param{m.Weights.FinalNorm.W, m.Weights.FinalNorm.B} {
				if p != nil {
					names[p.Name] = true
				}
			}
		}
		if spec.TrainHead {
			names[m.Weights.Head.Name] = true // the embedding too, when tied
		}
		m.SetTrainable(func(name string) bool { return names[name] })
	default:
		return nil, fmt.Errorf("tune: method %q: want one of %s", spec.Method, strings.Join(Methods(), ", "))
	}
	return t, nil
}

// Methods lists every method Setup knows.
func Methods() []string { return []string{LoRA, DoRA, IA3, Prompt, Prefix, Full, LastK} }

// textIDs tokenises the init text of prompt tuning with special tokens, as
// PEFT calls the tokenizer.
func textIDs(c prompt.Config) ([]int, error) {
	path := c.TokenizerName
	if path == "" {
		return nil, fmt.Errorf("tune: prompt_tuning_init TEXT needs tokenizer_name_or_path, the folder with tokenizer.json")
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "tokenizer.json")
	}
	tok, err := tokenizer.Load(path)
	if err != nil {
		return nil, fmt.Errorf("tune: prompt init text: %w", err)
	}
	return tok.Encode(c.InitText, true), nil
}

func blockParams(b *model.Block) []*model.Param {
	ps := []*model.Param{b.Norm1.W, b.Norm1.B, b.Norm2.W, b.Norm2.B}
	for _, l := range b.Linears() {
		ps = append(ps, l.W, l.B)
	}
	out := ps[:0]
	for _, p := range ps {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}

// Groups returns the trainable parameters as optimizer groups: decayed
// matrices, undecayed vectors (biases, norm weights), and with LoRA+ the B
// matrices apart at their own learning rate.
func (t *Tuned) Groups() []train.Group {
	var params []*model.Param
	if t.PEFT != nil {
		params = t.PEFT.Params()
	} else {
		for _, p := range t.Model.Params() {
			if p.Trainable() {
				params = append(params, p)
			}
		}
	}
	decay := train.Group{Name: "decay", Decay: true}
	noDecay := train.Group{Name: "no_decay"}
	fast := train.Group{Name: "lora_B", Decay: true, LRScale: t.Spec.LoRAPlusRatio}
	for _, p := range params {
		switch {
		case t.Spec.LoRAPlusRatio > 0 && (strings.HasSuffix(p.Name, ".lora_B.weight") || isMagnitude(p)):
			fast.Params = append(fast.Params, p)
		case len(p.Shape) >= 2 || isMagnitude(p):
			decay.Params = append(decay.Params, p)
		default:
			noDecay.Params = append(noDecay.Params, p)
		}
	}
	var out []train.Group
	for _, g := range []train.Group{decay, noDecay, fast} {
		if len(g.Params) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// isMagnitude reports a DoRA magnitude vector: one-dimensional, yet decayed
// like a weight by Hugging Face's rule (only biases and norms are not), and
// in LoRA+'s fast group with the B matrices, as PEFT's optimizer puts it.
func isMagnitude(p *model.Param) bool { return strings.HasSuffix(p.Name, ".lora_magnitude_vector") }

// NumTrainable returns the number of trained values.
func (t *Tuned) NumTrainable() int {
	n := 0
	for _, g := range t.Groups() {
		for _, p := range g.Params {
			n += len(p.Data)
		}
	}
	return n
}

// Save writes the result into dir: the PEFT adapter for LoRA, otherwise a
// complete model folder with the base model's tokenizer files.
func (t *Tuned) Save(dir string) error {
	if t.PEFT != nil {
		return t.PEFT.Save(dir)
	}
	if err := t.Model.Save(dir); err != nil {
		return err
	}
	if t.BaseDir != "" {
		return CopyTokenizerFiles(t.BaseDir, dir)
	}
	return nil
}

// LoadAdapter reads the PEFT adapter in dir, whatever its peft_type, and
// attaches it to m.
func LoadAdapter(dir string, m *model.Model) (Adapter, error) {
	path := filepath.Join(dir, lora.ConfigFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tune: %w", err)
	}
	var head struct {
		PeftType string `json:"peft_type"`
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return nil, fmt.Errorf("tune: %s: %w", path, err)
	}
	switch head.PeftType {
	case "LORA":
		return lora.Load(dir, m)
	case "IA3":
		return ia3.Load(dir, m)
	case "PROMPT_TUNING":
		return prompt.Load(dir, m)
	case "PREFIX_TUNING":
		return prefix.Load(dir, m)
	}
	return nil, fmt.Errorf("tune: %s: peft_type %q: lorafn reads LORA, IA3, PROMPT_TUNING, PREFIX_TUNING", path, head.PeftType)
}

// Method is the method in effect: DoRA for LoRA with use_dora (set in the
// options or read from an init_adapter).
func (t *Tuned) Method() string {
	if t.Spec.Method == LoRA && t.Adapter != nil && t.Adapter.Config.UseDoRA {
		return DoRA
	}
	return t.Spec.Method
}

// Serving says which servers can load what the method saves, from
// peft-format.md §5: vLLM takes only plain LoRA (never DoRA, (IA)³,
// prompt or prefix tuning), llama.cpp's converter only lora_A/lora_B.
func Serving(method string) string {
	switch method {
	case LoRA:
		return "PEFT; vLLM (Llama/Qwen2 family, r ≤ max_lora_rank); llama.cpp via convert_lora_to_gguf.py (without rsLoRA)"
	case DoRA:
		return "PEFT only: vLLM refuses DoRA and llama.cpp's converter rejects lora_magnitude_vector; merge it (lorafn merge) to serve elsewhere"
	case IA3:
		return "PEFT only: vLLM and llama.cpp have no (IA)³ loader; merge it into the base to serve elsewhere"
	case Prefix:
		return "PEFT only: vLLM and llama.cpp have no prefix-tuning loader; cannot be merged into the weights"
	case Prompt:
		return "PEFT only: vLLM removed prompt adapters and llama.cpp has no loader; cannot be merged into the weights"
	case Full, LastK:
		return "a complete Hugging Face model: any server that loads the base architecture"
	}
	return "PEFT only: vLLM and llama.cpp have no loader for this method"
}

// WriteCard writes dir/README.md, the adapter's card: method, base model,
// trained parameters and where it can be served.
func (t *Tuned) WriteCard(dir, base string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "---\nlibrary_name: peft\nbase_model: %s\n---\n\n", base)
	fmt.Fprintf(&b, "# Fine-tuned with lorafn\n\n- method: %s\n- base model: %s\n- trainable parameters: %d\n- serving: %s\n",
		t.Method(), base, t.NumTrainable(), Serving(t.Method()))
	if err := atomicfile.WriteFile(filepath.Join(dir, "README.md"), []byte(b.String())); err != nil {
		return fmt.Errorf("tune: card: %w", err)
	}
	return nil
}

// tokenizerFiles are the files of a Hugging Face folder that describe
// tokenization and generation, copied along with a written model.
var tokenizerFiles = []string{
	"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
	"tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json",
	"generation_config.json",
}

// CopyTokenizerFiles copies the tokenizer and generation files that exist
// in src into dst.
func CopyTokenizerFiles(src, dst string) error {
	for _, name := range tokenizerFiles {
		in, err := os.Open(filepath.Join(src, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("tune: %w", err)
		}
		err = copyFile(in, filepath.Join(dst, name))
		in.Close()
		if err != nil {
			return fmt.Errorf("tune: %w", err)
		}
	}
	return nil
}

func copyFile(in io.Reader, path string) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := io.Copy(w, in)
		return err
	})
}
