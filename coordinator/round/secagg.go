package round

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/tacitfl/tacit/aggregate/secagg"
)

// A secure round runs the SecAgg phases on the round machine's clock: the
// advertise phase is the selection window (a device advertises its keys
// right after it checks in), share keys, consistency (malicious-server mode
// only) and unmask last SecAggConfig.PhaseWindow each, and the masked
// input, for which devices train, the report window. A phase ends at its deadline or as soon as every
// device that can send in it has. Devices fetch the coordinator's message of
// a phase once the phase before has ended (SecAggFetch) and send theirs
// (SecAggSend); the masked inputs are the round's reports.
type secureRound struct {
	server  *secagg.Server
	cfg     secagg.Config
	ids     map[string]secagg.ClientID
	devices []string // by id: the cohort, sorted
	// out holds, per phase, the message each device fetches at its start.
	out map[secagg.Phase]map[secagg.ClientID]secagg.ServerMessage
	// sent and expected count the current phase's messages: the phase
	// ends early when every expected one is in.
	sent, expected int
	sum            []uint32 // once done
	survivors      []string // the devices whose masked inputs the sum holds, once done
	// stages are the devices that sent their message of each phase ended
	// so far; a device checks in by advertising its keys.
	stages []Stage
}

// setupSecAgg sets up the current round's secure aggregation over the
// cohort, with the round's codec.
func (m *Machine) setupSecAgg() error {
	u := m.codec
	length := u.EncodedLen(len(m.params))
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
	devices := m.Cohort()
	if m.cfg.SecAgg.Malicious { // the registry in cohort order: client id i is devices[i]
		cfg.Registry = &secagg.Registry{Keys: make([]ed25519.PublicKey, len(devices))}
		for i, dev := range devices {
			cfg.Registry.Keys[i] = m.signingKeys[dev]
		}
		for _, dev := range devices {
			e, ok := m.endorsements[dev]
			if !ok {
				cfg.Registry.Endorsements = nil
				break
			}
			cfg.Registry.Endorsements = append(cfg.Registry.Endorsements, e)
		}
	}
	server, err := secagg.NewServer(cfg)
	if err != nil {
		return err
	}
	sr := &secureRound{server: server, cfg: cfg, ids: make(map[string]secagg.ClientID, len(m.cohort)),
		out: make(map[secagg.Phase]map[secagg.ClientID]secagg.ServerMessage), expected: len(m.cohort), devices: devices}
	for i, dev := range sr.devices {
		sr.ids[dev] = secagg.ClientID(i)
	}
	m.sec = sr
	return nil
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
	sr.stages = append(sr.stages, Stage{ending.String(), sr.sent})
	if ending == secagg.PhaseMaskedInput {
		if reason := m.refuseUnmask(); reason != "" {
			m.abandon(now, reason)
			return
		}
	}
	out, err := sr.server.EndPhase()
	if err != nil {
		m.abandon(now, fmt.Sprintf("secure aggregation stopped after %v: %v", ending, err))
		return
	}
	if out.Phase == secagg.PhaseDone {
		m.exclude(out.BadShares)
		sr.sum = out.Sum
		for _, id := range out.Survivors {
			sr.survivors = append(sr.survivors, sr.devices[id])
		}
		// refuseUnmask checked these survivors, the masked inputs' senders,
		// before anything was unmasked.
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

// refuseUnmask is why the masked-input phase must not end in unmasking,
// or "" if it may. In malicious-server mode the consistency phase comes
// between, but the checks still belong here: they read only which devices
// sent masked inputs, fixed once this phase ends (the consistency phase
// adds none and removes none from the sum), and refusing here spares the
// devices signing a view of a round that will not unmask. Unmasking reveals the sum of the devices that sent
// masked inputs, and of each connected component of their neighbour graph
// on its own (the pairwise masks cancel within one), so it needs, before a
// single unmask request goes out: as many of them as a round commits with
// (with distributed DP, the honest shares the noise is sized for), no more
// dropouts than secure aggregation was sized for, and no component smaller
// than that minimum.
func (m *Machine) refuseUnmask() string {
	sr := m.sec
	var survivors []secagg.ClientID
	for id, dev := range sr.devices {
		if m.accepted[dev] {
			survivors = append(survivors, secagg.ClientID(id))
		}
	}
	n, need := len(survivors), m.minReports()
	if n < need {
		return fmt.Sprintf("%d masked inputs, %d needed: nothing unmasked", n, need)
	}
	if reason := m.tooFewHonest(n); reason != "" {
		return reason
	}
	cohort := sr.cfg.NumClients
	if most := int(math.Floor(m.cfg.SecAgg.DropoutRate * float64(cohort))); cohort-n > most {
		return fmt.Sprintf("%d of %d selected devices dropped out before their masked input, more than the %d (dropout rate %g) secure aggregation is sized for: nothing unmasked",
			cohort-n, cohort, most, m.cfg.SecAgg.DropoutRate)
	}
	return smallComponent(sr.cfg, survivors, func(size int) bool { return size >= need && m.tooFewHonest(size) == "" })
}

// smallComponent is why survivors' neighbour graph in the round cfg must
// not be unmasked, a component whose size is not enough, or "" if every
// component's is.
func smallComponent(cfg secagg.Config, survivors []secagg.ClientID, enough func(size int) bool) string {
	comps, err := cfg.Components(survivors)
	if err != nil {
		return fmt.Sprintf("the survivors' neighbour graph: %v: nothing unmasked", err)
	}
	for _, c := range comps {
		if !enough(len(c)) {
			return fmt.Sprintf("the survivors' neighbour graph has components %v: the sum of the %d devices of one alone would be revealed: nothing unmasked",
				comps, len(c))
		}
	}
	return ""
}

// exclude keeps the devices of ids, which revealed shares off their
// owners' polynomials (the server located them and still summed exactly),
// out of every later cohort, and counts them in the round's outcome.
func (m *Machine) exclude(ids []secagg.ClientID) {
	for _, id := range ids {
		if d := m.sec.devices[id]; !m.excluded[d] {
			m.excluded[d] = true
			m.newlyExcluded = append(m.newlyExcluded, d)
		}
	}
}

// secureSum writes the round's sum of updates into m.step (which holds d
// values, so DecodeSum fills it in place).
func (m *Machine) secureSum() error {
	_, err := m.codec.DecodeSum(m.step, m.sec.sum, len(m.params))
	return err
}
