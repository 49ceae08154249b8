package coordinator

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tacitfl/tacit/coordinator/round"
)

// Metrics are the coordinator's Prometheus metrics, registered on the
// registry the caller gives (no globals). Names follow Prometheus
// conventions: tacit_ prefix, base units, no device or round ids as labels.
type Metrics struct {
	roundsCommitted prometheus.Counter
	roundsAbandoned prometheus.Counter
	roundSeconds    prometheus.Histogram
	participants    prometheus.Gauge
	checkIns        *prometheus.CounterVec
	reports         *prometheus.CounterVec
	bytesIn         prometheus.Counter
	bytesOut        prometheus.Counter
	connected       prometheus.Gauge
	modelVersion    prometheus.Gauge
	hr, ndcg        prometheus.Gauge
	epsilon         *prometheus.GaugeVec
	excluded        prometheus.Counter
}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		roundsCommitted: prometheus.NewCounter(prometheus.CounterOpts{Name: "tacit_rounds_committed_total", Help: "Rounds whose aggregate updated the model."}),
		roundsAbandoned: prometheus.NewCounter(prometheus.CounterOpts{Name: "tacit_rounds_abandoned_total", Help: "Rounds that ended without changing the model."}),
		roundSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tacit_round_duration_seconds", Help: "Time from a round's opening to its end.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}),
		participants: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_round_participants", Help: "Reports aggregated in the last finished round."}),
		checkIns:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tacit_check_ins_total", Help: "Device check-ins by result."}, []string{"result"}),
		reports:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tacit_reports_total", Help: "Device reports by result."}, []string{"result"}),
		bytesIn:      prometheus.NewCounter(prometheus.CounterOpts{Name: "tacit_received_bytes_total", Help: "Bytes of requests read from devices."}),
		bytesOut:     prometheus.NewCounter(prometheus.CounterOpts{Name: "tacit_sent_bytes_total", Help: "Bytes of responses written to devices."}),
		connected:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_connected_devices", Help: "Device connections open now."}),
		modelVersion: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_model_version", Help: "Version of the global model."}),
		hr:           prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_federated_hr_at_10", Help: "Mean HR@10 reported by the devices of the last committed round."}),
		ndcg:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_federated_ndcg_at_10", Help: "Mean NDCG@10 reported by the devices of the last committed round."}),
		epsilon: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tacit_privacy_epsilon_spent",
			Help: "User-level ε spent by the committed rounds at the configured δ, against observers of the released models (amplified by secret sampling; under central DP with a trusted coordinator) or against the coordinator (the worst device, no amplification; +Inf under central DP)."},
			[]string{"against"}),
		excluded: prometheus.NewCounter(prometheus.CounterOpts{Name: "tacit_secagg_excluded_devices_total",
			Help: "Devices found revealing bad SecAgg shares, and never selected again."}),
	}
	reg.MustRegister(m.roundsCommitted, m.roundsAbandoned, m.roundSeconds, m.participants, m.checkIns, m.reports,
		m.bytesIn, m.bytesOut, m.connected, m.modelVersion, m.hr, m.ndcg, m.epsilon, m.excluded)
	for _, r := range []string{"accepted", "retry", "rejected"} {
		m.checkIns.WithLabelValues(r)
	}
	m.reports.WithLabelValues("accepted")
	m.reports.WithLabelValues("error")
	for _, c := range round.RejectCodes() {
		m.reports.WithLabelValues(c.Label())
	}
	return m
}

func (m *Metrics) outcome(o round.Outcome) {
	if o.Committed {
		m.roundsCommitted.Inc()
		m.modelVersion.Set(float64(o.Snapshot.Version))
		if o.Snapshot.Spends != nil { // with differential privacy
			m.epsilon.WithLabelValues("observers").Set(o.Observers)
			m.epsilon.WithLabelValues("coordinator").Set(o.Coordinator)
		}
		if o.Evaluated > 0 {
			m.hr.Set(o.HR)
			m.ndcg.Set(o.NDCG)
		}
	} else {
		m.roundsAbandoned.Inc()
	}
	m.excluded.Add(float64(len(o.Excluded)))
	m.roundSeconds.Observe(o.Ended.Sub(o.Opened).Seconds())
	m.participants.Set(float64(o.Reports))
}

func (m *Metrics) checkIn(res round.CheckInResult, err error) {
	switch {
	case err != nil:
		m.checkIns.WithLabelValues("rejected").Inc()
	case res.Plan != nil:
		m.checkIns.WithLabelValues("accepted").Inc()
	default:
		m.checkIns.WithLabelValues("retry").Inc()
	}
}

// report counts a report by its result: accepted, the rejection's code,
// or error for a failure that is no rejection.
func (m *Metrics) report(err error) {
	var r *round.Rejection
	switch {
	case err == nil:
		m.reports.WithLabelValues("accepted").Inc()
	case errors.As(err, &r):
		m.reports.WithLabelValues(r.Code.Label()).Inc()
	default:
		m.reports.WithLabelValues("error").Inc()
	}
}
