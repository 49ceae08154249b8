package simulate

import "github.com/tacitfl/tacit/coordinator"

// Round is one line of rounds.jsonl: the coordinator's record of a
// finished round, the same type as its history and /status's recent
// rounds. A simulation fills it from the round's outcome, with two
// differences: hr_at_10 and ndcg_at_10 are the simulator's own evaluation
// (full ranking, on evaluated rounds), and opened and seconds are the
// wall clock's, evaluation included, where the coordinator's clock skips
// the deadlines that dropouts leave it waiting for. A central run's ALS
// iterations fill what they have: round, committed, opened, seconds,
// reports (everyone), and the evaluation.
type Round = coordinator.RoundRecord

// Summary is summary.json, the same shape for federated and central runs.
type Summary struct {
	Command                string  `json:"command"` // "simulate" or "central"
	Data                   string  `json:"data"`
	Users                  int     `json:"users"`
	Items                  int     `json:"items"`
	Rounds                 int     `json:"rounds"` // ALS iterations for central
	HR                     float64 `json:"hr_at_10"`
	NDCG                   float64 `json:"ndcg_at_10"`
	SampledHR              float64 `json:"sampled_hr_at_10"`
	SampledNDCG            float64 `json:"sampled_ndcg_at_10"`
	EvaluatedUsers         int     `json:"evaluated_users"`
	WallSeconds            float64 `json:"wall_seconds"`
	ClientUpdatesPerSecond float64 `json:"client_updates_per_second,omitempty"`
	UplinkBytesPerUpdate   int     `json:"uplink_bytes_per_update"`
	DownlinkBytesPerModel  int     `json:"downlink_bytes_per_model"`
	PeakRSSBytes           int64   `json:"peak_rss_bytes,omitempty"` // of the whole process, data loading included
	// Privacy is the ε spent, against observers of the model and against
	// the coordinator, at its δ; null without differential privacy.
	// PrivacyAssumptions says what the figures take for granted.
	Privacy            *coordinator.PrivacyReport `json:"privacy"`
	PrivacyAssumptions string                     `json:"privacy_assumptions,omitempty"`
	NoiseMultiplier    float64                    `json:"noise_multiplier,omitempty"`
	ClipNorm           float64                    `json:"clip_norm,omitempty"`
	Seed               uint64                     `json:"seed"`
	Config             Config                     `json:"config"`
}

// Observer receives progress as a run goes. Run and Central call it from
// one goroutine.
type Observer interface {
	// Round is called after each round (each ALS iteration for central runs).
	Round(r Round)
}
