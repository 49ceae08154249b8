package round

import (
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/privacy"
)

// secureDevice is a scripted device of a secure round: it drops out before
// sending its message of phase dropAt (PhaseDone: never). Its randomness
// (SecAgg secrets, rounding coins, distributed DP noise) is seeded from its
// name and the round (deviceSeed), so every run is the same.
type secureDevice struct {
	id      string
	plan    *Plan
	client  *secagg.Client
	done    bool // its unmask response was taken (its client stays in PhaseUnmask)
	update  []float32
	encoded []uint32
	dropAt  secagg.Phase
	corrupt bool               // reveals a wrong share of the first seed it unmasks
	key     ed25519.PrivateKey // its enrolment key, for malicious-server rounds
}

const secureDim = 37 // padded to 40 = 20·2 by the rotation

func secureConfig() Config {
	cfg := DefaultConfig()
	cfg.Codec = &CodecConfig{Bits: 12, Rotate: true, Norm: 1}
	cfg.SecAgg = &SecAggConfig{AdversaryRate: 0, DropoutRate: 0.3, ThreatModel: secagg.NoAdversary, PhaseWindow: time.Minute}
	return cfg
}

// deviceSeed is device id's randomness for purpose in round.
func deviceSeed(id, purpose string, round int64) [32]byte {
	return sha256.Sum256(fmt.Appendf(nil, "tacit test device %q %s round %d", id, purpose, round))
}

// encodeUpdate is device id's encoding of update in round with codec u, as
// the client package does it: quantized with seeded rounding coins, and
// under distributed DP (u.LocalNoise) with seeded discrete Gaussian noise
// added in the ring.
func encodeUpdate(id string, round int64, u codec.UpdateCodec, update []float32) ([]uint32, error) {
	enc, _, err := u.Encode(nil, update, nil, rand.NewChaCha8(deviceSeed(id, "rounding", round)))
	if err != nil || u.LocalNoise == 0 {
		return enc, err
	}
	if err := privacy.NewSeededNoise(deviceSeed(id, "noise", round)).AddDiscreteGaussian(enc, u.LocalNoise); err != nil {
		return nil, err
	}
	for i := range enc {
		enc[i] &= codec.RingMask(u.ModBits)
	}
	return enc, nil
}

// join takes the device into the secure round of plan (its check-in's): it
// starts its SecAgg client and sends the advertisement of its keys, which
// it returns with the machine's answer. Errors of the device's own making
// fail the test.
func (d *secureDevice) join(t *testing.T, m *Machine, now time.Time, plan *Plan) (*secagg.AdvertiseKeys, error) {
	t.Helper()
	var err error
	d.plan, d.encoded, d.done = plan, nil, false
	opts := secagg.ClientOptions{SigningKey: d.key}
	if d.client, err = secagg.NewClientWith(*plan.SecAgg, plan.SecAggID, rand.NewChaCha8(deviceSeed(d.id, "secagg", plan.Round)), opts); err != nil {
		t.Fatalf("%s: %v", d.id, err)
	}
	adv, err := d.client.Start()
	if err != nil {
		t.Fatalf("%s: %v", d.id, err)
	}
	return adv, m.SecAggSend(now, d.id, plan.Round, adv)
}

// step takes the device one SecAgg phase on: it fetches the coordinator's
// message that opens its phase and sends its answer (for the masked input,
// of d.update encoded with the plan's codec). It returns the message, the
// answer and the machine's refusal of either; with no message yet (the
// phase before is open), the wait instead.
func (d *secureDevice) step(t *testing.T, m *Machine, now time.Time) (in secagg.ServerMessage, out secagg.ClientMessage, wait time.Duration, err error) {
	t.Helper()
	phase := d.client.Phase()
	in, wait, err = m.SecAggFetch(now, d.id, d.plan.Round, phase)
	if err != nil || in == nil {
		return nil, nil, wait, err
	}
	if phase == secagg.PhaseMaskedInput {
		if d.encoded, err = encodeUpdate(d.id, d.plan.Round, *d.plan.Codec, d.update); err != nil {
			t.Fatalf("%s: %v", d.id, err)
		}
		if err := d.client.SetInput(d.encoded); err != nil {
			t.Fatalf("%s: %v", d.id, err)
		}
	}
	if out, err = d.client.Step(in); err != nil {
		t.Fatalf("%s: step %v: %v", d.id, phase, err)
	}
	if u, ok := out.(*secagg.UnmaskResponse); ok && d.corrupt && len(u.Seeds) > 0 {
		u.Seeds[0].Share[0] ^= 1
	}
	err = m.SecAggSend(now, d.id, d.plan.Round, out)
	d.done = err == nil && phase == secagg.PhaseUnmask
	return in, out, 0, err
}

// phase is the SecAgg phase whose message the device sends next; PhaseDone
// once it has sent them all.
func (d *secureDevice) phase() secagg.Phase {
	if d.done {
		return secagg.PhaseDone
	}
	return d.client.Phase()
}

// runSecureRound plays one secure round of the devices on m, ticking
// through deadlines only when everyone left is waiting.
func runSecureRound(t *testing.T, m *Machine, now time.Time, devs []*secureDevice) (Outcome, time.Time) {
	t.Helper()
	return playSecureRound(t, m, now, devs, func() {})
}

// playSecureRound is runSecureRound calling after after every event it
// gives m.
func playSecureRound(t *testing.T, m *Machine, now time.Time, devs []*secureDevice, after func()) (Outcome, time.Time) {
	t.Helper()
	for _, d := range devs {
		if d.dropAt == secagg.PhaseAdvertiseKeys {
			continue // never checks in
		}
		res, err := m.CheckIn(now, d.id, -1)
		if err != nil || res.Plan == nil || res.Plan.SecAgg == nil {
			t.Fatalf("%s: check-in %+v, %v", d.id, res, err)
		}
		after()
		if _, err := d.join(t, m, now, res.Plan); err != nil {
			t.Fatalf("%s: advertise: %v", d.id, err)
		}
		after()
	}
	for step := 0; step < 20; step++ {
		if out := m.Ready(); len(out) > 0 {
			return out[0], now
		}
		moved := false
		for _, d := range devs {
			if d.client == nil || d.phase() >= d.dropAt {
				continue
			}
			phase := d.phase()
			in, _, _, err := d.step(t, m, now)
			after()
			if err != nil {
				var r *Rejection
				if errors.As(err, &r) && r.Code == Late {
					continue // the round ended
				}
				t.Fatalf("%s: %v: %v", d.id, phase, err)
			}
			moved = moved || in != nil
		}
		if !moved { // only dropouts to wait for: on to the phase's deadline
			st := m.Status()
			now = st.Deadline
			if st.Phase == Selecting {
				now = st.Opened.Add(m.cfg.SelectionTimeout)
			}
			m.Tick(now)
			after()
		}
	}
	t.Fatal("the round did not end")
	return Outcome{}, now
}

// newSecureMachine is a fedavg machine (learning rate 1: the model becomes
// the round's mean update) with a zero model over the devices.
func newSecureMachine(t *testing.T, cfg Config, ids []string) (*Machine, time.Time) {
	t.Helper()
	return newKeyedSecureMachine(t, cfg, ids, testSelectionKey)
}

// newKeyedSecureMachine is newSecureMachine with cohorts drawn by key.
func newKeyedSecureMachine(t *testing.T, cfg Config, ids []string, key [32]byte) (*Machine, time.Time) {
	t.Helper()
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	now := time.Unix(1000, 0)
	m, err := NewMachine(cfg, Parts{Population: ids, Snapshot: Snapshot{Params: make([]float32, secureDim), SelectionKey: key}, Optimizer: opt}, now)
	if err != nil {
		t.Fatal(err)
	}
	return m, now
}

func newSecureDevices(n int, seed uint64) ([]*secureDevice, []string) {
	r := rand.New(rand.NewPCG(seed, 1))
	var devs []*secureDevice
	var ids []string
	for i := range n {
		d := &secureDevice{id: fmt.Sprintf("d%02d", i), update: make([]float32, secureDim), dropAt: secagg.PhaseDone}
		for j := range d.update {
			d.update[j] = float32(r.NormFloat64() * 0.1)
		}
		devs, ids = append(devs, d), append(ids, d.id)
	}
	return devs, ids
}

// TestSecureRoundCommitsTheSurvivorsMean: with devices dropping out at each
// SecAgg phase, the committed model is exactly the decoded modular sum of
// the surviving devices' encoded updates over their number: what plain
// aggregation of the same quantized vectors gives. Too many dropouts
// abandon the round and leave the model as it was.
func TestSecureRoundCommitsTheSurvivorsMean(t *testing.T) {
	for _, drops := range [][]secagg.Phase{
		nil,
		{secagg.PhaseAdvertiseKeys},
		{secagg.PhaseShareKeys, secagg.PhaseShareKeys},
		{secagg.PhaseMaskedInput},
		{secagg.PhaseUnmask, secagg.PhaseMaskedInput},
		{secagg.PhaseAdvertiseKeys, secagg.PhaseShareKeys, secagg.PhaseMaskedInput, secagg.PhaseUnmask},
	} {
		t.Run(fmt.Sprint(drops), func(t *testing.T) {
			devs, ids := newSecureDevices(10, uint64(len(drops)))
			for i, p := range drops {
				devs[i].dropAt = p
			}
			m, now := newSecureMachine(t, secureConfig(), ids)
			o, _ := runSecureRound(t, m, now, devs)
			if !o.Committed {
				t.Fatalf("round abandoned: %s", o.Reason)
			}
			var codec *codec.UpdateCodec
			var sum []uint32
			survivors := 0
			for _, d := range devs {
				if d.dropAt <= secagg.PhaseMaskedInput { // sent no masked input
					continue
				}
				codec = d.plan.Codec
				if sum == nil {
					sum = make([]uint32, len(d.encoded))
				}
				for i, v := range d.encoded {
					sum[i] = (sum[i] + v) & (1<<codec.ModBits - 1)
				}
				survivors++
			}
			want, err := codec.DecodeSum(nil, sum, secureDim)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				want[i] = float32(float64(want[i]) / float64(survivors))
			}
			if _, got := m.Model(); !slices.Equal(got, want) || o.Reports != survivors {
				t.Fatalf("model %v with %d reports, want %v from %d survivors", got, o.Reports, want, survivors)
			}
		})
	}
}

// TestSecureRoundAbortsBelowThreshold: when too many devices drop after
// sharing keys, the round is abandoned and the model stays.
func TestSecureRoundAbortsBelowThreshold(t *testing.T) {
	devs, ids := newSecureDevices(6, 3)
	for _, d := range devs[:4] {
		d.dropAt = secagg.PhaseMaskedInput
	}
	m, now := newSecureMachine(t, secureConfig(), ids)
	o, _ := runSecureRound(t, m, now, devs)
	if o.Committed {
		t.Fatal("a round with 2 of 6 masked inputs committed")
	}
	if v, params := m.Model(); v != 0 || slices.ContainsFunc(params, func(x float32) bool { return x != 0 }) {
		t.Fatalf("the abandoned round changed the model: version %d", v)
	}
}

// TestSecureRoundRefusals: reports, strangers and forged senders are
// refused with typed errors, and the round still commits.
func TestSecureRoundRefusals(t *testing.T) {
	devs, ids := newSecureDevices(4, 5)
	m, now := newSecureMachine(t, secureConfig(), append(ids, "stranger"))
	res, _ := m.CheckIn(now, "d00", -1)
	if err := m.Report(now, "d00", Report{Round: res.Plan.Round, Update: make([]float32, secureDim)}); !isRejection(err, BadUpdate) {
		t.Errorf("a plain report in a secure round: %v", err)
	}
	forged := &secagg.AdvertiseKeys{From: res.Plan.SecAggID + 1}
	if err := m.SecAggSend(now, "d00", res.Plan.Round, forged); !isRejection(err, BadUpdate) {
		t.Errorf("a message claiming another sender: %v", err)
	}
	if _, _, err := m.SecAggFetch(now, "d01", res.Plan.Round, secagg.PhaseShareKeys); !isRejection(err, NotSelected) {
		t.Errorf("a fetch before check-in: %v", err)
	}
	if err := m.SecAggSend(now, "nobody", res.Plan.Round, forged); !isRejection(err, NotEnrolled) {
		t.Errorf("an unknown device: %v", err)
	}
	o, _ := runSecureRound(t, m, now, devs)
	if !o.Committed {
		t.Fatalf("round abandoned: %s", o.Reason)
	}
}

func isRejection(err error, code RejectCode) bool {
	var r *Rejection
	return errors.As(err, &r) && r.Code == code
}

// TestDistributedDPRound: with distributed DP the devices' plan carries the
// local noise that gives the fewest accepted survivors' sum the central
// multiplier, and a committed round is composed as a distributed discrete
// Gaussian by the RDP accountant. The PLD accountant, which does not count
// a device's own noise share, is refused.
func TestDistributedDPRound(t *testing.T) {
	devs, ids := newSecureDevices(8, 7)
	cfg := secureConfig()
	cfg.Codec.Bits = 16
	cfg.DP = &DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5, Distributed: true}
	cfg.MinFraction = 0.75
	m, now := newSecureMachine(t, cfg, ids)
	mech := DistributedMechanism(cfg, secureDim, len(ids), cfg.DP.ClipNorm).WithNoiseMultiplier(1)
	if mech.MinSurvivors != 6 || mech.Colluders != 0 {
		t.Fatalf("noise calibrated for %d survivors, %d colluding, want 6 (0.75 of 8) and none", mech.MinSurvivors, mech.Colluders)
	}
	o, _ := runSecureRound(t, m, now, devs)
	if u := devs[0].plan.Codec; !o.Committed || u.LocalNoise != mech.LocalStd || u.MinSurvivors != 6 {
		t.Fatalf("committed %v (%s), local noise %v for %d survivors, want %v for 6", o.Committed, o.Reason, u.LocalNoise, u.MinSurvivors, mech.LocalStd)
	}
	want, _ := privacy.DistributedDGaussEpsilon(mech, 1, 1, 1e-5)
	if o.Observers != want || math.IsInf(want, 0) {
		t.Fatalf("ε %v, want the distributed discrete Gaussian's %v", o.Observers, want)
	}
	cfg.DP.Accountant = privacy.AccountantPLD
	if err := cfg.Validate(); !errors.Is(err, privacy.ErrBadParameter) {
		t.Fatalf("distributed DP with the PLD accountant: %v", err)
	}
}

// TestDistributedDPColluders: with devices that may collude (the adversary
// rate SecAgg is sized for), the plan's local noise is sized for the
// honest shares H = n_min − ⌈rate·expected⌉, and the plan says how many
// colluders it counts. A cohort larger than expected may hold more
// colluders, ⌈rate·cohort⌉: a round whose survivors, less those, fall
// below H is abandoned, and one more survivor lets it commit.
func TestDistributedDPColluders(t *testing.T) {
	const population, goal = 12, 8
	cfg := secureConfig()
	cfg.Codec.Bits = 16
	cfg.SecAgg = SemiHonestSecAgg(0.25, 0.4, time.Minute)
	cfg.DP = &DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5, Distributed: true}
	cfg.Goal, cfg.MinFraction = goal, 0.75
	// n_min = ⌈0.75·8⌉ = 6, of which ⌈0.25·8⌉ = 2 may collude: H = 4.
	mech := DistributedMechanism(cfg, secureDim, population, cfg.DP.ClipNorm).WithNoiseMultiplier(1)
	honest := mech
	honest.MinSurvivors, honest.Colluders = 4, 0
	if mech.MinSurvivors != 6 || mech.Colluders != 2 || mech.LocalStd != honest.WithNoiseMultiplier(1).LocalStd {
		t.Fatalf("mechanism %+v: want 6 survivors, 2 colluding, and the noise of 4", mech)
	}
	for _, survivors := range []int{6, 7} {
		devs, ids := newSecureDevices(population, 5)
		// A cohort of at least 10, where ⌈0.25·10⌉ = 3 may collude.
		var m *Machine
		var now time.Time
		for key := byte(1); m == nil || len(m.Cohort()) < 10; key++ {
			m, now = newKeyedSecureMachine(t, cfg, ids, [32]byte{key})
		}
		var cohort []*secureDevice
		for _, d := range devs {
			if slices.Contains(m.Cohort(), d.id) {
				if len(cohort) >= survivors {
					d.dropAt = secagg.PhaseMaskedInput
				}
				cohort = append(cohort, d)
			}
		}
		o, _ := runSecureRound(t, m, now, cohort)
		if u := cohort[0].plan.Codec; u.LocalNoise != mech.LocalStd || u.MinSurvivors != 6 || u.Colluders != 2 {
			t.Fatalf("plan's codec %+v, want local noise %v for 6 survivors, 2 colluding", u, mech.LocalStd)
		}
		if commit := survivors-3 >= 4; o.Committed != commit || o.Reports != survivors ||
			(!commit && o.Reason != "6 masked inputs, of which 3 may collude: fewer than the 4 honest ones the noise is sized for") {
			t.Fatalf("%d survivors of %d: committed %v (%s) with %d reports, want committed %v", survivors, len(cohort), o.Committed, o.Reason, o.Reports, commit)
		}
	}
}

// TestSecureRoundOfThree: three devices are too few for a sparse neighbour
// graph at the default rates; the round runs plain SecAgg (the full graph)
// and commits.
func TestSecureRoundOfThree(t *testing.T) {
	devs, ids := newSecureDevices(3, 11)
	cfg := secureConfig()
	cfg.SecAgg = SemiHonestSecAgg(0.05, 0.1, time.Minute)
	m, now := newSecureMachine(t, cfg, ids)
	o, _ := runSecureRound(t, m, now, devs)
	if !o.Committed || o.Reports != 3 || devs[0].plan.SecAgg.Degree != 2 {
		t.Fatalf("committed %v (%s) with %d reports, degree %d", o.Committed, o.Reason, o.Reports, devs[0].plan.SecAgg.Degree)
	}
}

// TestCodecRangeFollowsTheRotation: rotated, the round's range is ClipK of
// the coordinates an update of the norm spreads to; not rotated, one
// coordinate may carry the whole norm, and the range is the norm.
func TestCodecRangeFollowsTheRotation(t *testing.T) {
	for _, rotate := range []bool{true, false} {
		_, ids := newSecureDevices(8, 3)
		cfg := secureConfig()
		cfg.Codec.Rotate, cfg.Codec.Norm = rotate, 2
		m, now := newSecureMachine(t, cfg, ids)
		res, err := m.CheckIn(now, ids[0], -1)
		if err != nil || res.Plan == nil {
			t.Fatalf("check-in %+v, %v", res, err)
		}
		want := 2.0
		if rotate {
			want = codec.ClipK(12, len(ids)) * 2 / math.Sqrt(40)
		}
		if got := res.Plan.Codec.Range; math.Abs(got-want) > 1e-12*want {
			t.Errorf("rotate %v: range %v, want %v", rotate, got, want)
		}
	}
}

// TestTooFewMaskedInputsUnmaskNothing: 8 of 10 devices send masked inputs
// (within the dropout rate) where 9 are needed. The round is abandoned at
// the end of the masked-input phase, before the SecAgg server hands out a
// single unmask request: the sum of the 8 is never learnt.
func TestTooFewMaskedInputsUnmaskNothing(t *testing.T) {
	devs, ids := newSecureDevices(10, 4)
	for _, d := range devs[:2] {
		d.dropAt = secagg.PhaseMaskedInput
	}
	cfg := secureConfig()
	cfg.MinFraction = 0.9
	m, now := newSecureMachine(t, cfg, ids)
	sr := m.sec
	o, _ := runSecureRound(t, m, now, devs)
	if o.Committed || o.Reason != "8 masked inputs, 9 needed: nothing unmasked" {
		t.Fatalf("committed %v (%s), want abandoned for too few masked inputs", o.Committed, o.Reason)
	}
	if n := len(sr.out[secagg.PhaseUnmask]); n != 0 || sr.server.Phase() != secagg.PhaseMaskedInput {
		t.Fatalf("%d unmask requests handed out, server in %v", n, sr.server.Phase())
	}
}

// TestTooManyDropoutsUnmaskNothing: with secure aggregation sized for 30%
// dropouts, 4 of 10 devices dropping before their masked input (6 left,
// 5 needed) abandons the round before any unmask request.
func TestTooManyDropoutsUnmaskNothing(t *testing.T) {
	devs, ids := newSecureDevices(10, 5)
	for _, d := range devs[:4] {
		d.dropAt = secagg.PhaseMaskedInput
	}
	m, now := newSecureMachine(t, secureConfig(), ids)
	sr := m.sec
	o, _ := runSecureRound(t, m, now, devs)
	if o.Committed || !strings.Contains(o.Reason, "4 of 10 selected devices dropped out before their masked input, more than the 3") {
		t.Fatalf("committed %v (%s), want abandoned for too many dropouts", o.Committed, o.Reason)
	}
	if n := len(sr.out[secagg.PhaseUnmask]); n != 0 || sr.server.Phase() != secagg.PhaseMaskedInput {
		t.Fatalf("%d unmask requests handed out, server in %v", n, sr.server.Phase())
	}
}

// TestSmallSurvivorComponentIsRefused: in a sparse neighbour graph, the
// survivors left when a device's neighbours all drop split into that
// device alone and the rest; unmasking would reveal its input, so it is
// refused, and a connected survivor set is not.
func TestSmallSurvivorComponentIsRefused(t *testing.T) {
	cfg := secagg.Config{NumClients: 20, Degree: 4, Threshold: 2, Bits: 16, Length: 1, GraphSeed: [32]byte{9}}
	var survivors, all []secagg.ClientID
	for v := range secagg.ClientID(20) {
		all = append(all, v)
		if comps, err := cfg.Components([]secagg.ClientID{0, v}); err != nil {
			t.Fatal(err)
		} else if v == 0 || len(comps) == 2 { // 0 itself, or not its neighbour
			survivors = append(survivors, v)
		}
	}
	if len(survivors) != 16 {
		t.Fatalf("%d survivors, want 16 (client 0 and the 15 not its neighbours)", len(survivors))
	}
	enough := func(size int) bool { return size >= 5 }
	if r := smallComponent(cfg, survivors, enough); !strings.Contains(r, "[[0] ") || !strings.Contains(r, "the 1 devices of one alone") {
		t.Fatalf("refusal %q, want client 0 alone", r)
	}
	if r := smallComponent(cfg, all, enough); r != "" {
		t.Fatalf("every client survived, but %q", r)
	}
}

// TestBadSharesExcludeTheirDevice: a device that reveals a wrong share is
// located by the server, the round still commits the exact sum, and the
// device is never selected again, across a restart too.
func TestBadSharesExcludeTheirDevice(t *testing.T) {
	devs, ids := newSecureDevices(6, 17)
	devs[2].corrupt = true
	m, now := newSecureMachine(t, secureConfig(), ids)
	o, now := runSecureRound(t, m, now, devs)
	if !o.Committed || !slices.Equal(o.Excluded, []string{devs[2].id}) || !slices.Equal(o.Snapshot.Excluded, []string{devs[2].id}) {
		t.Fatalf("committed %v (%s), excluded %v, snapshot %v", o.Committed, o.Reason, o.Excluded, o.Snapshot.Excluded)
	}
	if slices.Contains(m.Cohort(), devs[2].id) || len(m.Cohort()) != 5 {
		t.Fatalf("next cohort %v", m.Cohort())
	}
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	again, err := NewMachine(secureConfig(), Parts{Population: ids, Snapshot: *o.Snapshot, Optimizer: opt}, now)
	if err != nil || slices.Contains(again.Cohort(), devs[2].id) {
		t.Fatalf("after a restart: cohort %v (%v)", again.Cohort(), err)
	}
	devs[2].corrupt = false
	for _, d := range devs {
		d.client = nil
	}
	if next, _ := runSecureRound(t, m, now, slices.Delete(slices.Clone(devs), 2, 3)); !next.Committed || next.Excluded != nil {
		t.Fatalf("next round: committed %v (%s), excluded %v", next.Committed, next.Reason, next.Excluded)
	}
}

// TestKilledAtEverySecureEvent kills the coordinator (as kill -9 would,
// keeping only what it last persisted, the committed round's snapshot)
// after every event of private secure rounds, with devices dropping at
// each phase: a machine restarted from that snapshot has the model and
// both ε figures of the last commit, never less, never a half-finished
// round's; and it goes on to commit a round of its own.
func TestKilledAtEverySecureEvent(t *testing.T) {
	devs, ids := newSecureDevices(8, 23)
	cfg := secureConfig()
	cfg.Codec.Bits = 16
	cfg.DP = &DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5, Distributed: true}
	cfg.MinFraction = 0.5
	m, now := newSecureMachine(t, cfg, ids)
	snap := Snapshot{Params: make([]float32, secureDim), SelectionKey: testSelectionKey}
	var spent Epsilons
	kills := 0
	restart := func() *Machine {
		opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
		r, err := NewMachine(cfg, Parts{Population: ids, Snapshot: snap, Optimizer: opt}, now)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	check := func() {
		kills++
		r := restart()
		if v, _ := r.Model(); v != snap.Version || r.epsilons() != spent {
			t.Fatalf("kill %d: restarted at version %d with ε %+v; committed version %d with ε %+v", kills, v, r.epsilons(), snap.Version, spent)
		}
	}
	for round, drop := range []secagg.Phase{secagg.PhaseDone, secagg.PhaseShareKeys, secagg.PhaseMaskedInput, secagg.PhaseUnmask} {
		for _, d := range devs {
			d.client, d.dropAt = nil, secagg.PhaseDone
		}
		devs[round].dropAt = drop
		o, next := playSecureRound(t, m, now, devs, check)
		if !o.Committed {
			t.Fatalf("round %d: %s", o.Round, o.Reason)
		}
		if o.Observers < spent.Observers || o.Coordinator < spent.Coordinator {
			t.Fatalf("round %d: ε went back from %+v to %+v", o.Round, spent, o.Epsilons)
		}
		snap, spent, now = *o.Snapshot, o.Epsilons, next
		check()
	}
	for _, d := range devs {
		d.client, d.dropAt = nil, secagg.PhaseDone
	}
	r := restart()
	if o, _ := runSecureRound(t, r, now, devs); !o.Committed || !(o.Observers > spent.Observers) {
		t.Fatalf("after the last kill: committed %v (%s), ε %+v after %+v", o.Committed, o.Reason, o.Epsilons, spent)
	}
	if kills < 50 {
		t.Fatalf("only %d kills", kills)
	}
}
