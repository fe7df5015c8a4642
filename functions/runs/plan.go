package runs

import (
	"fmt"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/tune"
)

// Plan is runs/<runId>/prep/plan.json: the size of the run and where it
// trains.
type Plan struct {
	Backend        string  `json:"backend"` // lambda or batch
	Reason         string  `json:"reason"`
	TotalSteps     int     `json:"totalSteps"`
	TrainExamples  int     `json:"trainExamples"`
	ValExamples    int     `json:"valExamples"`
	TrainTokens    int64   `json:"trainTokens"` // tokens of one pass over the training split
	ModelParams    int64   `json:"modelParams"`
	EstimatedFLOPs float64 `json:"estimatedFlops"`
	EstimatedHours float64 `json:"estimatedLambdaHours"`
	// Rejected counts the records prep dropped (within the error budget);
	// Rejections lists the first of them as file:line reasons.
	Rejected   int      `json:"rejected"`
	Rejections []string `json:"rejections,omitempty"`
}

// MakePlan sizes a run: about 6 FLOPs per parameter and token when every
// weight trains (forward, input gradients, weight gradients) and 4 when the
// base is frozen (no weight gradients), over the tokens the steps consume.
func MakePlan(cfg Config, mc *model.Config, trainExamples, valExamples int, trainTokens int64) Plan {
	p := Plan{TrainExamples: trainExamples, ValExamples: valExamples, TrainTokens: trainTokens, ModelParams: mc.ParamCount()}
	p.TotalSteps = cfg.Training.TotalSteps(trainExamples)
	tokensPerExample := float64(trainTokens) / float64(max(1, trainExamples))
	tokens := tokensPerExample * float64(p.TotalSteps*cfg.Training.ExamplesPerStep())
	perToken := 4.0
	if cfg.Method.Method == tune.Full {
		perToken = 6
	}
	p.EstimatedFLOPs = perToken * float64(p.ModelParams) * tokens
	p.EstimatedHours = p.EstimatedFLOPs / (cfg.Compute.LambdaGFLOPS * 1e9) / 3600
	modelBytes := 4 * p.ModelParams
	switch {
	case cfg.Compute.Backend != "auto":
		p.Backend, p.Reason = cfg.Compute.Backend, "compute.backend = "+cfg.Compute.Backend
	case modelBytes > cfg.Compute.MaxLambdaModelBytes:
		p.Backend = "batch"
		p.Reason = fmt.Sprintf("the model's %d MB of float32 weights exceed compute.max_lambda_model_bytes", modelBytes>>20)
	case p.EstimatedHours > cfg.Compute.MaxLambdaHours:
		p.Backend = "batch"
		p.Reason = fmt.Sprintf("an estimated %.1f Lambda hours exceed compute.max_lambda_hours = %g", p.EstimatedHours, cfg.Compute.MaxLambdaHours)
	default:
		p.Backend = "lambda"
		p.Reason = fmt.Sprintf("an estimated %.2f Lambda hours fit compute.max_lambda_hours = %g", p.EstimatedHours, cfg.Compute.MaxLambdaHours)
	}
	return p
}
