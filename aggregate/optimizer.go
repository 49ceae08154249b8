package aggregate

import (
	"fmt"
	"math"
	"strings"
)

// Optimizer applies a round's mean update to the global parameters: the
// server optimizers of Reddi et al. 2021, "Adaptive Federated Optimization"
// (Algorithm 2), without bias correction, as in the paper.
type Optimizer interface {
	// Step moves params by the mean client delta. Its dimension must stay
	// the same across steps.
	Step(params, delta []float32) error
	Name() string
	// State and Restore save and resume the optimizer with a checkpoint.
	State() OptimizerState
	Restore(OptimizerState) error
}

// OptimizerState is an optimizer's resumable state: its step count and
// moment vectors (nil when it has none).
type OptimizerState struct {
	Name string
	Step int
	M, V []float32
}

// OptimizerConfig selects an optimizer; zero values take the defaults.
type OptimizerConfig struct {
	Name     string  // fedavg, fedavgm, fedadagrad, fedyogi or fedadam
	LR       float64 // server learning rate η; default 1 for fedavg and fedavgm, 0.01 for the adaptive ones
	Momentum float64 // β of fedavgm; default 0.9
	Beta1    float64 // first-moment decay of the adaptive ones; default 0.9
	Beta2    float64 // second-moment decay of fedyogi and fedadam; default 0.99
	Tau      float64 // adaptivity τ; default 1e-3
}

// OptimizerNames lists the valid names.
func OptimizerNames() []string {
	return []string{"fedavg", "fedavgm", "fedadagrad", "fedyogi", "fedadam"}
}

// NewOptimizer returns the optimizer cfg names, with defaults filled in.
func NewOptimizer(cfg OptimizerConfig) (Optimizer, error) {
	adaptive := false
	switch cfg.Name {
	case "fedavg", "fedavgm":
	case "fedadagrad", "fedyogi", "fedadam":
		adaptive = true
	default:
		return nil, fmt.Errorf("unknown server optimizer %q (valid: %s)", cfg.Name, strings.Join(OptimizerNames(), ", "))
	}
	if cfg.LR == 0 {
		cfg.LR = 1
		if adaptive {
			cfg.LR = 0.01
		}
	}
	if cfg.Momentum == 0 {
		cfg.Momentum = 0.9
	}
	if cfg.Beta1 == 0 {
		cfg.Beta1 = 0.9
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = 0.99
	}
	if cfg.Tau == 0 {
		cfg.Tau = 1e-3
	}
	switch {
	case !(cfg.LR > 0) || math.IsInf(cfg.LR, 1):
		return nil, fmt.Errorf("server learning rate must be positive and finite, got %v", cfg.LR)
	case !(cfg.Momentum >= 0 && cfg.Momentum < 1):
		return nil, fmt.Errorf("server momentum must be in [0, 1), got %v", cfg.Momentum)
	case !(cfg.Beta1 >= 0 && cfg.Beta1 < 1):
		return nil, fmt.Errorf("server beta1 must be in [0, 1), got %v", cfg.Beta1)
	case !(cfg.Beta2 >= 0 && cfg.Beta2 < 1):
		return nil, fmt.Errorf("server beta2 must be in [0, 1), got %v", cfg.Beta2)
	case !(cfg.Tau > 0) || math.IsInf(cfg.Tau, 1):
		return nil, fmt.Errorf("server tau must be positive and finite, got %v", cfg.Tau)
	}
	return &optimizer{cfg: cfg}, nil
}

// optimizer implements all five: they differ only in how they update the
// moments.
type optimizer struct {
	cfg  OptimizerConfig
	step int
	m, v []float32
}

func (o *optimizer) Name() string { return o.cfg.Name }

func (o *optimizer) Step(params, delta []float32) error {
	if len(params) != len(delta) {
		return fmt.Errorf("aggregate: %d parameters but a delta of %d", len(params), len(delta))
	}
	if o.m != nil && len(o.m) != len(params) {
		return fmt.Errorf("aggregate: optimizer state has %d values, parameters have %d", len(o.m), len(params))
	}
	c := o.cfg
	lr := float32(c.LR)
	switch c.Name {
	case "fedavg":
		for i, d := range delta {
			params[i] += lr * d
		}
	case "fedavgm":
		o.init(len(params), false)
		b := float32(c.Momentum)
		for i, d := range delta {
			o.m[i] = b*o.m[i] + d
			params[i] += lr * o.m[i]
		}
	default:
		o.init(len(params), true)
		b1, b2, tau := float32(c.Beta1), float32(c.Beta2), float32(c.Tau)
		switch c.Name {
		case "fedadagrad":
			for i, d := range delta {
				o.v[i] += d * d
			}
		case "fedyogi":
			for i, d := range delta {
				o.v[i] -= (1 - b2) * d * d * sign(o.v[i]-d*d)
			}
		case "fedadam":
			for i, d := range delta {
				o.v[i] = b2*o.v[i] + (1-b2)*d*d
			}
		}
		for i, d := range delta {
			o.m[i] = b1*o.m[i] + (1-b1)*d
			params[i] += lr * o.m[i] / (float32(math.Sqrt(float64(o.v[i]))) + tau)
		}
	}
	o.step++
	return nil
}

// init sizes the moments on the first step; the second moment starts at τ²
// as in the paper.
func (o *optimizer) init(n int, second bool) {
	if o.m != nil {
		return
	}
	o.m = make([]float32, n)
	if second {
		o.v = make([]float32, n)
		t2 := float32(o.cfg.Tau * o.cfg.Tau)
		for i := range o.v {
			o.v[i] = t2
		}
	}
}

func sign(x float32) float32 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

func (o *optimizer) State() OptimizerState {
	return OptimizerState{Name: o.cfg.Name, Step: o.step, M: clone(o.m), V: clone(o.v)}
}

func (o *optimizer) Restore(s OptimizerState) error {
	if s.Name != o.cfg.Name {
		return fmt.Errorf("aggregate: state of %q cannot resume %q", s.Name, o.cfg.Name)
	}
	if s.V != nil && len(s.V) != len(s.M) {
		return fmt.Errorf("aggregate: state has %d first and %d second moments", len(s.M), len(s.V))
	}
	o.step, o.m, o.v = s.Step, clone(s.M), clone(s.V)
	return nil
}

func clone(x []float32) []float32 {
	if x == nil {
		return nil
	}
	return append([]float32(nil), x...)
}
