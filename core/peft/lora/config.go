// Package lora implements LoRA (Hu et al., 2021) exactly as Hugging Face
// PEFT does, with rsLoRA scaling, and reads and writes PEFT's adapter files
// (adapter_config.json + adapter_model.safetensors).
//
// A targeted linear layer y = x·Wᵀ + b becomes
//
//	y = x·Wᵀ + b + scaling · (dropout(x)·Aᵀ)·Bᵀ
//
// with A [r, in], B [out, r] (also for GPT-2's Conv1D layers), scaling =
// lora_alpha/r, or lora_alpha/√r with use_rslora. A starts uniform in
// ±1/√in and B at zero, so a fresh adapter leaves the model unchanged.
package lora

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/lorafn/lorafn/core/model"
)

// Config is a LoRA adapter's configuration. JSON tags are PEFT's
// adapter_config.json keys.
type Config struct {
	R             int     `json:"r"`
	Alpha         float64 `json:"lora_alpha"`
	Dropout       float64 `json:"lora_dropout"`
	TargetModules Targets `json:"target_modules"`
	UseRSLoRA     bool    `json:"use_rslora"`
	// UseDoRA adds DoRA's magnitude vector (Liu et al., 2024) to every
	// layer: see Layer.
	UseDoRA bool `json:"use_dora,omitempty"`
	// Init is "true" (uniform A, zero B) or "gaussian" (A ~ N(0, 1/r²)).
	Init string `json:"-"`

	BaseModel string `json:"base_model_name_or_path,omitempty"`
	Revision  string `json:"revision,omitempty"`
}

// DefaultConfig returns PEFT's defaults: r 8, alpha 8, no dropout, the
// family's default targets (q_proj, v_proj for Llama; c_attn for GPT-2).
func DefaultConfig() Config {
	return Config{R: 8, Alpha: 8, Init: "true"}
}

// Scaling is the factor applied to B·A.
func (c *Config) Scaling() float64 {
	if c.UseRSLoRA {
		return c.Alpha / math.Sqrt(float64(c.R))
	}
	return c.Alpha / float64(c.R)
}

// Validate checks the fields; errors name the adapter_config.json key.
func (c *Config) Validate() error {
	switch {
	case c.R <= 0:
		return fmt.Errorf("lora: r = %d: must be positive", c.R)
	case !(c.Alpha > 0) || math.IsInf(c.Alpha, 0):
		return fmt.Errorf("lora: lora_alpha = %v: must be a positive number", c.Alpha)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("lora: lora_dropout = %v: must be in [0, 1)", c.Dropout)
	case c.Init != "" && c.Init != "true" && c.Init != "gaussian":
		return fmt.Errorf("lora: init_lora_weights = %q: lorafn supports true and \"gaussian\"", c.Init)
	}
	return c.TargetModules.validate()
}

// Targets selects the layers that get LoRA, as PEFT's target_modules: a
// list of names, each matching a module whose path equals it or ends with
// "." + it; a regular expression that must match the whole path; or
// "all-linear", every projection of every block (never the output head).
// Empty means the model family's default.
type Targets struct {
	Names []string
	Regex string
}

// AllLinear is PEFT's shorthand for every linear layer but the head.
const AllLinear = "all-linear"

// ParseTargets reads a comma-separated list ("q_proj,v_proj"), "all-linear",
// or a regular expression written as "re:PATTERN".
func ParseTargets(s string) Targets {
	if rx, ok := strings.CutPrefix(s, "re:"); ok {
		return Targets{Regex: rx}
	}
	if s == AllLinear {
		return Targets{Regex: AllLinear}
	}
	var t Targets
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			t.Names = append(t.Names, f)
		}
	}
	return t
}

func (t Targets) validate() error {
	if t.Regex != "" && t.Regex != AllLinear {
		if _, err := regexp.Compile(t.Regex); err != nil {
			return fmt.Errorf("lora: target_modules: %w", err)
		}
	}
	for _, n := range t.Names {
		if n == "" {
			return fmt.Errorf("lora: target_modules: empty name")
		}
	}
	return nil
}

// UnmarshalJSON accepts a list of strings, a single string (a regex, or
// "all-linear") or null, as PEFT does.
func (t *Targets) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*t = Targets{}
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = Targets{Regex: s}
		return nil
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return fmt.Errorf("target_modules: want a list of names or a string: %w", err)
	}
	*t = Targets{Names: names}
	return nil
}

// MarshalJSON writes the list, or the regular expression string.
func (t Targets) MarshalJSON() ([]byte, error) {
	if t.Regex != "" {
		return json.Marshal(t.Regex)
	}
	names := slices.Clone(t.Names)
	slices.Sort(names)
	return json.Marshal(slices.Compact(names))
}

// defaultTargets are PEFT's per-family defaults.
func defaultTargets(f model.Family) Targets {
	if f == model.GPT2 {
		return Targets{Names: []string{"c_attn"}}
	}
	return Targets{Names: []string{"q_proj", "v_proj"}}
}

// matches reports whether the module path is a target.
func (t Targets) matches(path string) (bool, error) {
	switch {
	case t.Regex == AllLinear:
		return true, nil // only block projections are ever offered
	case t.Regex != "":
		re, err := regexp.Compile("^(?:" + t.Regex + ")$")
		if err != nil {
			return false, fmt.Errorf("lora: target_modules: %w", err)
		}
		return re.MatchString(path), nil
	}
	for _, n := range t.Names {
		if path == n || strings.HasSuffix(path, "."+n) {
			return true, nil
		}
	}
	return false, nil
}

// Match reports whether the module path is a target, by PEFT's rules; the
// other PEFT methods ((IA)³) select their layers the same way.
func (t Targets) Match(path string) (bool, error) { return t.matches(path) }

// Empty reports whether no target is given (the family default applies).
func (t Targets) Empty() bool { return len(t.Names) == 0 && t.Regex == "" }
