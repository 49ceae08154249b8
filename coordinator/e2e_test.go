package coordinator_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quic-go/quic-go"
	gproto "google.golang.org/protobuf/proto"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/internal/tlscert"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/proto"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

// cluster is a coordinator on loopback QUIC and the data of its devices.
type cluster struct {
	addr     string
	pin      string
	split    *dataset.Split
	tokens   []string
	outcomes chan round.Outcome
	svc      *coordinator.Service
	srv      *coordinator.Server
	cfg      model.Config
	reg      *prometheus.Registry // the Service's and the Server's metrics
}

func startCluster(t *testing.T, devices int) *cluster {
	t.Helper()
	log, err := dataset.Synthetic(dataset.SyntheticConfig{Users: devices, Items: 30, Events: 6, Factors: 3, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{split: dataset.LeaveLastOut(log), outcomes: make(chan round.Outcome, 100)}
	c.cfg = model.DefaultConfig()
	c.cfg.Factors = 4
	m, _ := model.NewMF(30, 4, 1)
	tokens := map[string]string{}
	var ids []string
	for i := range devices {
		tok, id := fmt.Sprintf("token-%d", i), fmt.Sprintf("device-%d", i)
		tokens[tok] = id
		ids = append(ids, id)
		c.tokens = append(c.tokens, tok)
	}
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedadam"})
	rc := round.Config{OverSelection: 1, MinFraction: 0.5, SelectionTimeout: 2500 * time.Millisecond,
		ReportWindow: 2500 * time.Millisecond, RetryMin: 50 * time.Millisecond, Seed: 1}
	machine, err := round.NewMachine(rc, round.Parts{Population: ids, Snapshot: round.Snapshot{Params: m.Params, SelectionKey: [32]byte{1}}, Optimizer: opt}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c.reg = prometheus.NewRegistry()
	metrics := coordinator.NewMetrics(c.reg)
	c.svc = coordinator.NewService(machine, coordinator.ServiceOptions{
		Metrics: metrics,
		Watch:   func(o round.Outcome) { c.outcomes <- o },
	})
	cert, err := tlscert.SelfSigned([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	c.pin = tlscert.Fingerprint(cert.Certificate[0])
	srv, err := coordinator.NewServer(c.svc, coordinator.ServerConfig{
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Tokens: coordinator.HashTokens(tokens), TickEvery: 20 * time.Millisecond,
		Metrics: metrics, Items: 30, Model: c.cfg, Local: model.LocalConfig{Epochs: 1, LR: 0.1, ItemRegShare: 0.01},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.srv = srv
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, pc) }()
	c.addr = (<-srv.Ready()).String()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		pc.Close()
	})
	return c
}

func (c *cluster) transport(t *testing.T, i int) *client.QUIC {
	tlsConf, err := tlscert.PinnedConfig(c.pin, proto.ALPN)
	if err != nil {
		t.Fatal(err)
	}
	return &client.QUIC{Addr: c.addr, TLS: tlsConf, Token: c.tokens[i]}
}

func (c *cluster) data(i int) client.Data {
	return client.Data{Train: model.Positives{Items: c.split.Train(i), Ages: c.split.Ages(i)}, Test: c.split.Test[i]}
}

// waitRound returns the next finished round, failing after a generous
// timeout (the rounds run on real time here).
// runAgents runs an agent on each of the first n devices, of which the
// first dead die in round 2 (dying); the function it returns stops them
// all and waits for them.
func (c *cluster) runAgents(t *testing.T, n, dead int) (stop func()) {
	var wg sync.WaitGroup
	ctx, stopAll := context.WithCancel(context.Background())
	for i := range n {
		actx, cancel := context.WithCancel(ctx)
		q := c.transport(t, i)
		var coord client.Coordinator = q
		if i < dead {
			coord = &dying{Coordinator: q, at: 2, cancel: cancel}
		}
		agent := client.NewAgent(c.data(i), coord, client.NewWorkspace(), nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer cancel()
			defer q.Close()
			agent.Run(actx)
		}()
	}
	return func() { stopAll(); wg.Wait() }
}

func (c *cluster) waitRound(t *testing.T) round.Outcome {
	t.Helper()
	select {
	case o := <-c.outcomes:
		return o
	case <-time.After(20 * time.Second):
		t.Fatal("no round finished in 20 s")
		return round.Outcome{}
	}
}

// dying wraps a device's transport: from round `at` on, the device dies
// after training, before its report leaves.
type dying struct {
	client.Coordinator
	at     int64
	cancel context.CancelFunc
}

func (d *dying) Report(ctx context.Context, u client.Upload) error {
	if u.Round >= d.at {
		d.cancel()
		return context.Canceled
	}
	return d.Coordinator.Report(ctx, u)
}

// TestRoundsOverQUICSurviveDevicesDying runs 20 agents over loopback QUIC;
// from round 2, 6 of them (30%) die mid-round, and the rounds still commit
// with the other 14.
func TestRoundsOverQUICSurviveDevicesDying(t *testing.T) {
	const n, dead = 20, 6
	c := startCluster(t, n)
	defer c.runAgents(t, n, dead)()
	first := c.waitRound(t)
	if !first.Committed || first.Reports != n || first.Evaluated != n {
		t.Fatalf("round 1: %+v, want all %d reports and evaluations", first, n)
	}
	second := c.waitRound(t)
	if !second.Committed || second.Reports != n-dead || second.Round != 2 {
		t.Fatalf("round 2: %+v, want a commit with %d reports", second, n-dead)
	}
	third := c.waitRound(t)
	if !third.Committed || third.Reports != n-dead {
		t.Fatalf("round 3: %+v", third)
	}
	st := c.svc.Status()
	if st.ModelVersion < 3 {
		t.Fatalf("model version %d after three commits", st.ModelVersion)
	}
	// The server told the Service each round's bytes and each device's
	// requests, and counts the connections it holds.
	for _, r := range st.Recent {
		if r.BytesUp == nil || r.BytesDown == nil || *r.BytesUp < int64(r.Reports) || *r.BytesDown == 0 {
			t.Errorf("round %d: %d reports, bytes up %v, down %v", r.Round, r.Reports, r.BytesUp, r.BytesDown)
		}
	}
	if p := st.Population; p.Connected == nil || *p.Connected < 1 || *p.Connected > n || p.SeenLastHour == nil || *p.SeenLastHour != n {
		t.Errorf("population %+v", p)
	}
}

// rawConn is a hand-driven QUIC connection for sending what no agent would.
func rawConn(t *testing.T, c *cluster) *quic.Conn {
	tlsConf, _ := tlscert.PinnedConfig(c.pin, proto.ALPN)
	conn, err := quic.DialAddr(context.Background(), c.addr, tlsConf, nil)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// exchange writes raw bytes on a new stream and reads the response.
func exchange(t *testing.T, conn *quic.Conn, raw []byte, halfWay bool) (*tacitpb.Response, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	str, err := conn.OpenStreamSync(ctx)
	if err != nil {
		return nil, err
	}
	str.SetDeadline(time.Now().Add(5 * time.Second))
	str.Write(raw)
	str.Close()
	var resp tacitpb.Response
	err = proto.ReadFrame(str, &resp, proto.DefaultMaxFrame)
	return &resp, err
}

func frame(t *testing.T, req *tacitpb.Request) []byte {
	b, err := proto.AppendFrame(nil, req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestHostileInputClosesOnlyThatConnection sends, each on its own
// connection, what a broken or malicious device might; each gets a typed
// error and loses its connection, while an honest agent's rounds go on.
func TestHostileInputClosesOnlyThatConnection(t *testing.T) {
	c := startCluster(t, 3)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { stop(); wg.Wait() }()
	for i := 1; i < 3; i++ {
		q := c.transport(t, i)
		agent := client.NewAgent(c.data(i), q, client.NewWorkspace(), nil)
		wg.Add(1)
		go func() { defer wg.Done(); defer q.Close(); agent.Run(ctx) }()
	}
	checkIn := &tacitpb.Request{ProtocolVersion: proto.ProtocolVersion, Body: &tacitpb.Request_CheckIn{CheckIn: &tacitpb.CheckIn{CachedModelVersion: -1}}}
	hello := func(version uint32, token string) []byte {
		return frame(t, &tacitpb.Request{ProtocolVersion: version, Token: token, Body: &tacitpb.Request_Hello{Hello: &tacitpb.Hello{}}})
	}
	good := frame(t, checkIn)
	badDim := frame(t, &tacitpb.Request{ProtocolVersion: proto.ProtocolVersion, Token: c.tokens[0], Body: &tacitpb.Request_Report{Report: &tacitpb.Report{Round: 1, Weight: 1,
		Update: &tacitpb.Tensor{Dtype: tacitpb.DType_DTYPE_FLOAT32, Length: 3, Data: make([]byte, 12)}}}})
	// Cases with first set open the connection themselves; the others
	// follow a valid Hello.
	cases := []struct {
		name  string
		raw   []byte
		code  tacitpb.ErrorCode
		close bool
		first bool
	}{
		{"oversized Hello", binary.BigEndian.AppendUint32(nil, proto.MaxHelloFrame+1), tacitpb.ErrorCode_ERROR_CODE_TOO_LARGE, true, true},
		{"no Hello", frame(t, &tacitpb.Request{ProtocolVersion: proto.ProtocolVersion, Token: c.tokens[0], Body: checkIn.Body}), tacitpb.ErrorCode_ERROR_CODE_UNAUTHENTICATED, true, true},
		{"unknown version", hello(9, c.tokens[0]), tacitpb.ErrorCode_ERROR_CODE_UNSUPPORTED_VERSION, true, true},
		{"version 1", hello(1, c.tokens[0]), tacitpb.ErrorCode_ERROR_CODE_UNSUPPORTED_VERSION, true, true},
		{"bad token", hello(proto.ProtocolVersion, "stolen?"), tacitpb.ErrorCode_ERROR_CODE_UNAUTHENTICATED, true, true},
		{"second Hello", hello(proto.ProtocolVersion, c.tokens[0]), tacitpb.ErrorCode_ERROR_CODE_MALFORMED, true, false},
		{"oversized frame", binary.BigEndian.AppendUint32(nil, 1<<30), tacitpb.ErrorCode_ERROR_CODE_TOO_LARGE, true, false},
		{"truncated frame", good[:len(good)-3], tacitpb.ErrorCode_ERROR_CODE_MALFORMED, true, false},
		{"garbage", append(binary.BigEndian.AppendUint32(nil, 4), 0xff, 0xff, 0xff, 0xff), tacitpb.ErrorCode_ERROR_CODE_MALFORMED, true, false},
		{"wrong dimensions", badDim, tacitpb.ErrorCode_ERROR_CODE_BAD_UPDATE, true, false},
		{"another round", frame(t, &tacitpb.Request{ProtocolVersion: proto.ProtocolVersion, Token: c.tokens[0], Body: &tacitpb.Request_Report{Report: &tacitpb.Report{Round: 99, Weight: 1,
			Update: mustCodec(t).Encode(make([]float32, 30*5), tacitpb.Compression_COMPRESSION_NONE)}}}), tacitpb.ErrorCode_ERROR_CODE_WRONG_ROUND, false, false},
	}
	for _, tc := range cases {
		conn := rawConn(t, c)
		if !tc.first {
			if resp, err := exchange(t, conn, hello(proto.ProtocolVersion, c.tokens[0]), false); err != nil || resp.GetHello() == nil {
				t.Fatalf("%s: Hello answered %v, %v", tc.name, resp, err)
			}
		}
		resp, err := exchange(t, conn, tc.raw, false)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := resp.GetError().GetCode(); got != tc.code {
			t.Errorf("%s: error code %v (%q), want %v", tc.name, got, resp.GetError().GetMessage(), tc.code)
		}
		select {
		case <-conn.Context().Done():
			if !tc.close {
				t.Errorf("%s: connection closed, want it kept", tc.name)
			}
		case <-time.After(2 * time.Second):
			if tc.close {
				t.Errorf("%s: connection still open", tc.name)
			}
		}
		conn.CloseWithError(0, "")
	}
	// The honest agents (devices 1 and 2) kept taking part: rounds commit.
	for {
		o := c.waitRound(t)
		if o.Committed && o.Reports == 2 {
			break
		}
	}
}

// TestLatestModelOverTheWire: a request with latest, whatever version it
// names, is answered with the current version, its config and its params,
// and after a commit with the new version. Without latest, a version that
// is not current is still refused as stale: so a coordinator too old to
// know latest refuses the -1 that client.QUIC.LatestModel names.
func TestLatestModelOverTheWire(t *testing.T) {
	c := startCluster(t, 1)
	// Each request on a connection of its own: the agent below takes the
	// device's connection over.
	request := func(version int64, latest bool) *tacitpb.Response {
		t.Helper()
		conn := rawConn(t, c)
		defer conn.CloseWithError(0, "")
		hello := frame(t, &tacitpb.Request{ProtocolVersion: proto.ProtocolVersion, Token: c.tokens[0], Body: &tacitpb.Request_Hello{Hello: &tacitpb.Hello{}}})
		if resp, err := exchange(t, conn, hello, false); err != nil || resp.GetHello() == nil {
			t.Fatalf("Hello answered %v, %v", resp, err)
		}
		resp, err := exchange(t, conn, frame(t, &tacitpb.Request{ProtocolVersion: proto.ProtocolVersion,
			Body: &tacitpb.Request_Model{Model: &tacitpb.ModelRequest{Version: version, Latest: latest}}}), false)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	wantConfig := proto.ModelConfig(30, c.cfg)
	latest := func() int64 {
		t.Helper()
		var version int64
		var params []float32
		c.svc.Model(func(v int64, p []float32) { version, params = v, slices.Clone(p) })
		for _, asked := range []int64{-1, version + 5} {
			m := request(asked, true).GetModel()
			if m == nil || m.Version != version || !gproto.Equal(m.Config, wantConfig) {
				t.Fatalf("latest, naming version %d: version %d, config %v, want version %d, config %v", asked, m.GetVersion(), m.GetConfig(), version, wantConfig)
			}
			if got, err := mustCodec(t).Decode(m.Params, len(params), nil); err != nil || !slices.Equal(got, params) {
				t.Fatalf("latest, naming version %d: the params differ from the model's (%v)", asked, err)
			}
		}
		return version
	}
	first := latest()
	if code := request(-1, false).GetError().GetCode(); code != tacitpb.ErrorCode_ERROR_CODE_STALE_MODEL {
		t.Fatalf("version -1 without latest: %v, want ERROR_CODE_STALE_MODEL", code)
	}
	// The one device takes part until a round commits; then nothing moves.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	q := c.transport(t, 0)
	defer q.Close()
	agent := client.NewAgent(c.data(0), q, client.NewWorkspace(), nil)
	for committed := false; !committed; {
		wait, err := agent.Step(ctx)
		if err != nil {
			t.Fatal(err)
		}
		select {
		case o := <-c.outcomes:
			committed = o.Committed
		case <-time.After(wait):
		}
	}
	if second := latest(); second <= first {
		t.Fatalf("version %d after a commit, %d before", second, first)
	}
}

func mustCodec(t *testing.T) *proto.Codec {
	c, err := proto.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAgentsReachARestartedCoordinator: a coordinator killed outright (its
// socket gone, no goodbye to anyone) and started again on the same address,
// with the certificate and stateless-reset key it keeps beside its state,
// is reached by a device's very next request: the new process resets the
// old connection at once and the device dials again. Without the reset
// key the request would wait on the dead connection for its idle timeout.
func TestAgentsReachARestartedCoordinator(t *testing.T) {
	c := startCluster(t, 2)
	cert, err := tlscert.SelfSigned([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	var resetKey quic.StatelessResetKey
	copy(resetKey[:], "kept beside the coordinator's state")
	serve := func(addr string) (net.PacketConn, string) {
		srv, err := coordinator.NewServer(c.svc, coordinator.ServerConfig{
			TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Tokens: coordinator.HashTokens(map[string]string{c.tokens[0]: "device-0"}),
			StatelessResetKey: &resetKey, Items: 30, Model: c.cfg, Local: model.LocalConfig{Epochs: 1, LR: 0.1},
		})
		if err != nil {
			t.Fatal(err)
		}
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(context.Background(), pc) // ends when pc is closed
		return pc, (<-srv.Ready()).String()
	}
	first, addr := serve("127.0.0.1:0")
	tlsConf, err := tlscert.PinnedConfig(tlscert.Fingerprint(cert.Certificate[0]), proto.ALPN)
	if err != nil {
		t.Fatal(err)
	}
	q := &client.QUIC{Addr: addr, TLS: tlsConf, Token: c.tokens[0]}
	defer q.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, _, err := q.CheckIn(ctx, -1); err != nil {
		t.Fatal(err)
	}
	first.Close() // kill -9: the socket is gone, nobody is told
	second, _ := serve(addr)
	defer second.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if _, _, err := q.CheckIn(ctx2, -1); err != nil {
		t.Fatalf("the device's first request to the restarted coordinator: %v", err)
	}
}
