package runs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/lorafn/lorafn/core/peft/lora"
	"github.com/lorafn/lorafn/core/train"
	"github.com/lorafn/lorafn/core/tune"
)

// Config is a run's configuration: what to tune, how, and what counts as
// good enough to promote. It is read from lorafn.json beside the dataset
// and from the execution input (which wins, field by field); every field
// has a default. The JSON schema is docs/run-config.schema.json.
type Config struct {
	// Name is the task; promoted adapters go to adapters/<name>/. Default:
	// the dataset's folder name.
	Name string `json:"name"`
	// BaseModel is the key prefix of a Hugging Face model folder.
	BaseModel string `json:"base_model"`
	// Validation, when set, is a dataset key used for validation instead of
	// a split of the training data.
	Validation string `json:"validation,omitempty"`
	// GeneralEval, when set, is a plain-text dataset key on which
	// forgetting is measured (perplexity change of base vs tuned).
	GeneralEval string `json:"general_eval,omitempty"`

	Method   tune.Spec    `json:"method"`
	Training train.Config `json:"training"`
	Data     Data         `json:"data"`
	Gate     Gate         `json:"gate"`
	Chunk    Chunk        `json:"chunk"`
	Compute  Compute      `json:"compute"`
}

// Data controls prep.
type Data struct {
	MaxLen        int     `json:"max_len"`
	ValFraction   float64 `json:"val_fraction"`
	Pack          bool    `json:"pack"`
	ChatTemplate  string  `json:"chat_template,omitempty"` // a name; default: recognised from tokenizer_config.json
	TrainOnPrompt bool    `json:"train_on_prompt"`
	ErrorBudget   float64 `json:"error_budget"`
	Overflow      string  `json:"overflow"` // truncate or reject
}

// Gate decides promotion.
type Gate struct {
	// MinImprovement is the relative validation-loss improvement over the
	// base model that the tuned model must reach (0.01 = 1 %).
	MinImprovement float64 `json:"min_improvement"`
	// MaxForgetting is the largest relative perplexity increase on the
	// general set that is tolerated (0.1 = 10 %); 0 disables the check.
	MaxForgetting float64 `json:"max_forgetting"`
	// BeatCurrent requires a lower validation loss than the adapter that
	// is promoted now, when there is one for the same base model.
	BeatCurrent bool `json:"beat_current"`
}

// Chunk sizes the Lambda training chunks.
type Chunk struct {
	// MarginSeconds is kept free before the Lambda deadline for writing
	// the checkpoint; the train function raises it to twice the measured
	// write time when that is larger.
	MarginSeconds int `json:"margin_seconds"`
	// MaxSteps caps the optimizer steps of one chunk (0: only the deadline).
	MaxSteps int `json:"max_steps"`
	// MaxChunksPerSegment bounds the chunks of one execution before it
	// continues as a new one, far below the 25,000-event history cap.
	MaxChunksPerSegment int `json:"max_chunks_per_segment"`
}

// Compute routes training to Lambda or Batch.
type Compute struct {
	// Backend is "auto", "lambda" or "batch".
	Backend string `json:"backend"`
	// LambdaGFLOPS is the training throughput assumed for one Lambda
	// function at full memory, used to estimate the run's duration.
	LambdaGFLOPS float64 `json:"lambda_gflops"`
	// MaxLambdaHours routes runs estimated longer than this to Batch.
	MaxLambdaHours float64 `json:"max_lambda_hours"`
	// MaxLambdaModelBytes routes models larger than this (weights in
	// float32) to Batch, as they would not fit a function's memory.
	MaxLambdaModelBytes int64 `json:"max_lambda_model_bytes"`
}

// DefaultConfig returns the defaults of every field.
func DefaultConfig() Config {
	c := Config{
		Method:   tune.Spec{Method: tune.LoRA, LoRA: lora.DefaultConfig()},
		Training: train.DefaultConfig(),
		Data:     Data{MaxLen: 512, ValFraction: 0.1, ErrorBudget: 0.05, Overflow: "truncate"},
		Gate:     Gate{MinImprovement: 0.01, MaxForgetting: 0.1, BeatCurrent: true},
		Chunk:    Chunk{MarginSeconds: 90, MaxChunksPerSegment: 500},
		Compute:  Compute{Backend: "auto", LambdaGFLOPS: 40, MaxLambdaHours: 6, MaxLambdaModelBytes: 6 << 30},
	}
	c.Method.LoRA.Alpha = 16
	c.Method.LoRA.Dropout = 0.05
	return c
}

// Merge overlays the JSON object data on c: fields present in data replace
// c's, nested objects are merged field by field, unknown fields are errors
// naming the field.
func (c *Config) Merge(source string, data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	return nil
}

// Validate checks the configuration; errors name the field.
func (c *Config) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("run config: %s = %v: %s", field, v, why)
	}
	switch {
	case c.Name == "" || strings.ContainsAny(c.Name, "/\\ ") || len(c.Name) > 64:
		return bad("name", fmt.Sprintf("%q", c.Name), "must be 1-64 characters without slashes or spaces")
	case c.BaseModel == "":
		return bad("base_model", `""`, "must name a model folder, e.g. models/smollm2-135m/")
	case c.Data.MaxLen < 2:
		return bad("data.max_len", c.Data.MaxLen, "must be at least 2")
	case !(c.Data.ValFraction >= 0 && c.Data.ValFraction < 1):
		return bad("data.val_fraction", c.Data.ValFraction, "must be in [0, 1)")
	case c.Data.Overflow != "truncate" && c.Data.Overflow != "reject":
		return bad("data.overflow", c.Data.Overflow, "must be truncate or reject")
	case c.Chunk.MarginSeconds < 0 || c.Chunk.MarginSeconds > 600:
		return bad("chunk.margin_seconds", c.Chunk.MarginSeconds, "must be in [0, 600]")
	case c.Chunk.MaxChunksPerSegment < 1 || c.Chunk.MaxChunksPerSegment > 3000:
		return bad("chunk.max_chunks_per_segment", c.Chunk.MaxChunksPerSegment, "must be in [1, 3000] to stay below the history cap")
	case c.Compute.Backend != "auto" && c.Compute.Backend != "lambda" && c.Compute.Backend != "batch":
		return bad("compute.backend", c.Compute.Backend, "must be auto, lambda or batch")
	case c.Method.Method == tune.LoRA && c.Method.LoRA.R > 256:
		return bad("method.lora.r", c.Method.LoRA.R, "must be at most 256")
	}
	if err := c.Training.Validate(); err != nil {
		return fmt.Errorf("run config: training: %w", err)
	}
	if c.Method.Method == tune.LoRA && c.Method.InitAdapter == "" {
		if err := c.Method.LoRA.Validate(); err != nil {
			return fmt.Errorf("run config: method.lora: %w", err)
		}
	}
	return nil
}
