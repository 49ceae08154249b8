package aggregate

import (
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
)

// benchDim is ml-latest-small's 9,724 items × 32 factors.
const benchDim = 9724 * 32

func benchVector() []float32 {
	v := make([]float32, benchDim)
	for i := range v {
		v[i] = float32(i%97) * 0.01
	}
	return v
}

func BenchmarkMeanAdd(b *testing.B) {
	v := benchVector()
	m := NewMean(benchDim)
	b.SetBytes(4 * benchDim)
	for b.Loop() {
		m.Add(v, 1)
	}
}

// BenchmarkAxpyBaseline is the memory-bandwidth reference for MeanAdd: a
// float32 axpy over the same vector.
func BenchmarkAxpyBaseline(b *testing.B) {
	x, y := benchVector(), make([]float32, benchDim)
	b.SetBytes(4 * benchDim)
	for b.Loop() {
		blas32.Axpy(1, blas32.Vector{N: benchDim, Inc: 1, Data: x}, blas32.Vector{N: benchDim, Inc: 1, Data: y})
	}
}

func BenchmarkFedAdamStep(b *testing.B) {
	x, d := benchVector(), benchVector()
	opt, _ := NewOptimizer(OptimizerConfig{Name: "fedadam"})
	b.SetBytes(4 * benchDim)
	for b.Loop() {
		opt.Step(x, d)
	}
}
