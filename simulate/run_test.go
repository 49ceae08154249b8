package simulate

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/privacy"
	"github.com/tacitfl/tacit/settings"
)

type recorder struct{ rounds []Round }

func (r *recorder) Round(x Round) { r.rounds = append(r.rounds, x) }

func smallData(t *testing.T) *dataset.Log {
	t.Helper()
	l, err := dataset.Synthetic(dataset.SyntheticConfig{Users: 300, Items: 120, Events: 12, Factors: 4, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func smallConfig() Config {
	c := DefaultConfig()
	c.Factors, c.Rounds, c.EvalEvery = 8, 6, 3
	return c
}

func TestRunIsDeterministicAcrossWorkers(t *testing.T) {
	data := smallData(t)
	run := func(workers int) ([]Round, Summary) {
		cfg := smallConfig()
		cfg.Workers, cfg.ClientsPerRound, cfg.Dropout = workers, 100, 0.2
		var rec recorder
		s, err := Run(context.Background(), cfg, data, &rec)
		if err != nil {
			t.Fatal(err)
		}
		return rec.rounds, s
	}
	r1, s1 := run(1)
	r3, s3 := run(3)
	for i := range r1 {
		if !reflect.DeepEqual(untimed(r1[i]), untimed(r3[i])) {
			t.Fatalf("round %d differs: %+v vs %+v", i+1, r1[i], r3[i])
		}
	}
	if s1.HR != s3.HR || s1.NDCG != s3.NDCG || s1.SampledHR != s3.SampledHR {
		t.Fatalf("metrics differ: %+v vs %+v", s1, s3)
	}
}

func TestRunCohortAndDropout(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig()
	cfg.ClientsPerRound, cfg.Dropout = 100, 0.3
	var rec recorder
	s, err := Run(context.Background(), cfg, data, &rec)
	if err != nil {
		t.Fatal(err)
	}
	// Each of the 300 people is selected with probability 100/300 (Poisson
	// sampling), so about 100 a round.
	dropped, selected := 0, 0
	for _, r := range rec.rounds {
		selected += r.Selected
		dropped += r.Dropped()
		if r.Stages[0].Devices != r.Selected || r.Reports+r.Dropped() != r.Selected {
			t.Fatalf("round %d: %d selected, %d reports, %d dropped, stages %+v", r.Round, r.Selected, r.Reports, r.Dropped(), r.Stages)
		}
	}
	if mean := float64(selected) / float64(len(rec.rounds)); mean < 85 || mean > 115 {
		t.Fatalf("%.1f selected per round, want about 100", mean)
	}
	if rate := float64(dropped) / float64(selected); rate < 0.2 || rate > 0.4 {
		t.Fatalf("dropout rate %.2f, want about 0.3", rate)
	}
	if s.Rounds != cfg.Rounds || len(rec.rounds) != cfg.Rounds {
		t.Fatalf("%d rounds reported, summary says %d", len(rec.rounds), s.Rounds)
	}
	if rec.rounds[2].HR == nil || rec.rounds[1].HR != nil || rec.rounds[5].HR == nil {
		t.Fatal("evaluation should run on rounds 3 and 6 only")
	}
	if s.UplinkBytesPerUpdate != 4*120*(8+1) {
		t.Fatalf("uplink bytes %d", s.UplinkBytesPerUpdate)
	}
}

func TestRunLearns(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig()
	cfg.Rounds = 40
	s, err := Run(context.Background(), cfg, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	untrained := cfg
	untrained.Rounds, untrained.ServerLR = 1, 1e-9
	s0, err := Run(context.Background(), untrained, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HR@10 %.3f trained, %.3f untrained", s.HR, s0.HR)
	if !(s.HR > 2*s0.HR && s.HR > 0.3) {
		t.Fatalf("HR@10 %.3f after 40 rounds vs %.3f untrained: the federation did not learn", s.HR, s0.HR)
	}
}

func TestRunAbandonsRoundWithoutReports(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig()
	cfg.ClientsPerRound, cfg.Dropout, cfg.Rounds = 1, 0.999, 3
	var rec recorder
	if _, err := Run(context.Background(), cfg, data, &rec); err != nil {
		t.Fatal(err)
	}
	for _, r := range rec.rounds {
		if r.Committed || r.Reports != 0 || r.TrainLoss != nil || r.Reason == "" {
			t.Fatalf("round %d: %+v, want an abandoned round", r.Round, r)
		}
	}
}

func TestRunRejectsNonsense(t *testing.T) {
	data := smallData(t)
	for name, mut := range map[string]func(*Config){
		"cohort larger than population": func(c *Config) { c.ClientsPerRound = 301 },
		"negative rounds":               func(c *Config) { c.Rounds = -1 },
		"zero factors":                  func(c *Config) { c.Factors = 0 },
		"dropout 1":                     func(c *Config) { c.Dropout = 1 },
		"unknown optimizer":             func(c *Config) { c.ServerOptimizer = "sgd" },
	} {
		cfg := smallConfig()
		mut(&cfg)
		if _, err := Run(context.Background(), cfg, data, nil); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line", name, err)
		}
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := smallConfig()
	cfg.Rounds = 100
	obs := observerFunc(func(r Round) {
		if r.Round == 2 {
			cancel()
		}
	})
	s, err := Run(ctx, cfg, smallData(t), obs)
	if err != context.Canceled || s.Rounds != 2 {
		t.Fatalf("err %v after %d rounds, want context.Canceled after 2", err, s.Rounds)
	}
}

// untimed is r without its times, which differ from run to run.
func untimed(r Round) Round {
	r.Opened, r.Seconds = time.Time{}, 0
	return r
}

func withoutStages(rounds []Round) []Round {
	out := slices.Clone(rounds)
	for i := range out {
		out[i].Stages = nil
	}
	return out
}

type observerFunc func(Round)

func (f observerFunc) Round(r Round) { f(r) }

func TestCentralMatchesProtocol(t *testing.T) {
	cfg := smallConfig()
	cfg.ALSIterations = 4
	var rec recorder
	s, err := Central(context.Background(), cfg, smallData(t), &rec)
	if err != nil {
		t.Fatal(err)
	}
	if s.Command != "central" || s.Rounds != 4 || len(rec.rounds) != 4 || s.EvaluatedUsers != 300 || s.HR < 0.3 {
		t.Fatalf("summary %+v, %d iterations observed", s, len(rec.rounds))
	}
}

// TestTransportsGiveTheSameModel runs the same seeded federation over the
// in-memory transport and over real QUIC on loopback: the models agree bit
// for bit, as do the rounds.
func TestTransportsGiveTheSameModel(t *testing.T) {
	for name, edit := range map[string]func(*Config){
		"float32":         func(*Config) {},
		"8 bits, rotated": func(c *Config) { c.QuantBits, c.Rotate = 8, true },
		"8-bit model":     func(c *Config) { c.DownBits = 8 },
		"SecAgg, 12 bits": func(c *Config) { c.QuantBits, c.SecAgg = 12, true },
		"SecAgg, rotated DP": func(c *Config) {
			c.QuantBits, c.Rotate, c.SecAgg, c.DP, c.NoiseMultiplier = 16, true, true, "distributed", 1
		},
	} {
		t.Run(name, func(t *testing.T) { transportsAgree(t, edit) })
	}
}

// TestMaliciousSecAggGivesTheSameModel: SecAgg's malicious-server mode
// (signed keys, a consistency phase; dropouts in it too) gives the same
// model and rounds over memory and QUIC, and the same as the semi-honest
// mode with the same devices and dropouts: the sum does not depend on the
// mode.
func TestMaliciousSecAggGivesTheSameModel(t *testing.T) {
	data := smallData(t)
	run := func(transport, threat string) ([]float32, []Round) {
		cfg := smallConfig()
		cfg.Transport, cfg.ClientsPerRound, cfg.Dropout, cfg.Rounds = transport, 60, 0.2, 4
		cfg.QuantBits, cfg.SecAgg, cfg.SecAggThreat = 12, true, threat
		return runFederation(t, data, cfg)
	}
	memParams, memRounds := run("memory", settings.SecAggMalicious)
	if memRounds[0].Reports < 30 {
		t.Fatalf("round 1 had %d participants: the comparison would prove little", memRounds[0].Reports)
	}
	for _, other := range []struct{ transport, threat string }{{"quic", settings.SecAggMalicious}, {"memory", settings.SecAggSemiHonest}} {
		params, rounds := run(other.transport, other.threat)
		want := memRounds
		if other.threat != settings.SecAggMalicious { // no consistency phase among the stages
			rounds, want = withoutStages(rounds), withoutStages(want)
		}
		if !reflect.DeepEqual(rounds, want) {
			t.Fatalf("%s, %s: rounds %+v, want %+v", other.transport, other.threat, rounds, want)
		}
		for i := range memParams {
			if math.Float32bits(memParams[i]) != math.Float32bits(params[i]) {
				t.Fatalf("%s, %s: parameter %d is %v, want %v", other.transport, other.threat, i, params[i], memParams[i])
			}
		}
	}
}

// runFederation runs cfg's rounds and returns the final model and the
// rounds' records, untimed.
func runFederation(t *testing.T, data *dataset.Log, cfg Config) ([]float32, []Round) {
	t.Helper()
	params, rounds, _, _ := runMeteredFederation(t, data, cfg)
	return params, rounds
}

func transportsAgree(t *testing.T, edit func(*Config)) {
	data := smallData(t)
	metrics := map[string][2]map[string]float64{}
	run := func(transport string) ([]float32, []Round) {
		cfg := smallConfig()
		cfg.Transport, cfg.ClientsPerRound, cfg.Dropout, cfg.Rounds = transport, 60, 0.2, 4
		// Metrics, compared below. One worker: which devices download the
		// model depends on the worker a device lands on (its workspace
		// caches a version), so the bytes agree only with one.
		cfg.HTTP, cfg.Workers = "127.0.0.1:0", 1
		edit(&cfg)
		params, rounds, open, closed := runMeteredFederation(t, data, cfg)
		metrics[transport] = [2]map[string]float64{open, closed}
		return params, rounds
	}
	memParams, memRounds := run("memory")
	quicParams, quicRounds := run("quic")
	metricsAgree(t, metrics["memory"], metrics["quic"])
	if memRounds[0].Reports < 30 {
		t.Fatalf("round 1 had %d participants: the comparison would prove little", memRounds[0].Reports)
	}
	for i := range memRounds {
		if !reflect.DeepEqual(memRounds[i], quicRounds[i]) {
			t.Fatalf("round %d: memory %+v, quic %+v", i+1, memRounds[i], quicRounds[i])
		}
	}
	for i := range memParams {
		if math.Float32bits(memParams[i]) != math.Float32bits(quicParams[i]) {
			t.Fatalf("parameter %d: memory %v, quic %v", i, memParams[i], quicParams[i])
		}
	}
}

// TestRunCentralDP: with --target-epsilon the run spends at most that ε,
// says so in the summary, and records the clipping and noise per round.
func TestRunCentralDP(t *testing.T) {
	cfg := smallConfig()
	cfg.DP, cfg.TargetEpsilon, cfg.Rounds, cfg.ClientsPerRound = "central", 4, 5, 100
	var rec recorder
	s, err := Run(context.Background(), cfg, smallData(t), &rec)
	if err != nil {
		t.Fatal(err)
	}
	p := s.Privacy
	if p == nil || p.AgainstObservers > 4 || p.AgainstObservers < 3.9 || p.Delta != 1e-5 || s.NoiseMultiplier <= 0 || s.ClipNorm != 1 || p.Accountant != "rdp" {
		t.Fatalf("summary %+v (privacy %+v)", s, p)
	}
	// Central DP trusts the coordinator: against it there is no bound.
	if p.AgainstCoordinator != nil || !strings.Contains(s.PrivacyAssumptions, "secret") || !strings.Contains(s.PrivacyAssumptions, "trusted") {
		t.Fatalf("against the coordinator %v, assumptions %q", p.AgainstCoordinator, s.PrivacyAssumptions)
	}
	last := rec.rounds[len(rec.rounds)-1]
	if last.PrivacyReport == nil || last.AgainstObservers != p.AgainstObservers || last.NoiseStd == nil || math.Abs(*last.NoiseStd/(s.NoiseMultiplier*s.ClipNorm)-1) > 1e-5 || last.ClippedFraction == nil {
		t.Fatalf("last round %+v", last)
	}
	// The selection key the run drew its cohorts with is nowhere in what it
	// writes or serves.
	key := sha256.Sum256(binary.LittleEndian.AppendUint64([]byte("tacit simulate selection key"), cfg.Seed))
	written, _ := json.Marshal([]any{s, rec.rounds})
	for _, enc := range []string{hex.EncodeToString(key[:]), base64.StdEncoding.EncodeToString(key[:]), string(key[:])} {
		if strings.Contains(string(written), enc) {
			t.Fatal("the summary or the rounds hold the selection key")
		}
	}
	// The PLD accountant calibrates less noise for the same target.
	pld := cfg
	pld.Accountant = privacy.AccountantPLD
	sp, err := Run(context.Background(), pld, smallData(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := sp.Privacy.AgainstObservers; e > 4 || e < 3.9 || !(sp.NoiseMultiplier < s.NoiseMultiplier) || sp.Privacy.Accountant != "pld" {
		t.Fatalf("PLD summary: ε %v, noise %v (RDP's %v), accountant %q", e, sp.NoiseMultiplier, s.NoiseMultiplier, sp.Privacy.Accountant)
	}
	plain := smallConfig()
	if s2, _ := Run(context.Background(), plain, smallData(t), nil); s2.Privacy != nil {
		t.Fatal("a run without DP reports an ε")
	}
	bad := smallConfig()
	bad.DP = "central"
	if _, err := Run(context.Background(), bad, smallData(t), nil); err == nil {
		t.Fatal("central DP without noise or target accepted")
	}
}

func TestRunAdaptiveClipping(t *testing.T) {
	cfg := smallConfig()
	cfg.DP, cfg.NoiseMultiplier, cfg.AdaptiveClip, cfg.ClipNorm, cfg.Rounds = "central", 0.5, true, 100, 8
	var rec recorder
	if _, err := Run(context.Background(), cfg, smallData(t), &rec); err != nil {
		t.Fatal(err)
	}
	// From a clip far above every norm, nothing is clipped and the clip
	// shrinks every round by about e^(−0.1).
	first, last := rec.rounds[0], rec.rounds[len(rec.rounds)-1]
	if *first.ClipNorm != 100 || *first.ClippedFraction != 0 || !(*last.ClipNorm < 100*math.Exp(-0.1*6)) {
		t.Fatalf("clip %v → %v, clipped %v", *first.ClipNorm, *last.ClipNorm, *first.ClippedFraction)
	}
}

// TestSecAggMatchesPlainQuantized: the secure sum of the survivors'
// quantized updates is the plain sum of the same quantized updates (each
// device rounds with the same coins either way), so the two runs end with
// the same model up to float rounding in the decoding.
func TestSecAggMatchesPlainQuantized(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig()
	cfg.ClientsPerRound, cfg.Rounds, cfg.QuantBits, cfg.Rotate = 60, 4, 16, true
	plain, _ := runFederation(t, data, cfg)
	cfg.SecAgg = true
	secure, rounds := runFederation(t, data, cfg)
	for _, r := range rounds {
		if r.Reports < 30 {
			t.Fatalf("round %d had %d participants", r.Round, r.Reports)
		}
	}
	var diff, norm float64
	for i := range plain {
		d := float64(plain[i] - secure[i])
		diff, norm = diff+d*d, norm+float64(plain[i])*float64(plain[i])
	}
	// Measured: 1.1e-6, the float32 rounding of decoding a sum against
	// decoding each update and averaging.
	if rel := math.Sqrt(diff / norm); rel > 1e-5 {
		t.Fatalf("secure and plain models differ by %.3g relative", rel)
	}
}
