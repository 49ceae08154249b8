package coordinator

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tacitfl/tacit/coordinator/round"
)

// Metrics are the coordinator's Prometheus metrics, registered on the
// registry the caller gives (no globals). Names follow Prometheus
// conventions (promtool check metrics passes over them: make
// promtool-metrics): tacit_ prefix, base units, no device or round ids as
// labels, and every label value a metric can take created at zero.
//
// Each moves when the thing it counts happens, whatever drives the Service:
// the Service counts rounds, check-ins, reports and checkpoints; the QUIC
// Server counts connections and bytes, and so does a transport without a
// wire (the simulator's in-memory one) through DeviceConnected,
// DeviceDisconnected and Exchanged, with what QUIC would have carried.
type Metrics struct {
	roundsCommitted prometheus.Counter
	roundsAbandoned prometheus.Counter
	roundSeconds    prometheus.Histogram
	participants    prometheus.Gauge
	lastRoundEnd    prometheus.Gauge
	dropouts        *prometheus.CounterVec
	stageDevices    *prometheus.GaugeVec
	checkIns        *prometheus.CounterVec
	reports         *prometheus.CounterVec
	bytesIn         prometheus.Counter
	bytesOut        prometheus.Counter
	connected       prometheus.Gauge
	enrolled        prometheus.Gauge
	modelVersion    prometheus.Gauge
	hr, ndcg        prometheus.Gauge
	epsilon         *prometheus.GaugeVec
	budget, delta   prometheus.Gauge
	updateNorm      prometheus.Histogram
	clipped         prometheus.Counter
	clippedFraction prometheus.Gauge
	excluded        prometheus.Counter
	ckptSeconds     prometheus.Histogram
	checkpoints     prometheus.Counter
	ckptFailures    prometheus.Counter
}

// stages are the values of the stage label of tacit_round_stage_devices
// (all of them) and tacit_round_dropouts_total (all but the first): the
// stages of round.Outcome.Stages, a plain round's then a secure round's.
var stages = []string{"selected", "checked-in", "reported",
	"advertise-keys", "share-keys", "masked-input", "consistency", "unmask"}

// NewMetrics creates the metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		roundsCommitted: prometheus.NewCounter(prometheus.CounterOpts{Name: "tacit_rounds_committed_total", Help: "Rounds whose aggregate updated the model."}),
		roundsAbandoned: prometheus.NewCounter(prometheus.CounterOpts{Name: "tacit_rounds_abandoned_total", Help: "Rounds that ended without changing the model (the reason is in the log and /status)."}),
		roundSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tacit_round_duration_seconds", Help: "Time from a round's opening to its end, committed or not.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}),
		participants: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_round_participants", Help: "Reports in the last finished round: aggregated if it committed, received if not."}),
		lastRoundEnd: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_last_round_end_timestamp_seconds",
			Help: "Unix time the last round ended, committed or not; until one has, when the coordinator started. Nothing ends once training has stopped (privacy budget spent)."}),
		dropouts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tacit_round_dropouts_total",
			Help: "Devices lost between the previous stage of a round and this one (selected, checked-in, then reported or each SecAgg phase reached)."}, []string{"stage"}),
		stageDevices: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tacit_round_stage_devices",
			Help: "Devices still in the last finished round at the end of each stage; 0 for a stage it did not reach."}, []string{"stage"}),
		checkIns:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tacit_check_ins_total", Help: "Device check-ins by result: accepted (a plan), retry (come back later) or rejected."}, []string{"result"}),
		reports:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tacit_reports_total", Help: "Device reports (masked inputs in secure rounds) by result: accepted, the rejection's code, or error."}, []string{"result"}),
		bytesIn:      prometheus.NewCounter(prometheus.CounterOpts{Name: "tacit_received_bytes_total", Help: "Bytes of request frames read from devices, Hellos included (in memory: what QUIC would have carried)."}),
		bytesOut:     prometheus.NewCounter(prometheus.CounterOpts{Name: "tacit_sent_bytes_total", Help: "Bytes of response frames written to devices (in memory: what QUIC would have carried)."}),
		connected:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_connected_devices", Help: "Device connections open now (in memory: devices that have exchanged anything, as QUIC keeps their connections)."}),
		enrolled:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_enrolled_devices", Help: "Devices enrolled: the population rounds select from, or after a reload (SIGHUP) the devices the server admits."}),
		modelVersion: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_model_version", Help: "Version of the global model served."}),
		hr:           prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_federated_hr_at_10", Help: "Mean HR@10 reported by the devices of the last committed round (0 below the minimum of reports for means)."}),
		ndcg:         prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_federated_ndcg_at_10", Help: "Mean NDCG@10 reported by the devices of the last committed round (0 below the minimum of reports for means)."}),
		epsilon: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "tacit_privacy_epsilon_spent",
			Help: "User-level ε spent by the committed rounds at the configured δ, against observers of the released models (amplified by secret sampling; under central DP with a trusted coordinator) or against the coordinator (the worst device, no amplification; +Inf under central DP)."},
			[]string{"against"}),
		budget: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_privacy_epsilon_budget", Help: "The ε budget training stops at; 0 for none (or without differential privacy)."}),
		delta:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_privacy_delta", Help: "The δ every ε is at; 0 without differential privacy."}),
		updateNorm: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tacit_update_norm",
			Help:    "L2 norm of each accepted plain update as the coordinator received it, before any clipping; observed when its round ends. Plain rounds only: under secure aggregation the coordinator never sees an update.",
			Buckets: prometheus.ExponentialBuckets(1.0/1024, 2, 21)}),
		clipped: prometheus.NewCounter(prometheus.CounterOpts{Name: "tacit_updates_clipped_total",
			Help: "Reports the DP clip norm cut (scaled down), in plain rounds with differential privacy; counted when the round ends. Under secure aggregation the coordinator cannot tell."}),
		clippedFraction: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tacit_round_clipped_fraction",
			Help: "Share of the last committed round's reports the DP clip norm cut (0 without differential privacy or under secure aggregation)."}),
		excluded: prometheus.NewCounter(prometheus.CounterOpts{Name: "tacit_secagg_excluded_devices_total",
			Help: "Devices found revealing bad SecAgg shares, and never selected again."}),
		ckptSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "tacit_checkpoint_duration_seconds",
			Help: "Time each checkpoint save took, successful or not (the commit's model is served only after it).", Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}),
		checkpoints:  prometheus.NewCounter(prometheus.CounterOpts{Name: "tacit_checkpoints_total", Help: "Checkpoints saved: one per committed round."}),
		ckptFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "tacit_checkpoint_failures_total", Help: "Checkpoint saves that failed; the coordinator stops at the first."}),
	}
	reg.MustRegister(m.roundsCommitted, m.roundsAbandoned, m.roundSeconds, m.participants, m.lastRoundEnd, m.dropouts, m.stageDevices,
		m.checkIns, m.reports, m.bytesIn, m.bytesOut, m.connected, m.enrolled, m.modelVersion, m.hr, m.ndcg, m.epsilon, m.budget, m.delta,
		m.updateNorm, m.clipped, m.clippedFraction, m.excluded, m.ckptSeconds, m.checkpoints, m.ckptFailures)
	for _, r := range []string{"accepted", "retry", "rejected"} {
		m.checkIns.WithLabelValues(r)
	}
	m.reports.WithLabelValues("accepted")
	m.reports.WithLabelValues("error")
	for _, c := range round.RejectCodes() {
		m.reports.WithLabelValues(c.Label())
	}
	for i, s := range stages {
		m.stageDevices.WithLabelValues(s)
		if i > 0 {
			m.dropouts.WithLabelValues(s)
		}
	}
	return m
}

// start sets what a Service knows when it is made: the model it serves
// (a resumed one's version, not 0), the enrolment, the privacy settings and
// the ε spent before a restart, and now as the last round's end.
func (m *Metrics) start(st round.Status, version int64, now time.Time) {
	m.modelVersion.Set(float64(version))
	m.enrolled.Set(float64(st.Enrolled))
	m.lastRoundEnd.Set(unixSeconds(now))
	if st.DP {
		m.budget.Set(st.Budget)
		m.delta.Set(st.Delta)
		m.epsilon.WithLabelValues("observers").Set(st.Spent.Observers)
		m.epsilon.WithLabelValues("coordinator").Set(st.Spent.Coordinator)
	}
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

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
		m.clippedFraction.Set(float64(o.Clipped) / float64(max(o.Reports, 1)))
	} else {
		m.roundsAbandoned.Inc()
	}
	m.excluded.Add(float64(len(o.Excluded)))
	m.roundSeconds.Observe(o.Ended.Sub(o.Opened).Seconds())
	m.participants.Set(float64(o.Reports))
	m.lastRoundEnd.Set(unixSeconds(o.Ended))
	m.clipped.Add(float64(o.Clipped))
	for _, n := range o.UpdateNorms {
		m.updateNorm.Observe(n)
	}
	// Each stage's gauge is set once, to its devices or 0, so that no
	// scrape sees a half-updated round.
	left := make(map[string]int, len(o.Stages))
	for i, s := range o.Stages {
		left[s.Name] = s.Devices
		if i > 0 {
			if lost := o.Stages[i-1].Devices - s.Devices; lost > 0 {
				m.dropouts.WithLabelValues(s.Name).Add(float64(lost))
			}
		}
	}
	for _, s := range stages {
		m.stageDevices.WithLabelValues(s).Set(float64(left[s]))
		delete(left, s)
	}
	for s, n := range left { // a stage this list does not know yet
		m.stageDevices.WithLabelValues(s).Set(float64(n))
	}
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

// checkpoint counts a checkpoint save that took d and failed with err.
func (m *Metrics) checkpoint(d time.Duration, err error) {
	m.ckptSeconds.Observe(d.Seconds())
	if err != nil {
		m.ckptFailures.Inc()
	} else {
		m.checkpoints.Inc()
	}
}

// DeviceConnected counts a device connection opened, for a transport other
// than the Server: the simulator's in-memory one, which has a connection
// per device from its first exchange, as QUIC does. A nil m counts nothing.
func (m *Metrics) DeviceConnected() {
	if m != nil {
		m.connected.Inc()
	}
}

// DeviceDisconnected counts the end of a connection DeviceConnected
// counted.
func (m *Metrics) DeviceDisconnected() {
	if m != nil {
		m.connected.Dec()
	}
}

// Exchanged counts one request of received bytes and its response of sent
// bytes, framed, for a transport other than the Server: what QUIC would
// have carried. A nil m counts nothing.
func (m *Metrics) Exchanged(received, sent int) {
	if m != nil {
		m.bytesIn.Add(float64(received))
		m.bytesOut.Add(float64(sent))
	}
}
