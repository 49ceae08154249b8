package coordinator

import (
	"errors"
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tacitfl/tacit/coordinator/round"
)

// TestReportsAreCountedByTheirResult: every rejection code has a label of
// its own (a SecAgg refusal once exported result=""), a rejection wrapped
// by a driver still counts as that rejection, and a failure that is no
// rejection is an error, never an acceptance.
func TestReportsAreCountedByTheirResult(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	m.report(nil)
	for _, c := range round.RejectCodes() {
		m.report(&round.Rejection{Code: c, Reason: "test"})
	}
	m.report(fmt.Errorf("sending: %w", &round.Rejection{Code: round.SecAggRefused}))
	m.report(errors.New("disk on fire"))
	if n := testutil.ToFloat64(m.reports.WithLabelValues("")); n != 0 {
		t.Errorf("%v reports with an empty result", n)
	}
	want := map[string]float64{"accepted": 1, "error": 1, "secagg_refused": 2, "late": 1, "not_enrolled": 1}
	for label, n := range want {
		if got := testutil.ToFloat64(m.reports.WithLabelValues(label)); got != n {
			t.Errorf("result %q: %v reports, want %v", label, got, n)
		}
	}
}
