package model

import (
	"errors"
	"fmt"
	"sync/atomic"
)

// ALSOptions control central training by alternating least squares.
type ALSOptions struct {
	Iterations int
	Seed       uint64 // seeds the initial item factors
	Workers    int    // 0 means GOMAXPROCS
	// AfterIteration, if set, is called after each iteration with the
	// iteration number (from 1) and the model; it may evaluate it. An error
	// stops training and is returned.
	AfterIteration func(iter int, m *MF) error
}

// TrainALS minimises the MF objective centrally: the central twin that
// federated runs are measured against. Each iteration solves every person's
// vector exactly (as devices do), then every item's factors and bias exactly
// given all person vectors. users is the population size; h gives each
// person's training items.
func TrainALS(cfg Config, items, users int, h Histories, opts ALSOptions) (*MF, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Iterations <= 0 {
		return nil, fmt.Errorf("iterations must be positive, got %d", opts.Iterations)
	}
	m, err := NewMF(items, cfg.Factors, opts.Seed)
	if err != nil {
		return nil, err
	}
	byItem, err := transpose(cfg, items, users, h)
	if err != nil {
		return nil, err
	}
	k := cfg.Factors
	userVecs := make([]float32, users*k)
	for it := 1; it <= opts.Iterations; it++ {
		p := Prepare(m, cfg)
		var failed atomic.Bool
		parallel(users, opts.Workers, func() func(int) {
			s := newSolver(k)
			return func(u int) {
				if !p.solveUser(s, h.Positives(u), userVecs[u*k:u*k+k]) {
					failed.Store(true)
				}
			}
		})
		if failed.Load() {
			return nil, errors.New("model: a person's least squares became singular")
		}
		if !solveItems(m, cfg, userVecs, byItem, opts.Workers) {
			return nil, errors.New("model: an item's least squares became singular")
		}
		if opts.AfterIteration != nil {
			if err := opts.AfterIteration(it, m); err != nil {
				return m, err
			}
		}
	}
	return m, nil
}

// byItem lists, per item, the people who interacted with it and the
// confidence of each interaction (CSR).
type byItem struct {
	offsets []int
	users   []int32
	conf    []float64
}

func transpose(cfg Config, items, users int, h Histories) (*byItem, error) {
	t := &byItem{offsets: make([]int, items+1)}
	for u := 0; u < users; u++ {
		for _, i := range h.Positives(u).Items {
			if i < 0 || int(i) >= items {
				return nil, fmt.Errorf("model: person %d has item %d outside [0, %d)", u, i, items)
			}
			t.offsets[i+1]++
		}
	}
	for i := 0; i < items; i++ {
		t.offsets[i+1] += t.offsets[i]
	}
	t.users = make([]int32, t.offsets[items])
	t.conf = make([]float64, t.offsets[items])
	fill := append([]int(nil), t.offsets[:items]...)
	for u := 0; u < users; u++ {
		pos := h.Positives(u)
		for j, i := range pos.Items {
			t.users[fill[i]] = int32(u)
			t.conf[fill[i]] = cfg.confidence(pos.age(j))
			fill[i]++
		}
	}
	return t, nil
}

// solveItems sets every item's factors and bias to the exact minimiser given
// the person vectors, writing into m. With z_u = [p_u, 1] and x_i = [q_i, b_i]
// the item's problem is a (k+1)-dimensional weighted least squares whose
// all-people part NegWeight·Σ z_u z_uᵀ is shared by every item.
func solveItems(m *MF, cfg Config, userVecs []float32, t *byItem, workers int) bool {
	k := cfg.Factors
	d := k + 1
	users := len(userVecs) / k
	gram := make([]float64, d*d)
	z := make([]float64, d)
	for u := 0; u < users; u++ {
		for f, v := range userVecs[u*k : u*k+k] {
			z[f] = float64(v)
		}
		z[k] = 1
		for f := 0; f < d; f++ {
			for h := f; h < d; h++ {
				gram[f*d+h] += z[f] * z[h]
			}
		}
	}
	w0 := cfg.NegWeight
	q, b := m.ItemFactors(), m.Biases()
	var singular atomic.Bool
	parallel(m.Items, workers, func() func(int) {
		s := newSolver(d)
		zu := make([]float64, d)
		return func(i int) {
			for j, g := range gram {
				s.a[j] = w0 * g
			}
			for f := 0; f < d; f++ {
				s.a[f*d+f] += cfg.ItemReg
				s.rhs[f] = 0
			}
			for j := t.offsets[i]; j < t.offsets[i+1]; j++ {
				u, c := t.users[j], t.conf[j]
				for f, v := range userVecs[int(u)*k : int(u)*k+k] {
					zu[f] = float64(v)
				}
				zu[k] = 1
				for f := 0; f < d; f++ {
					s.rhs[f] += c * zu[f]
					af := s.a[f*d : f*d+d]
					x := (c - w0) * zu[f]
					for h := f; h < d; h++ {
						af[h] += x * zu[h]
					}
				}
			}
			if !s.solve(d) {
				singular.Store(true)
				return
			}
			for f := 0; f < k; f++ {
				q[i*k+f] = float32(s.rhs[f])
			}
			b[i] = float32(s.rhs[k])
		}
	})
	return !singular.Load()
}
