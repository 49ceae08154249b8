// Package check keeps the files of deploy/ in step with the coordinator:
// the Grafana dashboard and the Prometheus rules name only metrics it
// exports, with their labels and label values; every alert says what to
// do and is tested both firing and quiet; the Kubernetes manifests and the
// systemd unit keep the settings the coordinator relies on (its ports,
// /healthz, the --state and --tokens paths, the time it needs to drain).
// It has no program: its tests run it on the files (go test ./deploy/check,
// or make deploy-check with the promtool checks).
package check

import (
	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/coordinator/round"
)

// Kind is a metric's Prometheus type.
type Kind int

const (
	Counter Kind = iota
	Gauge
	Histogram
)

// Metric is one of the coordinator's metrics: its type and, for each of
// its labels, the values it takes (nil: any).
type Metric struct {
	Kind   Kind
	Labels map[string][]string
}

// Metrics are the coordinator's metrics (coordinator/metrics.go) that the
// dashboard and the rules may name; TestTheMetricsAreTheCoordinators keeps
// this table and the coordinator's registrations in step.
var Metrics = map[string]Metric{
	"tacit_rounds_committed_total":           {Kind: Counter},
	"tacit_rounds_abandoned_total":           {Kind: Counter},
	"tacit_round_duration_seconds":           {Kind: Histogram},
	"tacit_round_participants":               {Kind: Gauge},
	"tacit_check_ins_total":                  {Kind: Counter, Labels: map[string][]string{"result": {"accepted", "retry", "rejected"}}},
	"tacit_reports_total":                    {Kind: Counter, Labels: map[string][]string{"result": reportResults()}},
	"tacit_received_bytes_total":             {Kind: Counter},
	"tacit_sent_bytes_total":                 {Kind: Counter},
	"tacit_connected_devices":                {Kind: Gauge},
	"tacit_model_version":                    {Kind: Gauge},
	"tacit_federated_hr_at_10":               {Kind: Gauge},
	"tacit_federated_ndcg_at_10":             {Kind: Gauge},
	"tacit_privacy_epsilon_spent":            {Kind: Gauge, Labels: map[string][]string{"against": {"observers", "coordinator"}}},
	"tacit_secagg_excluded_devices_total":    {Kind: Counter},
	"tacit_round_dropouts_total":             {Kind: Counter, Labels: map[string][]string{"stage": stages()[1:]}},
	"tacit_round_stage_devices":              {Kind: Gauge, Labels: map[string][]string{"stage": stages()}},
	"tacit_update_norm":                      {Kind: Histogram},
	"tacit_updates_clipped_total":            {Kind: Counter},
	"tacit_round_clipped_fraction":           {Kind: Gauge},
	"tacit_checkpoint_duration_seconds":      {Kind: Histogram},
	"tacit_checkpoint_failures_total":        {Kind: Counter},
	"tacit_checkpoints_total":                {Kind: Counter},
	"tacit_privacy_epsilon_budget":           {Kind: Gauge},
	"tacit_privacy_delta":                    {Kind: Gauge},
	"tacit_enrolled_devices":                 {Kind: Gauge},
	"tacit_last_round_end_timestamp_seconds": {Kind: Gauge},
}

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"job", "instance"}

// stages are a round's stages (round.Stage), in order: selected, checked
// in, then reported or the SecAgg phases.
func stages() []string {
	s := []string{"selected", "checked-in", "reported"}
	for p := secagg.PhaseAdvertiseKeys; p <= secagg.PhaseUnmask; p++ {
		s = append(s, p.String())
	}
	return s
}

// reportResults are the values of tacit_reports_total's result label.
func reportResults() []string {
	r := []string{"accepted", "error"}
	for _, c := range round.RejectCodes() {
		r = append(r, c.Label())
	}
	return r
}
