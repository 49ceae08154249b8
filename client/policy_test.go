package client

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
)

// secureTestPlan is a plan a default policy accepts: SecAgg among 20
// devices, each neighbourhood of 11 needing 6 shares, central noise z = 1
// at δ = 1e-7.
func secureTestPlan() Plan {
	p := *testPlan(1, 1)
	p.ClipNorm, p.NoiseMultiplier, p.Delta = 1, 1, 1e-7
	p.SecAgg = &secagg.Config{NumClients: 20, Degree: 10, Threshold: 6, Bits: 16, Length: 150}
	return p
}

// TestPolicyDeclines: the default policy accepts a plan within it and
// names the reason for each plan outside it, reading the numbers it can
// check off the plan rather than trusting the plan's own.
func TestPolicyDeclines(t *testing.T) {
	// A distributed round whose devices' noise gives z = 1 over 10 honest
	// survivors of 12 (2 colluding), though the plan says 5.
	mech := (&privacy.DistributedDGauss{Scale: 1000, Clip: 1, Dim: 256, MinSurvivors: 12, Colluders: 2}).WithNoiseMultiplier(1)
	for _, c := range []struct {
		name   string
		change func(*Plan, *privacy.DistributedDGauss, *Policy)
		recent int
		want   string
	}{
		{"within", func(*Plan, *privacy.DistributedDGauss, *Policy) {}, 23, ""},
		{"plain", func(p *Plan, _ *privacy.DistributedDGauss, _ *Policy) { p.SecAgg = nil }, 0, "no secure aggregation"},
		{"plain opted in", func(p *Plan, _ *privacy.DistributedDGauss, pol *Policy) { p.SecAgg, pol.AllowPlain = nil, true }, 0, ""},
		{"small cohort", func(p *Plan, _ *privacy.DistributedDGauss, _ *Policy) { p.SecAgg.NumClients = 9 }, 0, "a cohort of 9 devices"},
		{"half the neighbourhood", func(p *Plan, _ *privacy.DistributedDGauss, _ *Policy) { p.SecAgg.Threshold = 5 }, 0, "threshold 5 is not above half of the neighbourhood (degree 10 of"},
		{"half the full graph", func(p *Plan, _ *privacy.DistributedDGauss, _ *Policy) { p.SecAgg.Degree, p.SecAgg.Threshold = 100, 10 }, 0, "threshold 10 is not above half of the neighbourhood"},
		{"semi-honest, malicious required", func(_ *Plan, _ *privacy.DistributedDGauss, pol *Policy) { pol.RequireMaliciousSecure = true }, 0, "semi-honest secure aggregation"},
		{"malicious required", func(p *Plan, _ *privacy.DistributedDGauss, pol *Policy) {
			pol.RequireMaliciousSecure, p.SecAgg.Registry = true, &secagg.Registry{}
		}, 0, ""},
		{"loose δ", func(p *Plan, _ *privacy.DistributedDGauss, _ *Policy) { p.Delta = 0.3 }, 0, "δ 0.3 is looser"},
		{"little noise", func(p *Plan, _ *privacy.DistributedDGauss, pol *Policy) { pol.MinNoiseMultiplier = 1.5 }, 0, "noise multiplier 1, below"},
		{"too many rounds", func(*Plan, *privacy.DistributedDGauss, *Policy) {}, 24, "24 rounds in the last 24 hours"},
		{"distributed", func(p *Plan, m *privacy.DistributedDGauss, _ *Policy) { *m = mech; p.NoiseMultiplier = 5 }, 0, ""},
		{"distributed, its noise checked", func(p *Plan, m *privacy.DistributedDGauss, pol *Policy) {
			*m, p.NoiseMultiplier, pol.MinNoiseMultiplier = mech, 5, 1.01
		}, 0, "noise multiplier 1, below this device's minimum 1.01"},
		{"survivors above the cohort", func(p *Plan, m *privacy.DistributedDGauss, _ *Policy) {
			*m = mech
			m.MinSurvivors = 1_000_000
		}, 0, "noise sized for 1000000 survivors, more than the cohort of 20"},
		{"few survivors", func(p *Plan, m *privacy.DistributedDGauss, _ *Policy) {
			*m = mech
			m.MinSurvivors = 9
		}, 0, "noise sized for 9 survivors, below this device's minimum 10"},
	} {
		plan, pol, m := secureTestPlan(), DefaultPolicy(), privacy.DistributedDGauss{}
		c.change(&plan, &m, &pol)
		var mp *privacy.DistributedDGauss
		if m.Scale > 0 {
			mp = &m
		}
		got := pol.decline(plan, mp, c.recent)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: declined for %q, want %q", c.name, got, c.want)
		}
	}
}

// TestDeviceAccountsAtItsOwnDelta: a plan stating δ = 0.3 let a device with
// budget 6 at its own δ = 1e-5 take part until its ε there was 13.8. Now
// it declines such a plan, and counts a plan with a tighter δ at its own.
func TestDeviceAccountsAtItsOwnDelta(t *testing.T) {
	m, _ := model.NewMF(30, 4, 1)
	plan := testPlan(1, 1)
	plan.ClipNorm, plan.NoiseMultiplier, plan.Delta = 1, 1, 0.3
	f := &fakeCoordinator{plan: plan, params: m.Params}
	l, err := OpenLedger(filepath.Join(t.TempDir(), "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	pol := Policy{AllowPlain: true, Delta: 1e-5, MaxRoundsPerDay: 100, Budget: 6}
	a := NewAgent(Data{Train: model.Positives{Items: []int32{1, 5}}, Test: -1}, f, NewWorkspace(), nil).KeepLedger(l, pol)
	for r := int64(1); r <= 5; r++ {
		f.plan.Round = r
		if _, err := a.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.uploads) != 0 || len(l.Entries) != 5 || !strings.Contains(l.Entries[4].Reason, "δ 0.3 is looser than this device's 1e-05") {
		t.Fatalf("%d uploads, ledger %+v: a plan's loose δ must be declined", len(f.uploads), l.Entries)
	}
	f.plan.Delta, f.plan.Round = 1e-9, 6
	if _, err := a.Step(context.Background()); err != nil || len(f.uploads) != 1 {
		t.Fatalf("%v, %d uploads", err, len(f.uploads))
	}
	one := privacy.NewRDP(nil)
	one.ComposePoissonGaussian(1, 1, 1)
	want, _, _ := one.Epsilon(1e-5)
	if e := l.Entries[5]; e.Kind != "" || e.Delta != 1e-5 || math.Abs(e.Epsilon-want) > 1e-12 {
		t.Fatalf("entry %+v, want ε %v at the device's δ 1e-5", e, want)
	}
}

// TestAgentDeclinesOutsideItsPolicy: a device that keeps a ledger declines
// a plan without SecAgg by default, and one whose noise is sized for more
// survivors than its cohort (1e6 on a cohort of 3 turned ε 1442 into
// 0.24): it sends nothing, not even a key advertisement, writes the reason
// in its ledger once a round, and waits out the round.
func TestAgentDeclinesOutsideItsPolicy(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m, _ := model.NewMF(30, 4, 1)
	plan := testPlan(1, 1)
	plan.ClipNorm, plan.NoiseMultiplier, plan.Delta, plan.Deadline = 1, 1, 1e-7, now.Add(10*time.Minute)
	f := &fakeCoordinator{plan: plan, params: m.Params}
	l, err := OpenLedger(filepath.Join(t.TempDir(), "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	pol := DefaultPolicy()
	pol.MinCohort, pol.MinSurvivors = 2, 2
	a := NewAgent(Data{Train: model.Positives{Items: []int32{1, 5}}, Test: -1}, f, NewWorkspace(), nil).
		KeepLedger(l, pol).WithClock(func() time.Time { return now })
	for range 2 {
		wait, err := a.Step(context.Background())
		if err != nil || wait != 10*time.Minute {
			t.Fatalf("wait %v, %v: a declining device waits out the round", wait, err)
		}
	}
	f.plan.Round = 2
	f.plan.SecAgg = &secagg.Config{NumClients: 3, Degree: 2, Threshold: 2, Bits: 26, Length: 150}
	f.plan.Codec = &codec.UpdateCodec{Bits: 16, ModBits: 26, Range: 1, LocalNoise: 5, MinSurvivors: 1_000_000}
	if _, err := a.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(f.uploads) != 0 || len(f.downloads) != 0 || len(l.Entries) != 2 {
		t.Fatalf("%d uploads, %d downloads, ledger %+v", len(f.uploads), len(f.downloads), l.Entries)
	}
	for i, want := range []string{"no secure aggregation", "more than the cohort of 3"} {
		if e := l.Entries[i]; e.Kind != EntryDeclined || e.Round != int64(i+1) || e.Epsilon != 0 || e.BytesSent != 0 || !strings.Contains(e.Reason, want) {
			t.Errorf("entry %d: %+v, want a decline: %s", i, e, want)
		}
	}
}

// TestRoundsPerDay: a device allowing two rounds a day takes part in two,
// declines the third within 24 hours of the first, and takes part again
// once the first is a day old.
func TestRoundsPerDay(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m, _ := model.NewMF(30, 4, 1)
	f := &fakeCoordinator{plan: testPlan(1, 1), params: m.Params}
	l, err := OpenLedger(filepath.Join(t.TempDir(), "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	pol := Policy{AllowPlain: true, Delta: 1e-6, MaxRoundsPerDay: 2}
	a := NewAgent(Data{Train: model.Positives{Items: []int32{1, 5}}, Test: -1}, f, NewWorkspace(), nil).
		KeepLedger(l, pol).WithClock(func() time.Time { return now })
	for r, at := range []time.Duration{0, time.Hour, 23 * time.Hour, 24 * time.Hour} {
		now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).Add(at)
		f.plan.Round = int64(r + 1)
		if _, err := a.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	var kinds []string
	for _, e := range l.Entries {
		kinds = append(kinds, e.Kind)
	}
	if len(f.uploads) != 3 || strings.Join(kinds, ",") != ",,declined," {
		t.Fatalf("%d uploads, entries of kinds %q", len(f.uploads), kinds)
	}
}

// TestNoDPRoundsInTheLedger: a device that opted in to plain updates takes
// part in a round without differential privacy (the README's example: 45
// rounds passed with model version 0 when its ε, +Inf, failed to encode);
// the ledger writes the unbounded ε as null and reads it back as +Inf.
func TestNoDPRoundsInTheLedger(t *testing.T) {
	m, _ := model.NewMF(30, 4, 1)
	f := &fakeCoordinator{plan: testPlan(1, 1), params: m.Params}
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	pol := DefaultPolicy()
	pol.AllowPlain = true
	a := NewAgent(Data{Train: model.Positives{Items: []int32{1, 5}}, Test: -1}, f, NewWorkspace(), nil).KeepLedger(l, pol)
	if _, err := a.Step(context.Background()); err != nil || len(f.uploads) != 1 {
		t.Fatalf("%v, %d uploads", err, len(f.uploads))
	}
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"epsilon":null`) {
		t.Fatalf("ledger file %s", b)
	}
	again, err := OpenLedger(path)
	if err != nil || len(again.Entries) != 1 || !math.IsInf(again.Entries[0].Epsilon, 1) {
		t.Fatalf("reopened: %+v, %v", again, err)
	}
}

// TestTornLastLine: a ledger whose last line was cut off mid-write opens,
// with the line replaced by an entry of unknown cost that counts as
// unbounded ε, and the file repaired; a damaged line before the last is
// still an error, and a last line that lost only its newline gets it back.
func TestTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	l, _ := OpenLedger(path)
	if err := l.Record(LedgerEntry{Round: 1, NoiseMultiplier: 2, ClipNorm: 1, Delta: 1e-6, Epsilon: l.EpsilonIf(2, nil, 1e-6)}); err != nil {
		t.Fatal(err)
	}
	whole, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(whole, whole[:40]...), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := OpenLedger(path)
	if err != nil || len(l.Entries) != 2 || l.Entries[1].Kind != EntryUnknown || !math.IsInf(l.EpsilonIf(100, nil, 1e-6), 1) {
		t.Fatalf("%+v, %v", l, err)
	}
	again, err := OpenLedger(path)
	if err != nil || len(again.Entries) != 2 || again.Entries[1].Kind != EntryUnknown {
		t.Fatalf("reopened after repair: %+v, %v", again, err)
	}
	if err := os.WriteFile(path, append(append(whole[:40:40], '\n'), whole...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLedger(path); err == nil {
		t.Fatal("a damaged line before the last was taken for a torn write")
	}
	if err := os.WriteFile(path, whole[:len(whole)-1], 0o600); err != nil {
		t.Fatal(err)
	}
	if l, err = OpenLedger(path); err != nil || len(l.Entries) != 1 {
		t.Fatalf("%+v, %v", l, err)
	}
	if err := l.Record(LedgerEntry{Round: 2, NoiseMultiplier: 2, Delta: 1e-6}); err != nil {
		t.Fatal(err)
	}
	if l, err = OpenLedger(path); err != nil || len(l.Entries) != 2 {
		t.Fatalf("after a lost newline: %+v, %v", l, err)
	}
}

// TestLoadPolicy: a file's keys replace the defaults, in each format; an
// unknown key or a meaningless number is refused.
func TestLoadPolicy(t *testing.T) {
	dir := t.TempDir()
	want := DefaultPolicy()
	want.AllowPlain, want.MinNoiseMultiplier, want.Budget = true, 0.8, 4
	for name, text := range map[string]string{
		"p.toml": "allow_plain = true\nmin_noise_multiplier = 0.8\nbudget = 4\n",
		"p.yaml": "allow_plain: true\nmin_noise_multiplier: 0.8\nbudget: 4\n",
		"p.json": `{"allow_plain": true, "min_noise_multiplier": 0.8, "budget": 4}`,
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(text), 0o600)
		if got, err := LoadPolicy(path); err != nil || got != want {
			t.Errorf("%s: %+v, %v", name, got, err)
		}
	}
	for name, text := range map[string]string{
		"typo.toml":   "alow_plain = true\n",
		"typo.yaml":   "min_cohrt: 3\n",
		"typo.json":   `{"detla": 1e-5}`,
		"delta.toml":  "delta = 0.5\ndelta = 1\n",
		"delta.yaml":  "delta: 1\n",
		"rounds.json": `{"max_rounds_per_day": 0}`,
		"p.ini":       "",
	} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(text), 0o600)
		if _, err := LoadPolicy(path); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
}

// TestEligibility: the default policy checks in only while charging, on an
// unmetered network and idle, and says what is missing.
func TestEligibility(t *testing.T) {
	p := DefaultPolicy()
	if why := p.Ineligible(Conditions{Charging: true, Unmetered: true, Idle: true}); why != "" {
		t.Fatalf("all conditions hold: %q", why)
	}
	if why := p.Ineligible(Conditions{Unmetered: true}); why != "the device is not charging, nor idle" {
		t.Fatalf("%q", why)
	}
	p.RequireCharging, p.RequireIdle = false, false
	if why := p.Ineligible(Conditions{Unmetered: true}); why != "" {
		t.Fatalf("a policy that asks only for an unmetered network: %q", why)
	}
}

// TestChoicesSpendNothing: consent and forget entries count neither
// towards ε nor towards the rounds of a day, and a round's model version
// is listed among the device's contributions.
func TestChoicesSpendNothing(t *testing.T) {
	l, err := OpenLedger(filepath.Join(t.TempDir(), "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	l.Note(EntryConsent, "granted consent to use view events", 1e-6, now)
	l.Note(EntryForget, "deleted all events (3)", 1e-6, now)
	if l.Epsilon(1e-6) != 0 || l.roundsSince(now.Add(-time.Hour)) != 0 {
		t.Fatalf("choices spent ε %v or counted %d rounds", l.Epsilon(1e-6), l.roundsSince(now.Add(-time.Hour)))
	}
	l.Record(LedgerEntry{Time: now, Round: 4, ModelVersion: 3, NoiseMultiplier: 1, Delta: 1e-6})
	rounds, versions := l.Contributed()
	if !slices.Equal(rounds, []int64{4}) || !slices.Equal(versions, []int64{3}) || !(l.Epsilon(1e-6) > 0) {
		t.Fatalf("contributed %v %v, ε %v", rounds, versions, l.Epsilon(1e-6))
	}
}

// TestModelSizeBound: a device declines a round whose model is above its
// limit, before it downloads anything, and its transport refuses to fetch
// one.
func TestModelSizeBound(t *testing.T) {
	p := DefaultPolicy()
	plan := Plan{Items: 1_100_000, Model: model.DefaultConfig(), SecAgg: &secagg.Config{NumClients: 10, Degree: 9, Threshold: 6}}
	if why := p.decline(plan, nil, 0); !strings.Contains(why, "a model of 273 MiB, above this device's limit of 256 MiB") {
		t.Fatalf("%q", why)
	}
	plan.Items = 1_000_000
	if why := p.decline(plan, nil, 0); why != "" {
		t.Fatalf("a million items at 64 factors: %q", why)
	}
	q := &QUIC{MaxModelBytes: 1 << 20}
	if _, err := q.DownloadModel(context.Background(), 1, 1<<18+1, nil); !errors.Is(err, ErrBadModel) {
		t.Fatalf("download of a model over the limit: %v", err)
	}
}
