// Package round is the coordinator's round machine: the population,
// selection, configuration, secure aggregation phases, reporting, commit
// and pace steering of federated rounds. It never trains, does no I/O and
// imports no wire package; package coordinator drives it.
//
// The round machine (Machine) is a pure state machine in the style of
// etcd-io/raft: it takes events — a device's check-in, a report, a tick of
// the clock — with the time they happen, answers each request directly, and
// hands what the driver must persist and publish (a committed or abandoned
// round) to Ready. It does no I/O, reads no clock and starts no goroutines,
// which is what lets scenario tests script stragglers, dropouts and restarts
// and lets the simulator run it faster than wall time.
//
// Selection is Poisson sampling by a keyed hash: device d takes part in
// round r if HMAC-SHA256(key, r, d) < q, with q = Goal·OverSelection /
// population and key the run's secret selection key (Snapshot). The cohort
// of a round is then a function of (key, round, population), not of the
// order devices arrive in, so a simulation and a deployment over the
// network select the same devices given the same key; each device is
// sampled independently with probability q; and nobody without the key can
// tell who was sampled, the assumptions of the privacy accountant's
// amplification by sampling. The key is random and secret, never the
// public seed.
//
// With Config.Codec devices quantize their updates (codec.UpdateCodec)
// and with Config.SecAgg a round aggregates securely (secagg.go): the
// machine holds the round's secagg.Server, maps the cohort to SecAgg ids in
// sorted order, and runs its phases on its own clock. The advertise phase is
// the selection window; share keys, unmask and, with SecAggConfig.Malicious
// (the devices' enrolment keys in Parts.SigningKeys, the registry in cohort
// order), the consistency phase between them last a phase window each and
// the masked input the report window, and each ends as soon as every device
// that can send in it has. A device polls for the coordinator's message that
// opens a phase (SecAggFetch) and sends its own (SecAggSend); the masked
// inputs are the reports, and the commit decodes the unmasked sum. Below the
// threshold the round is abandoned and nothing is revealed or changed. With
// distributed DP the devices add the noise, sized for the fewest survivors a
// round accepts (MinFraction of the expected reports), and the accountant
// composes the distributed discrete Gaussian (dp.go). The machine draws no
// randomness of its own: DP noise comes from Parts.Noise, jitter from a
// generator seeded by Config.Seed.
//
// Every refusal is a *Rejection whose RejectCode has one row in one table
// (reject.go): its text, its metric label and its wire code's name.
//
// What an application uses: Config (DefaultConfig, with DPConfig,
// CodecConfig, SecAggConfig) to say how rounds run; Snapshot, the state a
// driver persists; and, to drive a machine itself as coordinator.Service
// does, NewMachine with its events (CheckIn, Report, SecAggSend,
// SecAggFetch, Tick) and Ready.
package round
