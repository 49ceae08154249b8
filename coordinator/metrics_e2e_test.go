package coordinator_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	gproto "google.golang.org/protobuf/proto"

	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/proto"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

// metric is the value of the counter or gauge name with labels (name,
// value pairs) gathered from reg; -1 if there is no such series.
func metric(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if got[labels[i]] != labels[i+1] {
					continue series
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return -1
}

// eventually waits, up to 5 s, for name{labels} to reach value: the server
// counts a response's bytes once written, which may be after the device
// has read it, and a connection's end after the device closed it.
func eventually(t *testing.T, reg prometheus.Gatherer, value float64, name string, labels ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := metric(t, reg, name, labels...)
		if got == value {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want %v", name, labels, got, value)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func frameLen(m gproto.Message) float64 { return float64(4 + gproto.Size(m)) }

// TestMetricsOverQUIC: over a real connection, the server counts the
// connection while it is open, every byte of each request frame (the Hello
// too) and of each response frame, a check-in, and a report it refuses
// before the Service sees it (wrong dimensions); a reload sets the
// enrolment.
func TestMetricsOverQUIC(t *testing.T) {
	c := startCluster(t, 2)
	if got := metric(t, c.reg, "tacit_enrolled_devices"); got != 2 {
		t.Fatalf("tacit_enrolled_devices %v, want 2", got)
	}
	conn := rawConn(t, c)
	var in, out float64
	send := func(raw []byte) *tacitpb.Response {
		t.Helper()
		resp, err := exchange(t, conn, raw, false)
		if err != nil {
			t.Fatal(err)
		}
		in, out = in+float64(len(raw)), out+frameLen(resp)
		eventually(t, c.reg, in, "tacit_received_bytes_total")
		eventually(t, c.reg, out, "tacit_sent_bytes_total")
		return resp
	}
	if resp := send(frame(t, &tacitpb.Request{ProtocolVersion: proto.ProtocolVersion, Token: c.tokens[0], Body: &tacitpb.Request_Hello{Hello: &tacitpb.Hello{}}})); resp.GetHello() == nil {
		t.Fatalf("Hello answered %v", resp)
	}
	eventually(t, c.reg, 1, "tacit_connected_devices")
	if resp := send(frame(t, &tacitpb.Request{ProtocolVersion: proto.ProtocolVersion, Body: &tacitpb.Request_CheckIn{CheckIn: &tacitpb.CheckIn{CachedModelVersion: -1}}})); resp.GetCheckIn() == nil {
		t.Fatalf("check-in answered %v", resp)
	}
	checkIns := 0.0
	for _, r := range []string{"accepted", "retry", "rejected"} {
		checkIns += metric(t, c.reg, "tacit_check_ins_total", "result", r)
	}
	if checkIns != 1 {
		t.Errorf("%v check-ins counted, want 1", checkIns)
	}
	badDim := frame(t, &tacitpb.Request{ProtocolVersion: proto.ProtocolVersion, Body: &tacitpb.Request_Report{Report: &tacitpb.Report{Round: 1, Weight: 1,
		Update: &tacitpb.Tensor{Dtype: tacitpb.DType_DTYPE_FLOAT32, Length: 3, Data: make([]byte, 12)}}}})
	if code := send(badDim).GetError().GetCode(); code != tacitpb.ErrorCode_ERROR_CODE_BAD_UPDATE {
		t.Fatalf("a report of the wrong dimensions: %v", code)
	}
	if got := metric(t, c.reg, "tacit_reports_total", "result", "bad_update"); got != 1 {
		t.Errorf(`tacit_reports_total{result="bad_update"} %v, want 1`, got)
	}
	eventually(t, c.reg, 0, "tacit_connected_devices") // the server closed the connection
	c.srv.SetTokens(coordinator.HashTokens(map[string]string{c.tokens[1]: "device-1"}))
	if got := metric(t, c.reg, "tacit_enrolled_devices"); got != 1 {
		t.Errorf("tacit_enrolled_devices %v after a reload of one device, want 1", got)
	}
}

// TestRoundMetricsOverQUIC: 10 agents over QUIC, 3 of which die before
// reporting from round 2 on: the dropouts at "reported", the devices per
// stage and the connections say so.
func TestRoundMetricsOverQUIC(t *testing.T) {
	const n, dead = 10, 3
	c := startCluster(t, n)
	defer c.runAgents(t, n, dead)()
	for r := 1; r <= 2; r++ {
		if o := c.waitRound(t); !o.Committed {
			t.Fatalf("round %d: %+v", r, o)
		}
	}
	// Round 2's outcome is counted before it is handed to Watch; a later
	// round may be counted by now too, with the same dropouts.
	if got := metric(t, c.reg, "tacit_round_dropouts_total", "stage", "reported"); got < dead || int(got)%dead != 0 {
		t.Errorf(`tacit_round_dropouts_total{stage="reported"} %v, want a multiple of %d from round 2 on`, got, dead)
	}
	for stage, want := range map[string]float64{"selected": n, "checked-in": n, "reported": n - dead, "unmask": 0} {
		if got := metric(t, c.reg, "tacit_round_stage_devices", "stage", stage); got != want {
			t.Errorf("tacit_round_stage_devices{stage=%q} %v, want %v", stage, got, want)
		}
	}
	if got := metric(t, c.reg, "tacit_rounds_committed_total"); got < 2 {
		t.Errorf("tacit_rounds_committed_total %v after two commits", got)
	}
	if got := metric(t, c.reg, "tacit_reports_total", "result", "accepted"); got < n+n-dead {
		t.Errorf(`tacit_reports_total{result="accepted"} %v, want at least %d`, got, n+n-dead)
	}
	eventually(t, c.reg, n-dead, "tacit_connected_devices") // the dead closed theirs
	if got := metric(t, c.reg, "tacit_received_bytes_total"); !(got > float64(n*4*30*5)) {
		t.Errorf("tacit_received_bytes_total %v: less than the %d float32 updates of round 1", got, n)
	}
}
