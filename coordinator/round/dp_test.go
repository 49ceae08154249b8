package round

import (
	"errors"
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/privacy"
)

// TestDPNeedsAnInjectedNoiseSource: the machine draws no randomness of its
// own (it once fell back to crypto/rand), so a configuration that needs
// noise is refused without a source, and one that does not is accepted.
func TestDPNeedsAnInjectedNoiseSource(t *testing.T) {
	central := DefaultConfig()
	central.DP = &DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5}
	adaptive := central
	adaptive.DP = &DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5, Adaptive: &privacy.AdaptiveClip{}}
	distributed := secureConfig()
	distributed.DP = &DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5, Distributed: true}
	for _, c := range []struct {
		name  string
		cfg   Config
		noise *privacy.Noise
		want  error
	}{
		{"central DP without noise", central, nil, ErrNoNoise},
		{"adaptive clipping without noise", adaptive, nil, ErrNoNoise},
		{"central DP with noise", central, privacy.NewSeededNoise([32]byte{1}), nil},
		{"distributed DP without noise", distributed, nil, nil},
		{"no DP without noise", DefaultConfig(), nil, nil},
	} {
		opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
		p := Parts{Population: []string{"a", "b", "c"}, Snapshot: Snapshot{Params: make([]float32, secureDim), SelectionKey: testSelectionKey}, Optimizer: opt, Noise: c.noise}
		if _, err := NewMachine(c.cfg, p, time.Unix(1000, 0)); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// TestDPRefusesOverSelection: a round committed at the goal lets one
// device push another's report out (sensitivity 2C), which the accounting
// does not count, so differential privacy refuses over-selection.
func TestDPRefusesOverSelection(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Goal, cfg.OverSelection = 10, 1.3
	if err := cfg.Validate(); err != nil {
		t.Fatalf("over-selection without DP: %v", err)
	}
	cfg.DP = &DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "over-selection") {
		t.Fatalf("DP with over-selection 1.3: %v", err)
	}
}

// roundsUp is a source of rounding coins that rounds every fraction up.
type roundsUp struct{}

func (roundsUp) Read(b []byte) (int, error) { clear(b); return len(b), nil }

// TestSensitivityBoundsTheWorstInput builds, for each configuration of
// central DP, the largest contribution a device that follows the protocol
// can make to a round's sum, and checks the sensitivity the noise is sized
// for bounds it. Under SecAgg the coordinator cannot clip, and a clipped
// update rounded up in every coordinate exceeds the clip norm: the noise
// was once sized for the clip norm alone.
func TestSensitivityBoundsTheWorstInput(t *testing.T) {
	dp := func() *DPConfig { return &DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5} }
	for _, c := range []struct {
		name   string
		codec  *CodecConfig
		secure bool
	}{
		{"float32", nil, false},
		{"8 bits, plain", &CodecConfig{Bits: 8, Norm: 1}, false},
		{"8 bits, SecAgg", &CodecConfig{Bits: 8, Norm: 1}, true},
		{"12 bits, rotated, SecAgg", &CodecConfig{Bits: 12, Rotate: true, Norm: 1}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := secureConfig()
			cfg.Codec, cfg.DP = c.codec, dp()
			if !c.secure {
				cfg.SecAgg = nil
			}
			ids := []string{"a", "b", "c"}
			opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
			// 40 = 20·2 values: the rotation pads none, so an update can be
			// rotated to any vector of its norm.
			m, err := NewMachine(cfg, Parts{Population: ids, Snapshot: Snapshot{Params: make([]float32, 40), SelectionKey: testSelectionKey}, Optimizer: opt,
				Noise: privacy.NewSeededNoise([32]byte{1})}, time.Unix(1000, 0))
			if err != nil {
				t.Fatal(err)
			}
			delta := m.sensitivity()
			worst := worstContribution(t, m)
			if !(worst <= delta) {
				t.Fatalf("a device can contribute norm %v, the noise is sized for %v", worst, delta)
			}
			if c.secure && !(worst > cfg.DP.ClipNorm) {
				t.Fatalf("the worst secure input has norm %v, not above the clip: the test proves nothing", worst)
			}
			if !c.secure && delta != cfg.DP.ClipNorm {
				t.Fatalf("sensitivity %v where the coordinator clips to %v", delta, cfg.DP.ClipNorm)
			}
		})
	}
}

// worstContribution is the norm of the largest contribution one device can
// make to m's current round. Where the coordinator sees the report, an
// update a hair above the clip norm (once let through unclipped), as the
// machine weighs it; under SecAgg, an update of the clip norm whose coordinates (as
// quantized, after any rotation) are all the same and all rounded up,
// decoded as the coordinator decodes the sum.
func worstContribution(t *testing.T, m *Machine) float64 {
	t.Helper()
	d := len(m.params)
	if m.sec == nil {
		update := make([]float32, d)
		for i := range update {
			update[i] = float32(m.clip * (1 + 5e-6) / math.Sqrt(float64(d)))
		}
		r := Report{Round: m.round, Weight: 1, Update: update}
		if m.codec != nil {
			q, _ := m.codec.Alone().Quantizer()
			r.Encoded, _ = q.AppendEncode(nil, update, roundsUp{})
		}
		if _, err := m.CheckIn(m.opened, "a", -1); err != nil {
			t.Fatal(err)
		}
		if err := m.Report(m.opened, "a", r); err != nil {
			t.Fatal(err)
		}
		sum := make([]float32, m.mean.Len())
		if err := m.mean.Sum(sum); err != nil {
			t.Fatal(err)
		}
		return privacy.L2Norm(sum)
	}
	u := *m.codec
	if u.EncodedLen(d) != d {
		t.Fatalf("%d values pad to %d", d, u.EncodedLen(d))
	}
	y := make([]float32, d) // as quantized: C/√d each, off the grid
	for i := range y {
		y[i] = float32(m.clip / math.Sqrt(float64(d)))
	}
	x := y
	if u.Rotate {
		var err error
		if x, err = u.Unrotate(nil, slices.Clone(y), d); err != nil {
			t.Fatal(err)
		}
	}
	privacy.ClipL2(x, m.clip) // what the device sends is clipped
	enc, _, err := u.Encode(nil, x, nil, roundsUp{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := u.DecodeSum(nil, enc, d)
	if err != nil {
		t.Fatal(err)
	}
	return privacy.L2Norm(sum)
}

// TestEpsilonAgainstTheCoordinator: the coordinator knows each cohort, so
// against it a device's ε is its own rounds' at q = 1, the worst device's
// shown; observers of the model get the amplified figure. Under central DP
// the coordinator holds the un-noised sum: no bound.
func TestEpsilonAgainstTheCoordinator(t *testing.T) {
	devs, ids := newSecureDevices(12, 3)
	byID := map[string]*secureDevice{}
	for _, d := range devs {
		byID[d.id] = d
	}
	cfg := secureConfig()
	cfg.Goal, cfg.MinFraction = 6, 0.5 // q = 1/2
	cfg.Codec.Bits = 16
	cfg.DP = &DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5, Distributed: true}
	m, now := newSecureMachine(t, cfg, ids)
	rounds := map[string]int{}
	var o Outcome
	for range 4 {
		var cohort []*secureDevice
		for _, id := range m.Cohort() {
			cohort = append(cohort, byID[id])
			rounds[id]++
		}
		if o, now = runSecureRound(t, m, now, cohort); !o.Committed {
			t.Fatalf("round %d: %s", o.Round, o.Reason)
		}
	}
	most := 0
	for _, n := range rounds {
		most = max(most, n)
	}
	mech := *o.Snapshot.Spends[0].Distributed
	want, err := privacy.DistributedDGaussEpsilon(mech, 1, most, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if o.Coordinator != want || !(o.Observers < o.Coordinator) {
		t.Fatalf("against the coordinator %v, want %v (%d rounds at q = 1); against observers %v", o.Coordinator, want, most, o.Observers)
	}
	if !maps.Equal(o.Snapshot.Participation, rounds) {
		t.Fatalf("participation %v, counted %v", o.Snapshot.Participation, rounds)
	}

	central := DefaultConfig()
	central.DP = &DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5}
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	mc, err := NewMachine(central, Parts{Population: []string{"a"}, Snapshot: Snapshot{Params: []float32{0}, SelectionKey: testSelectionKey},
		Optimizer: opt, Noise: privacy.NewSeededNoise([32]byte{})}, now)
	if err != nil {
		t.Fatal(err)
	}
	mc.CheckIn(now, "a", -1)
	if err := mc.Report(now, "a", Report{Round: 1, Update: []float32{0.5}, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	if oc := mc.Ready()[0]; !oc.Committed || !math.IsInf(oc.Coordinator, 1) || math.IsInf(oc.Observers, 0) {
		t.Fatalf("central DP: %+v", oc.Epsilons)
	}
}

// TestCentralNoiseIsDrawnOnTheGrid: the central noise is integer noise on
// a grid added to the exact sum rounded to it (it was a float sampler's
// output added to a float sum, whose possible results depend on the sum).
// Sums within one cell of the grid release the same thing; the noise has
// the standard deviation σ = z·Δ′ the accountant's z asks for, Δ′ the clip
// plus the grid's √n; and the release is that integer vector scaled.
func TestCentralNoiseIsDrawnOnTheGrid(t *testing.T) {
	const dim = 2000
	machine := func(update []float32) *Machine {
		cfg := DefaultConfig()
		cfg.DP = &DPConfig{NoiseMultiplier: 3, ClipNorm: 1, Delta: 1e-5}
		opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
		m, err := NewMachine(cfg, Parts{Population: []string{"a"}, Snapshot: Snapshot{Params: make([]float32, dim), SelectionKey: testSelectionKey},
			Optimizer: opt, Noise: privacy.NewSeededNoise([32]byte{9})}, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		m.CheckIn(m.opened, "a", -1)
		if err := m.mean.Add(update, 1); err != nil { // as Report would, without committing
			t.Fatal(err)
		}
		return m
	}
	x, nearby := make([]float32, dim), make([]float32, dim)
	for i := range x {
		x[i] = 0x1p-7 * float32(i%7-3) // on the grid of 2^−25 (σ = 3·(1 + g√n) is in [2, 4))
		nearby[i] = x[i] + 0x1p-27     // and within half a cell of it
	}
	a, b := machine(x), machine(nearby)
	ints, unit, delta, err := a.sumOnGrid()
	if err != nil {
		t.Fatal(err)
	}
	if unit != 0x1p-25 || delta != 1+unit*math.Sqrt(dim) {
		t.Fatalf("grid %v, sensitivity %v", unit, delta)
	}
	if other, _, _, _ := b.sumOnGrid(); !slices.Equal(ints, other) {
		t.Fatal("sums within a cell of the grid round apart")
	}
	stdA, errA := a.noisedSum()
	stdB, errB := b.noisedSum()
	if errA != nil || errB != nil || stdA != 3*delta || !slices.Equal(a.step, b.step) {
		t.Fatalf("σ %v (%v), %v (%v), want %v; the releases agree: %v", stdA, errA, stdB, errB, 3*delta, slices.Equal(a.step, b.step))
	}
	// The release is the rounded sum plus integer noise, scaled: recompute
	// the noise from the same seed.
	want := slices.Clone(ints)
	privacy.NewSeededNoise([32]byte{9}).AddDiscreteGaussianInt64(want, stdA/unit)
	var sq float64
	for i := range want {
		if a.step[i] != float32(float64(want[i])*unit) {
			t.Fatalf("value %d released as %v, want %v", i, a.step[i], float32(float64(want[i])*unit))
		}
		d := float64(want[i]-ints[i]) * unit
		sq += d * d
	}
	if got := math.Sqrt(sq / dim); math.Abs(got/stdA-1) > 0.05 {
		t.Fatalf("noise std %v, want %v", got, stdA)
	}
}

// TestCentralNoiseUnderSecAgg: a secure round with central DP commits
// with noise z·Δ, Δ the quantized input's bound, on the ring's own grid.
func TestCentralNoiseUnderSecAgg(t *testing.T) {
	devs, ids := newSecureDevices(5, 13)
	cfg := secureConfig()
	cfg.DP = &DPConfig{NoiseMultiplier: 0.5, ClipNorm: 1, Delta: 1e-5}
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	now := time.Unix(1000, 0)
	m, err := NewMachine(cfg, Parts{Population: ids, Snapshot: Snapshot{Params: make([]float32, secureDim), SelectionKey: testSelectionKey},
		Optimizer: opt, Noise: privacy.NewSeededNoise([32]byte{4})}, now)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := runSecureRound(t, m, now, devs)
	if !o.Committed || !(o.Sensitivity > 1) || o.NoiseStd != 0.5*o.Sensitivity || o.Coordinator != math.Inf(1) {
		t.Fatalf("committed %v (%s), sensitivity %v, noise %v", o.Committed, o.Reason, o.Sensitivity, o.NoiseStd)
	}
}
