package eval_test

import (
	"fmt"

	"github.com/lorafn/lorafn/core/eval"
)

// A run of 40 Lambda invocations of 120 s at 4096 MB on arm64 and 150 state
// transitions, priced at the default list prices.
func ExampleEstimateCost() {
	c, err := eval.EstimateCost(eval.Usage{
		Arch: eval.ARM64, LambdaMemoryMB: 4096, LambdaSeconds: 40 * 120,
		LambdaInvocations: 40, StateTransitions: 150,
	}, eval.DefaultPrices())
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.0f GB-s: $%.4f duration, $%.6f requests, $%.5f Step Functions, $%.4f in all\n",
		c.LambdaGBSeconds, c.LambdaDuration, c.LambdaRequests, c.StepFunctions, c.Total)
	// Output: 19200 GB-s: $0.2560 duration, $0.000008 requests, $0.00375 Step Functions, $0.2598 in all
}

// Gold and predicted classes of six examples; class 2 is never predicted.
func ExampleConfusion() {
	c := eval.NewConfusion(3)
	for _, p := range [][2]int{{0, 0}, {0, 0}, {1, 1}, {1, 0}, {2, 1}, {2, 0}} {
		c.Add(p[0], p[1])
	}
	for k, s := range c.PerClass() {
		fmt.Printf("class %d: precision %.3f recall %.3f F1 %.3f\n", k, s.Precision, s.Recall, s.F1)
	}
	fmt.Printf("accuracy %.3f, macro-F1 %.3f\n", c.Accuracy(), c.MacroF1())
	// Output:
	// class 0: precision 0.500 recall 1.000 F1 0.667
	// class 1: precision 0.500 recall 0.500 F1 0.500
	// class 2: precision 0.000 recall 0.000 F1 0.000
	// accuracy 0.500, macro-F1 0.389
}
