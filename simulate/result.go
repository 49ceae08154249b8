package simulate

import "github.com/tacitfl/tacit/coordinator"

// Round is one line of rounds.jsonl.
type Round struct {
	Round        int      `json:"round"`
	Participants int      `json:"participants"` // devices whose update was aggregated
	Dropped      int      `json:"dropped"`      // selected devices that never reported
	TrainLoss    float64  `json:"train_loss"`   // mean over participants of their loss before the step
	Seconds      float64  `json:"seconds"`
	HR           *float64 `json:"hr_at_10,omitempty"` // only on rounds that evaluate
	NDCG         *float64 `json:"ndcg_at_10,omitempty"`
	// With differential privacy: the share of updates the clip norm cut,
	// the noise's standard deviation on the sum, and the ε spent so far in
	// its two figures (Summary.Privacy).
	ClippedFraction *float64 `json:"clipped_fraction,omitempty"`
	ClipNorm        *float64 `json:"clip_norm,omitempty"`
	NoiseStd        *float64 `json:"noise_std,omitempty"`
	*coordinator.PrivacyReport
}

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
