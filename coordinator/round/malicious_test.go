package round

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/aggregate/secagg"
)

// maliciousConfig is secureConfig in SecAgg's malicious-server mode.
func maliciousConfig() Config {
	cfg := secureConfig()
	cfg.SecAgg = MaliciousSecAgg(0, 0.3, time.Minute)
	return cfg
}

// withKeys gives each device an enrolment key seeded from its name and
// returns the registry of their public keys.
func withKeys(devs []*secureDevice) map[string]ed25519.PublicKey {
	keys := make(map[string]ed25519.PublicKey, len(devs))
	for _, d := range devs {
		seed := sha256.Sum256([]byte("tacit test signing key " + d.id))
		d.key = ed25519.NewKeyFromSeed(seed[:])
		keys[d.id] = d.key.Public().(ed25519.PublicKey)
	}
	return keys
}

func newMaliciousMachine(t *testing.T, cfg Config, ids []string, keys map[string]ed25519.PublicKey) (*Machine, time.Time) {
	t.Helper()
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	now := time.Unix(1000, 0)
	m, err := NewMachine(cfg, Parts{Population: ids, Snapshot: Snapshot{Params: make([]float32, secureDim), SelectionKey: testSelectionKey},
		Optimizer: opt, SigningKeys: keys}, now)
	if err != nil {
		t.Fatal(err)
	}
	return m, now
}

// TestMaliciousSecureRoundCommitsTheSameModel: a malicious-server round,
// with dropouts in each phase including the consistency phase, commits the
// model a semi-honest round of the same devices and survivors commits: the
// sum does not depend on the mode. Its plans carry the registry in cohort
// order.
func TestMaliciousSecureRoundCommitsTheSameModel(t *testing.T) {
	for _, drops := range [][]secagg.Phase{
		nil,
		{secagg.PhaseShareKeys, secagg.PhaseConsistency},
		{secagg.PhaseMaskedInput, secagg.PhaseConsistency, secagg.PhaseUnmask},
	} {
		t.Run(fmt.Sprint(drops), func(t *testing.T) {
			devs, ids := newSecureDevices(10, 7)
			keys := withKeys(devs)
			for i, p := range drops {
				devs[i].dropAt = p
			}
			m, now := newMaliciousMachine(t, maliciousConfig(), ids, keys)
			o, _ := runSecureRound(t, m, now, devs)
			if !o.Committed {
				t.Fatalf("round abandoned: %s", o.Reason)
			}
			for _, d := range devs {
				if d.plan == nil {
					continue
				}
				reg := d.plan.SecAgg.Registry
				if reg == nil || !reg.Keys[d.plan.SecAggID].Equal(keys[d.id]) {
					t.Fatalf("%s: plan's registry %v does not hold its key at id %d", d.id, reg, d.plan.SecAggID)
				}
			}
			_, got := m.Model()

			// The same devices, updates and survivors, semi-honest: a
			// device dropping before its consistency signature still sent
			// its masked input, so it survives there too.
			devs, ids = newSecureDevices(10, 7)
			for i, p := range drops {
				devs[i].dropAt = p
				if p == secagg.PhaseConsistency {
					devs[i].dropAt = secagg.PhaseUnmask
				}
			}
			plain := secureConfig()
			plain.SecAgg = SemiHonestSecAgg(0, 0.3, time.Minute)
			pm, now := newSecureMachine(t, plain, ids)
			po, _ := runSecureRound(t, pm, now, devs)
			if _, want := pm.Model(); !po.Committed || !slices.Equal(got, want) || o.Reports != po.Reports {
				t.Fatalf("malicious mode: model %v from %d reports; semi-honest: %v from %d (%s)", got, o.Reports, want, po.Reports, po.Reason)
			}
		})
	}
}

// TestMaliciousSecAggNeedsEveryKey: a machine in malicious-server mode
// refuses a population with a device missing its signing key, and the
// mode needs the SemiMalicious threat model.
func TestMaliciousSecAggNeedsEveryKey(t *testing.T) {
	devs, ids := newSecureDevices(4, 1)
	keys := withKeys(devs)
	delete(keys, ids[2])
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	_, err := NewMachine(maliciousConfig(), Parts{Population: ids, Snapshot: Snapshot{Params: make([]float32, secureDim), SelectionKey: testSelectionKey},
		Optimizer: opt, SigningKeys: keys}, time.Unix(1000, 0))
	if err == nil || !strings.Contains(err.Error(), ids[2]) {
		t.Fatalf("a population missing %s's key: %v", ids[2], err)
	}
	cfg := maliciousConfig()
	cfg.SecAgg.ThreatModel = secagg.SemiHonest
	if err := cfg.Validate(); err == nil {
		t.Fatal("malicious-server mode with semi-honest parameters accepted")
	}
}

// TestConsistencyPhaseWindow: the consistency phase opens when the masked
// inputs are in and stays open SecAggConfig.PhaseWindow.
func TestConsistencyPhaseWindow(t *testing.T) {
	devs, ids := newSecureDevices(6, 2)
	m, now := newMaliciousMachine(t, maliciousConfig(), ids, withKeys(devs))
	for _, d := range devs {
		res, err := m.CheckIn(now, d.id, -1)
		if err != nil || res.Plan == nil {
			t.Fatalf("%s: %+v, %v", d.id, res, err)
		}
		if _, err := d.join(t, m, now, res.Plan); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []secagg.Phase{secagg.PhaseShareKeys, secagg.PhaseMaskedInput} {
		for _, d := range devs {
			if d.phase() != want {
				t.Fatalf("%s in %v, want %v", d.id, d.phase(), want)
			}
			if _, _, _, err := d.step(t, m, now); err != nil {
				t.Fatalf("%s: %v: %v", d.id, want, err)
			}
		}
	}
	if st := m.Status(); m.sec.server.Phase() != secagg.PhaseConsistency || !st.Deadline.Equal(now.Add(time.Minute)) {
		t.Fatalf("after the masked inputs: server in %v, deadline %v, want consistency until %v", m.sec.server.Phase(), st.Deadline, now.Add(time.Minute))
	}
}
