package model

import "fmt"

// LocalConfig is what one round asks of a device's training.
type LocalConfig struct {
	Epochs int     // alternations of (solve own vector, gradient step on the shared part)
	LR     float64 // step size of the local gradient step
	// ItemRegShare is this person's share of the item regularisation, λ_I
	// divided by the population size, so that the mean of all updates is a
	// step on the whole objective.
	ItemRegShare float64
}

// Trainer is one device's (or one simulator worker's) training scratch space,
// reused across people so training allocates nothing per update.
type Trainer struct {
	k      int
	solver *solver
	user   []float32
	local  *MF // the locally updated model, for epochs after the first
}

// NewTrainer returns a trainer for models with k factors.
func NewTrainer(k int) *Trainer {
	return &Trainer{k: k, solver: newSolver(k), user: make([]float32, k)}
}

// Update trains one person locally against the prepared global model and
// writes the update of the shared parameters (local minus global) into delta.
// It returns
// the person's loss before the step, per item (the confidence-weighted mean
// squared error). The person's vector is left in t.User() and never leaves
// the device.
//
// Every element of delta is written, so an update never reveals which items
// the person touched by which elements are zero.
func (t *Trainer) Update(p *Prepared, pos Positives, lc LocalConfig, delta []float32) (float64, error) {
	m := p.M
	if m.Factors != t.k {
		return 0, fmt.Errorf("model: trainer for %d factors given a model with %d", t.k, m.Factors)
	}
	if len(delta) != len(m.Params) {
		return 0, fmt.Errorf("model: update buffer has %d values, model has %d", len(delta), len(m.Params))
	}
	if lc.Epochs <= 0 {
		return 0, fmt.Errorf("model: local epochs must be positive, got %d", lc.Epochs)
	}
	var firstLoss float64
	cur := p
	for e := 0; e < lc.Epochs; e++ {
		if e > 0 {
			if t.local == nil || len(t.local.Params) != len(m.Params) {
				t.local = &MF{Items: m.Items, Factors: m.Factors, Params: make([]float32, len(m.Params))}
			}
			for i, v := range m.Params {
				t.local.Params[i] = v + delta[i]
			}
			cur = Prepare(t.local, p.Cfg)
		}
		if !cur.solveUser(t.solver, pos, t.user) {
			return 0, fmt.Errorf("model: person's least squares is singular (non-finite model?)")
		}
		loss := gradientStep(cur.M, p.Cfg, pos, t.user, lc, delta, e == 0)
		if e == 0 {
			firstLoss = loss
		}
	}
	return firstLoss, nil
}

// User is the person vector from the last Update.
func (t *Trainer) User() []float32 { return t.user }

// gradientStep adds (or, when first, writes) to delta one gradient-descent
// step on the person's objective with respect to the shared parameters of m,
// with the person's vector u fixed. It returns the loss at m.
func gradientStep(m *MF, cfg Config, pos Positives, u []float32, lc LocalConfig, delta []float32, first bool) float64 {
	k := m.Factors
	q, b := m.ItemFactors(), m.Biases()
	dq, db := delta[:m.Items*k], delta[m.Items*k:]
	w0 := float32(cfg.NegWeight)
	lr, reg := float32(lc.LR), float32(lc.ItemRegShare)
	decay := lr * reg
	var loss float64
	next := 0 // index into items (ascending) of the next positive
	u = u[:k]
	for i := 0; i < m.Items; i++ {
		row := q[i*k : i*k+k : i*k+k]
		s := dot(row, u)
		c, y := w0, float32(0)
		if next < len(pos.Items) && int(pos.Items[next]) == i {
			c, y = float32(cfg.confidence(pos.age(next))), 1
			next++
		}
		e := y - b[i] - s
		loss += float64(c * e * e)
		g := lr * c * e
		out := dq[i*k : i*k+k : i*k+k]
		axpby(out, g, u, -decay, row, first)
		if first {
			db[i] = g - decay*b[i]
		} else {
			db[i] += g - decay*b[i]
		}
	}
	return loss / float64(m.Items)
}

// dot is a·b over len(a) values with four partial sums, which lets the CPU
// overlap the multiply-adds; the order is fixed, so results are
// reproducible.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x, y := a[i:i+4:i+4], b[i:i+4:i+4]
		s0 += x[0] * y[0]
		s1 += x[1] * y[1]
		s2 += x[2] * y[2]
		s3 += x[3] * y[3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpby sets (when set) or adds a·x + b·y to out, four values at a time.
func axpby(out []float32, a float32, x []float32, b float32, y []float32, set bool) {
	x, y = x[:len(out)], y[:len(out)]
	i := 0
	if set {
		for ; i+4 <= len(out); i += 4 {
			o, xx, yy := out[i:i+4:i+4], x[i:i+4:i+4], y[i:i+4:i+4]
			o[0] = a*xx[0] + b*yy[0]
			o[1] = a*xx[1] + b*yy[1]
			o[2] = a*xx[2] + b*yy[2]
			o[3] = a*xx[3] + b*yy[3]
		}
		for ; i < len(out); i++ {
			out[i] = a*x[i] + b*y[i]
		}
		return
	}
	for ; i+4 <= len(out); i += 4 {
		o, xx, yy := out[i:i+4:i+4], x[i:i+4:i+4], y[i:i+4:i+4]
		o[0] += a*xx[0] + b*yy[0]
		o[1] += a*xx[1] + b*yy[1]
		o[2] += a*xx[2] + b*yy[2]
		o[3] += a*xx[3] + b*yy[3]
	}
	for ; i < len(out); i++ {
		out[i] += a*x[i] + b*y[i]
	}
}
