package eval

import (
	"fmt"
	"math"
)

// Arch is a Lambda instruction set architecture.
type Arch string

const (
	X86_64 Arch = "x86_64"
	ARM64  Arch = "arm64"
)

// UnmarshalText accepts Lambda's names for the two architectures.
func (a *Arch) UnmarshalText(b []byte) error {
	switch v := Arch(b); v {
	case X86_64, ARM64:
		*a = v
		return nil
	}
	return fmt.Errorf("eval: architecture %q: want %q or %q", b, X86_64, ARM64)
}

// Prices are the AWS list prices a cost estimate uses, in US dollars.
// Prices differ by Region and change; keep them in configuration and pass
// them in.
type Prices struct {
	LambdaGBSecond       map[Arch]float64   `json:"lambda_gb_second"`        // duration, per GB-second
	LambdaRequest        float64            `json:"lambda_request"`          // per invocation
	LambdaEphemeralGBSec float64            `json:"lambda_ephemeral_gb_sec"` // /tmp above 512 MB, per GB-second
	StateTransition      float64            `json:"state_transition"`        // Step Functions Standard, per transition
	BatchInstanceHour    map[string]float64 `json:"batch_instance_hour"`     // on-demand price per hour by instance type
	BatchMinimumSeconds  float64            `json:"batch_minimum_seconds"`   // billed minimum per job
}

// DefaultPrices returns us-east-1 list prices (2026, first tier).
func DefaultPrices() Prices {
	return Prices{
		LambdaGBSecond:       map[Arch]float64{X86_64: 0.0000166667, ARM64: 0.0000133334},
		LambdaRequest:        0.20 / 1e6,
		LambdaEphemeralGBSec: 0.0000000309,
		StateTransition:      0.025 / 1000,
		BatchInstanceHour:    map[string]float64{"g5.xlarge": 1.006},
		BatchMinimumSeconds:  60,
	}
}

// Usage is what a run consumed.
type Usage struct {
	Arch              Arch    `json:"arch"`
	LambdaMemoryMB    int     `json:"lambda_memory_mb"`
	LambdaSeconds     float64 `json:"lambda_seconds"` // billed duration over all invocations
	LambdaInvocations int     `json:"lambda_invocations"`
	// LambdaEphemeralMB is the configured /tmp size; above 512 MB it is billed.
	LambdaEphemeralMB int        `json:"lambda_ephemeral_mb,omitempty"`
	StateTransitions  int        `json:"state_transitions"`
	BatchJobs         []BatchJob `json:"batch_jobs,omitempty"`
}

// BatchJob is one AWS Batch job's instance time.
type BatchJob struct {
	InstanceType string  `json:"instance_type"`
	Seconds      float64 `json:"seconds"`
}

// Cost is an estimate in US dollars, from list prices without free tiers.
type Cost struct {
	LambdaGBSeconds float64 `json:"lambda_gb_seconds"`
	LambdaDuration  float64 `json:"lambda_duration"`
	LambdaRequests  float64 `json:"lambda_requests"`
	LambdaEphemeral float64 `json:"lambda_ephemeral"`
	StepFunctions   float64 `json:"step_functions"`
	BatchSeconds    float64 `json:"batch_seconds"` // billed, minimum per job included
	Batch           float64 `json:"batch"`
	Total           float64 `json:"total"`
}

// EstimateCost prices u. An architecture or instance type without a price
// is an error, as is a negative quantity.
func EstimateCost(u Usage, p Prices) (Cost, error) {
	if u.LambdaSeconds < 0 || u.LambdaMemoryMB < 0 || u.LambdaInvocations < 0 || u.StateTransitions < 0 || u.LambdaEphemeralMB < 0 {
		return Cost{}, fmt.Errorf("eval: cost: negative usage %+v", u)
	}
	var c Cost
	if u.LambdaSeconds > 0 || u.LambdaInvocations > 0 {
		price, ok := p.LambdaGBSecond[u.Arch]
		if !ok {
			return Cost{}, fmt.Errorf("eval: cost: no Lambda price for architecture %q", u.Arch)
		}
		c.LambdaGBSeconds = u.LambdaSeconds * float64(u.LambdaMemoryMB) / 1024
		c.LambdaDuration = c.LambdaGBSeconds * price
		c.LambdaRequests = float64(u.LambdaInvocations) * p.LambdaRequest
		if extra := float64(u.LambdaEphemeralMB-512) / 1024; extra > 0 {
			c.LambdaEphemeral = extra * u.LambdaSeconds * p.LambdaEphemeralGBSec
		}
	}
	c.StepFunctions = float64(u.StateTransitions) * p.StateTransition
	for i, j := range u.BatchJobs {
		hourly, ok := p.BatchInstanceHour[j.InstanceType]
		if !ok {
			return Cost{}, fmt.Errorf("eval: cost: batch job %d: no price for instance type %q", i, j.InstanceType)
		}
		if j.Seconds < 0 || math.IsNaN(j.Seconds) {
			return Cost{}, fmt.Errorf("eval: cost: batch job %d: %v seconds", i, j.Seconds)
		}
		s := math.Max(j.Seconds, p.BatchMinimumSeconds)
		c.BatchSeconds += s
		c.Batch += s * hourly / 3600
	}
	c.Total = c.LambdaDuration + c.LambdaRequests + c.LambdaEphemeral + c.StepFunctions + c.Batch
	return c, nil
}
