package model

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/lapack/lapack64"
)

// Prepared is what every device derives once from a model version before it
// solves its own vector: the Gram matrix QᵀQ and the vector Qᵀb. A device
// computes it once per download; the simulator once per round for everyone.
type Prepared struct {
	M    *MF
	Cfg  Config
	gram []float64 // Factors×Factors, QᵀQ
	qb   []float64 // Factors, Qᵀb
}

// Prepare computes the Gram matrix and Qᵀb of m. It reads the model once.
func Prepare(m *MF, cfg Config) *Prepared {
	k := m.Factors
	p := &Prepared{M: m, Cfg: cfg, gram: make([]float64, k*k), qb: make([]float64, k)}
	q, b := m.ItemFactors(), m.Biases()
	row := make([]float64, k)
	for i := 0; i < m.Items; i++ {
		for f, v := range q[i*k : i*k+k] {
			row[f] = float64(v)
		}
		bi := float64(b[i])
		for f := 0; f < k; f++ {
			rf := row[f]
			p.qb[f] += rf * bi
			g := p.gram[f*k : f*k+k]
			for h := f; h < k; h++ {
				g[h] += rf * row[h]
			}
		}
	}
	for f := 0; f < k; f++ {
		for h := 0; h < f; h++ {
			p.gram[f*k+h] = p.gram[h*k+f]
		}
	}
	return p
}

// solver holds the scratch space of one k×k least squares.
type solver struct {
	a   []float64
	rhs []float64
}

func newSolver(k int) *solver {
	return &solver{a: make([]float64, k*k), rhs: make([]float64, k)}
}

// solve overwrites s.rhs with the solution of s.a·x = s.rhs (s.a symmetric
// positive definite; destroyed). It reports false if s.a is not positive
// definite, which regularisation rules out unless inputs are non-finite.
func (s *solver) solve(k int) bool {
	sym := blas64.Symmetric{Uplo: blas.Upper, N: k, Stride: k, Data: s.a}
	t, ok := lapack64.Potrf(sym)
	if !ok {
		return false
	}
	lapack64.Potrs(t, blas64.General{Rows: k, Cols: 1, Stride: 1, Data: s.rhs})
	return true
}

// solveUser writes into dst (len Factors) the person vector that minimises
// the person's part of the objective given the model: the exact least-squares
// solution over all items, using the prepared Gram matrix so the cost is
// O(|items|·k² + k³), not O(Items·k²). s is the caller's workspace.
func (p *Prepared) solveUser(s *solver, pos Positives, dst []float32) bool {
	k := p.M.Factors
	w0 := p.Cfg.NegWeight
	for i, g := range p.gram {
		s.a[i] = w0 * g
	}
	for f := 0; f < k; f++ {
		s.a[f*k+f] += p.Cfg.UserReg
		s.rhs[f] = -w0 * p.qb[f]
	}
	q, b := p.M.ItemFactors(), p.M.Biases()
	for j, it := range pos.Items {
		row := q[int(it)*k : int(it)*k+k]
		bi := float64(b[it])
		c := p.Cfg.confidence(pos.age(j))
		wr := w0*bi + c*(1-bi)
		for f, vf := range row {
			x := float64(vf)
			s.rhs[f] += wr * x
			af := s.a[f*k : f*k+k]
			d := (c - w0) * x
			for h := f; h < k; h++ {
				af[h] += d * float64(row[h])
			}
		}
	}
	if !s.solve(k) {
		return false
	}
	for f := range dst {
		dst[f] = float32(s.rhs[f])
	}
	return true
}
