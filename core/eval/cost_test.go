package eval

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// The worked example of the AWS reference: 200 chunks × 600 s at 10,240 MB
// on arm64 with 10 GB of /tmp and 420 state transitions.
func TestCostWorkedExample(t *testing.T) {
	u := Usage{Arch: ARM64, LambdaMemoryMB: 10240, LambdaSeconds: 200 * 600, LambdaInvocations: 200, LambdaEphemeralMB: 10240, StateTransitions: 420}
	c, err := EstimateCost(u, DefaultPrices())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		name      string
		got, want float64
	}{
		{"GB-seconds", c.LambdaGBSeconds, 1_200_000},
		{"duration", c.LambdaDuration, 16.00008}, // 1.2M × $0.0000133334
		{"requests", c.LambdaRequests, 0.00004},
		{"/tmp", c.LambdaEphemeral, 9.5 * 120_000 * 3.09e-8},
		{"step functions", c.StepFunctions, 0.0105},
		{"total", c.Total, 16.00008 + 0.00004 + 9.5*120_000*3.09e-8 + 0.0105},
	} {
		if math.Abs(x.got-x.want) > 1e-9 {
			t.Errorf("%s: %v, want %v", x.name, x.got, x.want)
		}
	}
	u.Arch = X86_64
	c, _ = EstimateCost(u, DefaultPrices())
	if math.Abs(c.LambdaDuration-1_200_000*0.0000166667) > 1e-9 {
		t.Errorf("x86_64 duration %v", c.LambdaDuration)
	}
}

func TestCostBatchAndErrors(t *testing.T) {
	p := DefaultPrices()
	p.BatchInstanceHour["c7g.8xlarge"] = 1.1562
	c, err := EstimateCost(Usage{BatchJobs: []BatchJob{{"g5.xlarge", 30}, {"c7g.8xlarge", 3600}}}, p)
	if err != nil {
		t.Fatal(err)
	}
	// 30 s is billed as the 60 s minimum.
	if want := 60*1.006/3600 + 1.1562; math.Abs(c.Batch-want) > 1e-12 || c.BatchSeconds != 3660 || c.Total != c.Batch {
		t.Errorf("batch %v over %v s (total %v), want %v over 3660 s", c.Batch, c.BatchSeconds, c.Total, want)
	}
	for _, u := range []Usage{
		{BatchJobs: []BatchJob{{"p5.48xlarge", 10}}},
		{Arch: "mips", LambdaSeconds: 1, LambdaMemoryMB: 128, LambdaInvocations: 1},
		{Arch: ARM64, LambdaSeconds: -1},
	} {
		if _, err := EstimateCost(u, p); err == nil {
			t.Errorf("%+v: want an error", u)
		}
	}
	var u Usage
	if err := json.Unmarshal([]byte(`{"arch":"arm64"}`), &u); err != nil || u.Arch != ARM64 {
		t.Errorf("arch arm64: %v %q", err, u.Arch)
	}
	if err := json.Unmarshal([]byte(`{"arch":"amd64"}`), &u); err == nil || !strings.Contains(err.Error(), "x86_64") {
		t.Errorf("arch amd64: err = %v, want the accepted names", err)
	}
}
