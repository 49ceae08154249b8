package model

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// Explanation is why a person's score for an item is what it is: Score =
// Base + the sum of Because's weights, exactly up to float rounding.
//
// The person's vector is the least-squares solution u = W·r, W = A⁻¹ for
// A = w₀·QᵀQ + λI + Σ_j (c_j − w₀)·q_j q_jᵀ over the person's past items j,
// and r = −w₀·Σ_{i untouched} b_i q_i + Σ_j c_j (1 − b_j)·q_j (solveUser).
// So the score of item i, b_i + q_i·u, splits into b_i + q_iᵀW r₀ (Base: the
// item's bias, and what the person's untouched items say through theirs)
// and one term c_j (1 − b_j)·q_iᵀW q_j per past item j: how much having
// touched j, with its confidence, raises i (Hu, Koren and Volinsky 2008,
// §5, with item biases). A past item's weight may be negative.
type Explanation struct {
	Item    int32
	Score   float64
	Base    float64
	Because []Contribution // largest weight first
}

// Contribution is one past item's share of a score.
type Contribution struct {
	Item   int32
	Weight float64
}

// ErrNotPositiveDefinite is returned when the person's system has no
// solution, which regularisation rules out unless the model holds
// non-finite values.
var ErrNotPositiveDefinite = errors.New("model: the person's system is not positive definite")

// Explain explains the scores of items for the person with positives pos
// under p's model.
func (p *Prepared) Explain(pos Positives, items []int32) ([]Explanation, error) {
	k, m := p.M.Factors, p.M
	q, b := m.ItemFactors(), m.Biases()
	for _, it := range items {
		if it < 0 || int(it) >= m.Items {
			return nil, fmt.Errorf("model: item %d of %d", it, m.Items)
		}
	}
	// The system A, and its right-hand sides: r₀ and, per past item j, q_j
	// (the column j+1 of rhs), all solved at once.
	w0 := p.Cfg.NegWeight
	n := len(pos.Items) + 1
	a := make([]float64, k*k)
	rhs := make([]float64, k*n) // k rows, n columns
	for i, g := range p.gram {
		a[i] = w0 * g
	}
	for f := 0; f < k; f++ {
		a[f*k+f] += p.Cfg.UserReg
		rhs[f*n] = -w0 * p.qb[f]
	}
	weights := make([]float64, len(pos.Items)) // c_j (1 − b_j)
	for j, it := range pos.Items {
		row := q[int(it)*k : int(it)*k+k]
		bj := float64(b[it])
		c := p.Cfg.confidence(pos.age(j))
		weights[j] = c * (1 - bj)
		for f, vf := range row {
			x := float64(vf)
			rhs[f*n] += w0 * bj * x // the untouched items' r₀ leaves out j
			rhs[f*n+j+1] = x
			for h := f; h < k; h++ {
				a[f*k+h] += (c - w0) * x * float64(row[h])
			}
		}
	}
	t, ok := lapack64.Potrf(blas64.Symmetric{Uplo: blas.Upper, N: k, Stride: k, Data: a})
	if !ok {
		return nil, ErrNotPositiveDefinite
	}
	lapack64.Potrs(t, blas64.General{Rows: k, Cols: n, Stride: n, Data: rhs})
	out := make([]Explanation, len(items))
	for x, it := range items {
		row := q[int(it)*k : int(it)*k+k]
		dot := func(col int) float64 {
			var s float64
			for f, v := range row {
				s += float64(v) * rhs[f*n+col]
			}
			return s
		}
		e := Explanation{Item: it, Base: float64(b[it]) + dot(0), Because: make([]Contribution, len(pos.Items))}
		e.Score = e.Base
		for j, past := range pos.Items {
			e.Because[j] = Contribution{Item: past, Weight: weights[j] * dot(j+1)}
			e.Score += e.Because[j].Weight
		}
		slices.SortStableFunc(e.Because, func(x, y Contribution) int { return cmp.Compare(y.Weight, x.Weight) })
		out[x] = e
	}
	return out, nil
}

// Recommend returns the n items the person with positives pos would score
// highest under p's model, best first, leaving out pos.Items (what the
// person already has); ties go to the lower item id.
func (p *Prepared) Recommend(pos Positives, n int) ([]Scored, error) {
	u := make([]float32, p.M.Factors)
	if !p.solveUser(newSolver(p.M.Factors), pos, u) {
		return nil, ErrNotPositiveDefinite
	}
	scores := make([]float32, p.M.Items)
	p.M.Score(u, scores)
	return TopK(scores, pos.Items, n), nil
}
