package simulate

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/model"
)

// runMeteredFederation runs cfg's rounds and returns the final model, the
// rounds' records (untimed) and, with cfg.HTTP set, the coordinator's metrics
// (flatMetrics) after the last round and after the federation closed.
//
// With status, it also fills in the coordinator's /status after the last
// round.
func runMeteredFederation(t *testing.T, data *dataset.Log, cfg Config, status ...*coordinator.StatusReport) (params []float32, rounds []Round, open, closed map[string]float64) {
	t.Helper()
	var rec recorder
	pop, err := newPopulation(data, cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := model.NewMF(data.NumItems, cfg.Factors, cfg.Seed)
	fed, err := newFederation(cfg, pop, data.NumItems, m)
	if err != nil {
		t.Fatal(err)
	}
	defer fed.close()
	for range cfg.Rounds {
		o, err := fed.round(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		rec.Round(untimed(fed.record(o, "")))
	}
	fed.model(m.Params)
	for _, st := range status {
		*st = fed.svc.Status()
	}
	if fed.reg != nil {
		open = flatMetrics(t, fed.reg)
		if err := fed.close(); err != nil {
			t.Fatal(err)
		}
		closed = flatMetrics(t, fed.reg)
	}
	return m.Params, rec.rounds, open, closed
}

// flatMetrics is every tacit_ series of reg, a histogram by its count and
// sum, keyed name{label="value",...}; but those of the clock (durations
// and timestamps), which differ from run to run.
func flatMetrics(t *testing.T, reg prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, "tacit_") || strings.Contains(name, "duration") || strings.Contains(name, "timestamp") {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			key := name + "{" + strings.Join(labels, ",") + "}"
			if h := m.GetHistogram(); h != nil {
				out[key+"_count"], out[key+"_sum"] = float64(h.GetSampleCount()), h.GetSampleSum()
				continue
			}
			out[key] = m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}

// metricsAgree: the same federation over the in-memory transport and over
// QUIC exports the same metrics, each after the last round and after the
// run: the in-memory transport counts the connections and bytes QUIC
// carries, frame for frame, and the rest is the Service's. Bytes and
// connections are not 0, and connections end with the run.
func metricsAgree(t *testing.T, memory, quic [2]map[string]float64) {
	t.Helper()
	for i, when := range []string{"after the last round", "after the run"} {
		keys := map[string]bool{}
		for k := range memory[i] {
			keys[k] = true
		}
		for k := range quic[i] {
			keys[k] = true
		}
		var differ []string
		for k := range keys {
			m, q := memory[i][k], quic[i][k]
			if strings.HasSuffix(k, "_sum") && math.Abs(m-q) <= 1e-9*math.Abs(q) {
				continue // a float sum, in the order the reports came
			}
			if m != q {
				differ = append(differ, fmt.Sprintf("%s: memory %v, quic %v", k, m, q))
			}
		}
		sort.Strings(differ)
		if len(differ) > 0 {
			t.Errorf("%s, the transports' metrics differ:\n%s", when, strings.Join(differ, "\n"))
		}
	}
	for _, k := range []string{"tacit_received_bytes_total{}", "tacit_sent_bytes_total{}", "tacit_connected_devices{}", `tacit_reports_total{result="accepted"}`} {
		if !(memory[0][k] > 0) {
			t.Errorf("%s is %v in memory", k, memory[0][k])
		}
	}
	if n := memory[1]["tacit_connected_devices{}"]; n != 0 {
		t.Errorf("%v devices still connected in memory after the run", n)
	}
}

// TestInMemoryMetricsCountTheRun: with --http, a run on the in-memory
// transport counts, besides the rounds, a connection for each device that
// took part and bytes both ways, in the metrics and in each round of
// /status; its secure rounds' dropouts land on the SecAgg phases.
func TestInMemoryMetricsCountTheRun(t *testing.T) {
	data := smallData(t)
	cfg := smallConfig()
	cfg.ClientsPerRound, cfg.Dropout, cfg.Rounds, cfg.HTTP = 60, 0.3, 4, "127.0.0.1:0"
	cfg.QuantBits, cfg.SecAgg = 12, true
	var status coordinator.StatusReport
	_, rounds, open, closed := runMeteredFederation(t, data, cfg, &status)
	var up, down int64
	for _, r := range status.Recent {
		if r.BytesUp == nil || r.BytesDown == nil || *r.BytesUp == 0 || *r.BytesDown == 0 {
			t.Fatalf("round %d's bytes not counted: %v up, %v down", r.Round, r.BytesUp, r.BytesDown)
		}
		up, down = up+*r.BytesUp, down+*r.BytesDown
	}
	if p := status.Population; len(status.Recent) != cfg.Rounds || p.Connected == nil || float64(*p.Connected) != open["tacit_connected_devices{}"] ||
		!(up > 0 && float64(up) < open["tacit_received_bytes_total{}"]) || !(down > 0 && float64(down) < open["tacit_sent_bytes_total{}"]) {
		t.Fatalf("/status: %d rounds, connected %v, %d bytes up and %d down in its rounds, against the metrics' %v and %v",
			len(status.Recent), p.Connected, up, down, open["tacit_received_bytes_total{}"], open["tacit_sent_bytes_total{}"])
	}
	reports, dropouts := 0, 0.0
	for _, r := range rounds {
		reports += r.Reports
	}
	for _, stage := range []string{"advertise-keys", "share-keys", "masked-input", "unmask"} {
		dropouts += open[fmt.Sprintf("tacit_round_dropouts_total{stage=%q}", stage)]
	}
	switch {
	case open[`tacit_reports_total{result="accepted"}`] != float64(reports):
		t.Errorf("%v reports accepted, the rounds had %d", open[`tacit_reports_total{result="accepted"}`], reports)
	case open["tacit_rounds_committed_total{}"]+open["tacit_rounds_abandoned_total{}"] != float64(len(rounds)):
		t.Errorf("rounds counted %v + %v, run %d", open["tacit_rounds_committed_total{}"], open["tacit_rounds_abandoned_total{}"], len(rounds))
	case !(dropouts > 0) || open[`tacit_round_dropouts_total{stage="reported"}`] != 0:
		t.Errorf("secure rounds with dropouts: %v lost in SecAgg phases, %v at reported", dropouts, open[`tacit_round_dropouts_total{stage="reported"}`])
	case !(open["tacit_connected_devices{}"] >= 60) || closed["tacit_connected_devices{}"] != 0:
		t.Errorf("connected devices %v during the run, %v after", open["tacit_connected_devices{}"], closed["tacit_connected_devices{}"])
	case !(open["tacit_received_bytes_total{}"] > float64(reports)) || !(open["tacit_sent_bytes_total{}"] > 0):
		t.Errorf("bytes received %v, sent %v", open["tacit_received_bytes_total{}"], open["tacit_sent_bytes_total{}"])
	case open["tacit_enrolled_devices{}"] != 300:
		t.Errorf("enrolled devices %v, want 300", open["tacit_enrolled_devices{}"])
	}
}
