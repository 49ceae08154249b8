package round

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/privacy"
)

// A secure round runs the SecAgg phases on the round machine's clock: the
// advertise phase is the selection window (a device advertises its keys
// right after it checks in), share keys and unmask last
// SecAggConfig.PhaseWindow each, and the masked input, for which devices
// train, the report window. A phase ends at its deadline or as soon as every
// device that can send in it has. Devices fetch the coordinator's message of
// a phase once the phase before has ended (SecAggFetch) and send theirs
// (SecAggSend); the masked inputs are the round's reports.
type secureRound struct {
	server *secagg.Server
	cfg    secagg.Config
	ids    map[string]secagg.ClientID
	// out holds, per phase, the message each device fetches at its start.
	out map[secagg.Phase]map[secagg.ClientID]secagg.ServerMessage
	// sent and expected count the current phase's messages: the phase
	// ends early when every expected one is in.
	sent, expected int
	sum            []uint32 // once done
	survivors      int
}

// tailWrap is the probability per coordinate that a sum's distributed noise
// leaves the ring: small enough that a wrap is rare in a million values.
const tailWrap = 1e-9

// setupRound chooses round r's codec and, with SecAgg, its secure
// aggregation over the cohort. An error abandons the round.
func (m *Machine) setupRound() error {
	m.codec, m.sec = nil, nil
	k := m.cfg.Codec
	if k == nil {
		return nil
	}
	d := len(m.params)
	u := &codec.UpdateCodec{Bits: k.Bits, Rotate: k.Rotate}
	if k.Rotate {
		u.RotationSeed = m.roundSeed("rotation")
	}
	norm := k.Norm
	if m.cfg.DP != nil {
		norm = m.clip
	}
	length := u.EncodedLen(d)
	u.Range = codecRange(k.Bits, k.Rotate, length, m.expectedReports(), norm)
	n := max(1, len(m.cohort))
	u.ModBits = codec.RequiredModBits(k.Bits, n)
	if m.distributed() {
		mech := m.spend().Distributed
		u.LocalNoise, u.MinSurvivors = mech.LocalStd, mech.MinSurvivors
		for u.ModBits <= codec.MaxModBits {
			q, err := u.Quantizer()
			if err == nil && q.CheckNoise(n, u.LocalNoise, codec.TailBound(tailWrap)) == nil {
				break
			}
			u.ModBits++
		}
	}
	if u.ModBits > codec.MaxModBits {
		return fmt.Errorf("the sum of %d devices' %d-bit values needs a ring of more than %d bits", n, k.Bits, codec.MaxModBits)
	}
	if _, err := u.Quantizer(); err != nil {
		return err
	}
	m.codec = u
	if m.cfg.SecAgg == nil {
		if m.mean.Len() != length {
			m.mean = aggregate.NewMean(length)
		}
		return nil
	}
	if len(m.cohort) < 2 {
		return fmt.Errorf("secure aggregation needs at least 2 selected devices, %d were", len(m.cohort))
	}
	// The finder's search is not free at large n: remember its answers.
	kt, ok := m.secParams[len(m.cohort)]
	if !ok {
		s := m.cfg.SecAgg
		k, t, err := secagg.FindParams(len(m.cohort), s.AdversaryRate, s.DropoutRate, s.ThreatModel)
		if errors.Is(err, secagg.ErrInfeasible) { // too few devices for a sparse graph
			k, t, err = secagg.FullGraphParams(len(m.cohort), s.AdversaryRate, s.DropoutRate, s.ThreatModel)
		}
		if err != nil {
			return err
		}
		kt = [2]int{k, t}
		m.secParams[len(m.cohort)] = kt
	}
	cfg := secagg.Config{Round: uint64(m.round), NumClients: len(m.cohort), Degree: kt[0], Threshold: kt[1],
		Bits: u.ModBits, Length: length}
	cfg.GraphSeed = m.roundSeed("secagg graph")
	server, err := secagg.NewServer(cfg)
	if err != nil {
		return err
	}
	sr := &secureRound{server: server, cfg: cfg, ids: make(map[string]secagg.ClientID, len(m.cohort)),
		out: make(map[secagg.Phase]map[secagg.ClientID]secagg.ServerMessage), expected: len(m.cohort)}
	for i, dev := range m.Cohort() {
		sr.ids[dev] = secagg.ClientID(i)
	}
	m.sec = sr
	return nil
}

func (m *Machine) distributed() bool { return m.cfg.DP != nil && m.cfg.DP.Distributed }

// codecRange is the range c of b-bit values for updates of the given norm
// and (encoded) length, averaged over about `expected` devices. Rotated,
// every coordinate is about norm/√length and c is ClipK of those; not
// rotated, one coordinate may carry the whole norm, and c = norm clips
// none.
func codecRange(bits int, rotate bool, length int, expected, norm float64) float64 {
	if !rotate {
		return norm
	}
	return codec.ClipK(bits, max(1, int(expected))) * norm / math.Sqrt(float64(length))
}

// DistributedMechanism is the distributed discrete Gaussian that rounds of
// cfg (with DP.Distributed) run with clip norm clip on a model of d
// parameters over population devices, before its noise is set
// (WithNoiseMultiplier): the scale of the round's quantizer, the clip, the
// encoded length and the fewest survivors a round accepts. Calibration uses
// it; so do the machine's accountant and its devices' noise.
func DistributedMechanism(cfg Config, d, population int, clip float64) privacy.DistributedDGauss {
	u := codec.UpdateCodec{Bits: cfg.Codec.Bits, Rotate: cfg.Codec.Rotate}
	length := u.EncodedLen(d)
	expected := samplingRate(cfg, population) * float64(population)
	scale := float64(int(1)<<(u.Bits-1)-1) / codecRange(u.Bits, u.Rotate, length, expected, clip)
	return privacy.DistributedDGauss{Scale: scale, Clip: clip, Dim: length, MinSurvivors: minSurvivors(cfg, expected)}
}

// minSurvivors is, with distributed DP, the fewest masked inputs a round
// commits with: a fixed share of the expected reports, so that the noise
// the accountant counts on is there whatever the cohort's size.
func minSurvivors(cfg Config, expected float64) int {
	return max(2, int(math.Ceil(cfg.MinFraction*expected)))
}

// spend is the privacy mechanism of the current round, for the accountant.
func (m *Machine) spend() privacy.Spend {
	d := m.cfg.DP
	s := privacy.Spend{Q: m.q, Sigma: d.NoiseMultiplier, Count: 1}
	if d.Distributed {
		mech := DistributedMechanism(m.cfg, len(m.params), len(m.enrolled), m.clip).WithNoiseMultiplier(d.NoiseMultiplier)
		s.Distributed = &mech
	}
	return s
}

// SecAggSend takes a device's SecAgg message for round at now. A refused
// message changes nothing; the error is a *Rejection.
func (m *Machine) SecAggSend(now time.Time, device string, round int64, msg secagg.ClientMessage) error {
	m.Tick(now)
	id, err := m.secureMember(device, round)
	if err != nil {
		return err
	}
	if msg == nil || msg.Sender() != id {
		return reject(BadUpdate, "a SecAgg message from another device")
	}
	sr := m.sec
	_, masked := msg.(*secagg.MaskedInput)
	if masked && m.accepted[device] {
		return reject(Duplicate, "device %q already sent its masked input in round %d", device, m.round)
	}
	if err := sr.server.Step(msg); err != nil {
		return secAggRejection(err)
	}
	if masked {
		m.accepted[device] = true
		m.reports++
	}
	sr.sent++
	if sr.sent >= sr.expected {
		if m.phase == Selecting {
			m.closeSelection(now)
		} else {
			m.endSecurePhase(now)
		}
	}
	return nil
}

// SecAggFetch answers a device asking, at now, for the coordinator's
// message that opens SecAgg phase `phase` of round: the message, or how
// long to wait while the phase before is still open.
func (m *Machine) SecAggFetch(now time.Time, device string, round int64, phase secagg.Phase) (secagg.ServerMessage, time.Duration, error) {
	m.Tick(now)
	id, err := m.secureMember(device, round)
	if err != nil {
		return nil, 0, err
	}
	sr := m.sec
	if phase <= secagg.PhaseAdvertiseKeys || phase >= secagg.PhaseDone {
		return nil, 0, reject(BadUpdate, "no coordinator message opens SecAgg phase %v", phase)
	}
	if sr.server.Phase() < phase {
		wait := max(m.cfg.RetryMin/4, min(m.cfg.RetryMin, m.deadline.Sub(now)))
		return nil, wait, nil
	}
	msg, ok := sr.out[phase][id]
	if !ok {
		return nil, 0, reject(Late, "device %q is no longer in round %d's secure aggregation (phase %v)", device, m.round, phase)
	}
	return msg, 0, nil
}

// secureMember checks device takes part in the current secure round.
func (m *Machine) secureMember(device string, round int64) (secagg.ClientID, error) {
	switch _, checkedIn := m.accepted[device]; {
	case !m.enrolled[device]:
		return 0, reject(NotEnrolled, "device %q is not enrolled", device)
	case round > m.round:
		return 0, reject(WrongRound, "round %d has not started (current round %d)", round, m.round)
	case round < m.round || m.phase == Stopped:
		return 0, reject(Late, "round %d has ended (current round %d)", round, m.round)
	case m.sec == nil:
		return 0, reject(BadUpdate, "round %d does not aggregate securely", m.round)
	case !checkedIn:
		return 0, reject(NotSelected, "device %q was not accepted in round %d", device, m.round)
	}
	return m.sec.ids[device], nil
}

// secAggRejection turns the SecAgg server's refusal into a Rejection.
func secAggRejection(err error) *Rejection {
	code := SecAggRefused
	if errors.Is(err, secagg.ErrDuplicate) {
		code = Duplicate
	}
	return reject(code, "%v", err)
}

// endSecurePhase ends the current SecAgg phase at now: the next phase opens
// with its messages, or the round commits with the sum, or it is abandoned
// when too few devices are left.
func (m *Machine) endSecurePhase(now time.Time) {
	sr := m.sec
	ending := sr.server.Phase()
	out, err := sr.server.EndPhase()
	if err != nil {
		m.abandon(now, fmt.Sprintf("secure aggregation stopped after %v: %v", ending, err))
		return
	}
	if out.Phase == secagg.PhaseDone {
		sr.sum, sr.survivors = out.Sum, len(out.Survivors)
		if sr.survivors < m.minReports() {
			m.abandon(now, fmt.Sprintf("%d masked inputs, %d needed", sr.survivors, m.minReports()))
			return
		}
		m.commit(now, "secure aggregation complete")
		return
	}
	byID := make(map[secagg.ClientID]secagg.ServerMessage, len(out.Messages))
	for _, msg := range out.Messages {
		byID[msg.Recipient()] = msg
	}
	sr.out[out.Phase], sr.sent, sr.expected = byID, 0, len(out.Messages)
	m.phase = Reporting
	window := m.cfg.SecAgg.PhaseWindow
	if out.Phase == secagg.PhaseMaskedInput {
		window = m.cfg.ReportWindow
	}
	m.deadline = now.Add(window)
	if out.Phase == secagg.PhaseMaskedInput && sr.expected < m.minReports() {
		m.abandon(now, fmt.Sprintf("%d devices left to send masked inputs, %d needed", sr.expected, m.minReports()))
	}
}

// secureSum writes the round's sum of updates into m.step (which holds d
// values, so DecodeSum fills it in place).
func (m *Machine) secureSum() error {
	_, err := m.codec.DecodeSum(m.step, m.sec.sum, len(m.params))
	return err
}

// SecAggPhase is the current round's SecAgg phase, if it aggregates
// securely.
func (m *Machine) SecAggPhase() (secagg.Phase, bool) {
	if m.sec == nil {
		return 0, false
	}
	return m.sec.server.Phase(), true
}

// roundSeed is the current round's public randomness for purpose,
// reproducible from Config.Seed: a round rotates alike with or without
// SecAgg.
func (m *Machine) roundSeed(purpose string) [32]byte {
	b := binary.LittleEndian.AppendUint64([]byte("tacit round "+purpose), m.cfg.Seed)
	return sha256.Sum256(binary.LittleEndian.AppendUint64(b, uint64(m.round)))
}
