package round

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/privacy"
)

// The scenario scripts' quantized and secure rounds (TestRoundScenarios).
// init takes, besides the arguments of a plain round:
//
//	quant-bits=12 [rotate quant-norm=1]       devices quantize their updates (Config.Codec)
//	secagg [dropout=0.3 adversary=0 phase=10s] rounds aggregate securely (Config.SecAgg)
//	dp=distributed                             with dp-clip and dp-noise: the devices add the noise
//
// In a round with a codec, `report dev=a round=1 update=0.5,0,0` sends the
// update encoded as the device would (seeded rounding) in Report.Encoded
// and prints the encoding; `encoded=1,2,3` sends those values as they are,
// and `unencoded` sends the float update.
//
// A secure round's devices go through its phases one command each; each
// prints what the device got from the coordinator and what it sent:
//
//	advertise dev=a t=1s          start a SecAgg client from the plan, send its keys
//	share dev=a t=2s              fetch the neighbours' keys, send them shares
//	masked dev=a t=3s update=...  fetch the neighbours' shares, send the masked, encoded update
//	unmask dev=a t=4s             fetch who survived and who dropped, reveal their shares
//
// A device that drops out gets no more commands; `tick` passes the phase's
// deadline. Whenever the round's SecAgg phase moves, a line says to which,
// and until when. Where the phases are not the point, one command plays a
// whole secure round (runSecureRound): the devices named check in at t and
// send their updates, each dropped device before its message of the phase
// named, and each phase runs to its deadline only if someone dropped:
//
//	secure-round t=1s a=0.1,0.2,0 b=0,0.1,0.3 c=... [drop=(c:unmask, b:masked-input)]
//
// A round with a codec prints its model to 4 decimals, and its commit the
// devices counted (whose report or masked input was taken) with, without
// DP, the mean of their updates, which the model should match to the
// quantization's precision. `epsilon` prints the ε spent, and with
// distributed DP that of as many rounds of the distributed discrete
// Gaussian alone, composed by privacy directly.

// scriptRounds is the harness's view of the devices of quantized and
// secure rounds.
type scriptRounds struct {
	devices   map[string]*secureDevice // by name: the devices that checked in to round devsRound
	devsRound int64
	names     map[int64]map[secagg.ClientID]string // each round's SecAgg ids
	counted   map[int64][]*secureDevice            // each round's devices whose update was taken, in order
	described int64                                // the last round whose plan's codec was printed
	phase     [2]int64                             // the last round and SecAgg phase seen
}

// reset forgets every round: a new machine starts.
func (s *scriptRounds) reset() { *s = scriptRounds{} }

// initCodec reads init's codec, SecAgg and distributed DP arguments.
func (h *harness) initCodec(t *testing.T, d *datadriven.TestData) {
	if d.HasArg("quant-bits") {
		h.cfg.Codec = &CodecConfig{Norm: 1, Rotate: d.HasArg("rotate")}
		d.ScanArgs(t, "quant-bits", &h.cfg.Codec.Bits)
		d.MaybeScanArgs(t, "quant-norm", &h.cfg.Codec.Norm)
	}
	if d.HasArg("secagg") {
		adversary, dropout := 0.0, 0.3
		d.MaybeScanArgs(t, "adversary", &adversary)
		d.MaybeScanArgs(t, "dropout", &dropout)
		h.cfg.SecAgg = SemiHonestSecAgg(adversary, dropout, durationArg(t, d, "phase", 10*time.Second))
	}
	if d.HasArg("dp") {
		var kind string
		d.ScanArgs(t, "dp", &kind)
		if kind != "distributed" || h.cfg.DP == nil {
			t.Fatalf("dp=%s: only dp=distributed, with dp-clip", kind)
		}
		h.cfg.DP.Distributed = true
	}
}

// describePlan follows a check-in's plan line: for the first plan of a
// round, its codec and SecAgg configuration.
func (h *harness) describePlan(b *strings.Builder, dev string, p *Plan) {
	s := &h.script
	if p.Round != s.devsRound {
		s.devices, s.devsRound = map[string]*secureDevice{}, p.Round
	}
	s.devices[dev] = &secureDevice{id: dev, plan: p}
	if p.SecAgg != nil {
		if s.names == nil {
			s.names = map[int64]map[secagg.ClientID]string{}
		}
		if s.names[p.Round] == nil {
			s.names[p.Round] = map[secagg.ClientID]string{}
		}
		s.names[p.Round][p.SecAggID] = dev
	}
	if p.Round == s.described {
		return
	}
	s.described = p.Round
	if u := p.Codec; u != nil {
		fmt.Fprintf(b, "  codec: %d bits in ±%.4g", u.Bits, u.Range)
		if u.Rotate {
			fmt.Fprintf(b, ", rotated %d → %d values", len(h.last.Params), u.EncodedLen(len(h.last.Params)))
		}
		if p.SecAgg != nil {
			fmt.Fprintf(b, ", summed mod 2^%d", u.ModBits)
		}
		if u.LocalNoise > 0 {
			fmt.Fprintf(b, ", local noise σ %.4g for ≥ %d survivors", u.LocalNoise, u.MinSurvivors)
		}
		if u.Colluders > 0 {
			fmt.Fprintf(b, ", %d of them colluding", u.Colluders)
		}
		b.WriteString("\n")
	}
	if c := p.SecAgg; c != nil {
		fmt.Fprintf(b, "  secagg: %d devices, degree %d, threshold %d\n", c.NumClients, c.Degree, c.Threshold)
	}
}

// encodeReport makes r's update the device's encoding (or the encoded
// values given) in a round with a codec.
func (h *harness) encodeReport(t *testing.T, d *datadriven.TestData, b *strings.Builder, dev string, r *Report) {
	switch {
	case d.HasArg("encoded"):
		r.Update, r.Encoded = nil, uintsArg(t, d, "encoded")
	case d.HasArg("unencoded"):
	default:
		u := h.m.Codec()
		if dv := h.script.devices[dev]; dv != nil && dv.plan.Round == r.Round {
			u = dv.plan.Codec
		}
		alone := u.Alone()
		enc, err := encodeUpdate(dev, r.Round, alone, r.Update)
		if err != nil {
			t.Fatalf("%s: %v", dev, err)
		}
		signed := make([]int64, len(enc))
		for i, v := range enc {
			signed[i] = codec.Signed(v, alone.Bits)
		}
		fmt.Fprintf(b, "%s: encoded %v\n", dev, signed)
		r.Update, r.Encoded = nil, enc
	}
}

// counted records that dev's update counts in round.
func (s *scriptRounds) count(round int64, dev *secureDevice) {
	if s.counted == nil {
		s.counted = map[int64][]*secureDevice{}
	}
	s.counted[round] = append(s.counted[round], dev)
}

// reported records a report the machine took.
func (h *harness) reported(dev string, r Report, update []float32) {
	if h.cfg.Codec != nil {
		h.script.count(r.Round, &secureDevice{id: dev, update: update})
	}
}

// runSecure runs the SecAgg phase commands; false for another command.
func (h *harness) runSecure(t *testing.T, d *datadriven.TestData, b *strings.Builder) bool {
	if d.Cmd == "secure-round" {
		h.secureRound(t, d, b)
		return true
	}
	want, ok := map[string]secagg.Phase{"advertise": secagg.PhaseAdvertiseKeys, "share": secagg.PhaseShareKeys,
		"masked": secagg.PhaseMaskedInput, "unmask": secagg.PhaseUnmask}[d.Cmd]
	if !ok {
		return false
	}
	var dev string
	d.ScanArgs(t, "dev", &dev)
	now := at(t, d)
	s := &h.script
	dv := s.devices[dev]
	if dv == nil || dv.plan.SecAgg == nil {
		t.Fatalf("%s has no plan of a secure round", dev)
	}
	if want == secagg.PhaseAdvertiseKeys {
		_, err := dv.join(t, h.m, now, dv.plan)
		fmt.Fprintf(b, "%s: sent keys: %s\n", dev, verdict(err))
		return true
	}
	if dv.client == nil || dv.phase() != want {
		t.Fatalf("%s: %s, but it is not in that phase", dev, d.Cmd)
	}
	if want == secagg.PhaseMaskedInput {
		dv.update = floatsArg(t, d, "update")
	}
	in, out, wait, err := dv.step(t, h.m, now)
	names := func(ids []secagg.ClientID) string {
		var list []string
		for _, id := range ids {
			name, ok := s.names[dv.plan.Round][id]
			if !ok {
				name = fmt.Sprintf("#%d", id)
			}
			list = append(list, name)
		}
		return strings.Join(list, ",")
	}
	switch in := in.(type) {
	case nil:
		if err != nil {
			fmt.Fprintf(b, "%s: rejected: %v\n", dev, err)
		} else {
			fmt.Fprintf(b, "%s: wait %s, %v is still open\n", dev, wait, want-1)
		}
	case *secagg.KeysForward:
		var peers, to []secagg.ClientID
		for _, p := range in.Peers {
			peers = append(peers, p.ID)
		}
		for _, sh := range out.(*secagg.ShareKeys).Shares {
			to = append(to, sh.To)
		}
		fmt.Fprintf(b, "%s: got keys of %s; sent shares for %s: %s\n", dev, names(peers), names(to), verdict(err))
	case *secagg.SharesDelivery:
		var from []secagg.ClientID
		for _, sh := range in.Shares {
			from = append(from, sh.From)
		}
		fmt.Fprintf(b, "%s: got shares of %s; sent masked input: %s\n", dev, names(from), verdict(err))
		if err == nil {
			s.count(dv.plan.Round, dv)
		}
	case *secagg.UnmaskRequest:
		var seeds, keys []secagg.ClientID
		for _, r := range out.(*secagg.UnmaskResponse).Seeds {
			seeds = append(seeds, r.Owner)
		}
		for _, r := range out.(*secagg.UnmaskResponse).Keys {
			keys = append(keys, r.Owner)
		}
		fmt.Fprintf(b, "%s: told survived %s, dropped %s; revealed seed shares of %s, key shares of %s: %s\n",
			dev, orNone(names(in.Survived)), orNone(names(in.Dropped)), orNone(names(seeds)), orNone(names(keys)), verdict(err))
	}
	return true
}

// secureRound plays a whole secure round: see secure-round above.
func (h *harness) secureRound(t *testing.T, d *datadriven.TestData, b *strings.Builder) {
	drops := map[string]secagg.Phase{}
	var devs []*secureDevice
	for _, arg := range d.CmdArgs {
		switch arg.Key {
		case "t":
		case "drop":
			for _, v := range arg.Vals {
				dev, name, _ := strings.Cut(v, ":")
				phase := secagg.PhaseAdvertiseKeys
				for phase < secagg.PhaseDone && phase.String() != name {
					phase++
				}
				if phase == secagg.PhaseDone {
					t.Fatalf("drop=%s: no phase %q", v, name)
				}
				drops[dev] = phase
			}
		default:
			devs = append(devs, &secureDevice{id: arg.Key, update: parseFloats(t, arg.Key, arg.SingleVal(t)), dropAt: secagg.PhaseDone})
		}
	}
	for _, dv := range devs {
		if p, ok := drops[dv.id]; ok {
			dv.dropAt = p
		}
	}
	o, _ := runSecureRound(t, h.m, at(t, d), devs)
	for _, dv := range devs {
		if dv.plan != nil && dv.plan.Round != o.Round {
			t.Fatalf("round %d ended before round %d: start secure-round within the selection window", o.Round, dv.plan.Round)
		}
	}
	for _, dv := range devs {
		if dv.plan != nil {
			h.describePlan(b, dv.id, dv.plan)
			break
		}
	}
	for _, dv := range devs {
		if dv.dropAt > secagg.PhaseMaskedInput {
			h.script.count(o.Round, dv)
		}
	}
	h.outcome(b, o)
}

func verdict(err error) string {
	if err != nil {
		return "rejected: " + err.Error()
	}
	return "accepted"
}

func orNone(list string) string {
	if list == "" {
		return "none"
	}
	return list
}

// phaseMoves prints the current round's SecAgg phase if it moved since the
// last command.
func (h *harness) phaseMoves(b *strings.Builder) {
	st := h.m.Status()
	if !st.SecAgg {
		return
	}
	now := [2]int64{st.Round, int64(st.SecAggPhase)}
	if now[0] == h.script.phase[0] && now != h.script.phase {
		fmt.Fprintf(b, "secagg phase %v until %s\n", st.SecAggPhase, st.Deadline.Sub(epoch))
	}
	h.script.phase = now
}

// countedDevices follows a commit of a round with a codec: the devices
// counted and, without DP, their updates' mean.
func (h *harness) countedDevices(b *strings.Builder, round int64) {
	devs := h.script.counted[round]
	delete(h.script.counted, round)
	var names []string
	for _, dv := range devs {
		names = append(names, dv.id)
	}
	fmt.Fprintf(b, "; counted %s", orNone(strings.Join(names, ",")))
	if h.cfg.DP != nil || len(devs) == 0 || slices.ContainsFunc(devs, func(dv *secureDevice) bool { return dv.update == nil }) {
		return
	}
	mean := make([]float32, len(devs[0].update))
	for i := range mean {
		var sum float64
		for _, dv := range devs {
			sum += float64(dv.update[i])
		}
		mean[i] = float32(sum / float64(len(devs)))
	}
	fmt.Fprintf(b, ", their mean %s", h.params(mean))
}

// params formats a model: as %v, or to 4 decimals in rounds with a codec,
// whose last digits depend on the rounding.
func (h *harness) params(p []float32) string {
	if h.cfg.Codec == nil {
		return fmt.Sprint(p)
	}
	s := make([]string, len(p))
	for i, v := range p {
		s[i] = strconv.FormatFloat(float64(v), 'f', 4, 32)
	}
	return "[" + strings.Join(s, " ") + "]"
}

// epsilon prints the ε spent and, with distributed DP, the ε of as many
// rounds of the distributed discrete Gaussian, composed directly.
func (h *harness) epsilon(t *testing.T, b *strings.Builder) {
	st := h.m.Status()
	if !st.DP {
		t.Fatal("epsilon without DP")
	}
	rounds := 0
	for _, s := range h.last.Spends {
		rounds += s.Count
	}
	fmt.Fprintf(b, "ε spent %.4g at δ %g by %s after %d committed rounds", st.Spent.Observers, st.Delta, st.Accountant, rounds)
	if dp := h.cfg.DP; dp.Distributed && rounds > 0 {
		mech := DistributedMechanism(h.cfg, len(h.last.Params), len(h.population), dp.ClipNorm).WithNoiseMultiplier(dp.NoiseMultiplier)
		eps, err := privacy.DistributedDGaussEpsilon(mech, samplingRate(h.cfg, len(h.population)), rounds, dp.Delta)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(b, "; %d rounds of the distributed discrete Gaussian alone: %.4g", rounds, eps)
	}
	b.WriteString("\n")
}

func uintsArg(t *testing.T, d *datadriven.TestData, key string) []uint32 {
	var s string
	d.ScanArgs(t, key, &s)
	var out []uint32
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseUint(f, 10, 32)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		out = append(out, uint32(v))
	}
	return out
}
