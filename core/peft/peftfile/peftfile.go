// Package peftfile writes the two files of a PEFT adapter folder, the part
// every method shares: adapter_model.safetensors (float32 tensors sorted by
// name, metadata format=pt, as PEFT writes them) and adapter_config.json.
package peftfile

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/safetensors"
	"github.com/lorafn/lorafn/internal/atomicfile"
)

// PEFT's file names.
const (
	ConfigFile  = "adapter_config.json"
	WeightsFile = "adapter_model.safetensors"
)

// Save writes params (by their names) and config into dir, creating it.
// The weights go first and the config last, each file atomically.
func Save(dir string, params []*model.Param, config any) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	ps := slices.Clone(params)
	slices.SortFunc(ps, func(x, y *model.Param) int { return strings.Compare(x.Name, y.Name) })
	ts := make([]safetensors.Tensor, len(ps))
	for i, p := range ps {
		ts[i] = safetensors.F32Tensor(p.Name, p.Shape, p.Data)
	}
	if err := safetensors.WriteFile(filepath.Join(dir, WeightsFile), ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	data, err := json.MarshalIndent(config, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, ConfigFile), data)
}

// OrNull is s, or nil (JSON null) when s is empty: PEFT writes unset
// string fields of adapter_config.json as null.
func OrNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}
