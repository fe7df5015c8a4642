package train

import (
	"math"

	"github.com/lorafn/lorafn/core/model"
)

// clipGradNorm is torch.nn.utils.clip_grad_norm_ with the L2 norm: it
// returns the global norm of all gradients (the norm of the per-tensor
// norms) and, when maxNorm > 0 and the norm exceeds it, scales every
// gradient by maxNorm/(norm+1e-6). Sums run in float64 in a fixed order, so
// the result never depends on the number of threads.
func clipGradNorm(params []*model.Param, maxNorm float64) float64 {
	var total float64
	for _, p := range params {
		var s float64
		for _, g := range p.Grad {
			s += float64(g) * float64(g)
		}
		n := float64(float32(math.Sqrt(s))) // torch keeps per-tensor norms in float32
		total += n * n
	}
	norm := float32(math.Sqrt(total))
	if maxNorm <= 0 {
		return float64(norm)
	}
	coef := float32(maxNorm) / (norm + float32(1e-6))
	if coef < 1 {
		for _, p := range params {
			for i, g := range p.Grad {
				p.Grad[i] = g * coef
			}
		}
	}
	return float64(norm)
}
