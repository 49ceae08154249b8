// Package coordinator runs a federated learning coordinator around the
// round machine of package round: a Service that serialises events into
// the machine and carries out what it hands back (checkpoints, metrics,
// logs, history), the QUIC Server devices talk to, the HTTP status page,
// /status and /metrics, device enrolment, and RunProcess, which assembles
// them into `tacit coordinator`. It never trains.
//
// What an application uses: RunProcess with ProcessOptions for a whole
// coordinator; or, to assemble one, NewService (with a Checkpointer such as
// FileCheckpointer, NewMetrics), NewServer with ServerConfig and
// HTTPHandler; ReadTokens and NewTokens for enrolment. Rounds are
// configured with round.Config.
//
// The checkpoint file's format (AppendSnapshot, DecodeSnapshot) is
// versioned: a new field takes a new version, and old versions stay
// readable (checkpoint.go).
package coordinator
