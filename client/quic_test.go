package client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"math"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/internal/tlscert"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/proto"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

// mute is a coordinator that answers the Hello, then never answers again,
// as one that died with the connection open looks to a device.
func mute(t *testing.T) (addr string, pin *tls.Config) { return scripted(t, nil) }

// scripted is a coordinator that answers the Hello, then every request with
// answer; with a nil answer, it is mute.
func scripted(t *testing.T, answer *tacitpb.Response) (addr string, pin *tls.Config) {
	cert, err := tlscert.SelfSigned([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{proto.ALPN}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept(context.Background())
			if err != nil {
				return
			}
			str, err := conn.AcceptStream(context.Background())
			if err != nil {
				continue
			}
			var hello tacitpb.Request
			proto.ReadFrame(str, &hello, proto.MaxHelloFrame)
			proto.WriteFrame(str, &tacitpb.Response{Body: &tacitpb.Response_Hello{Hello: &tacitpb.HelloAck{}}}, proto.MaxHelloFrame)
			str.Close()
			for answer != nil {
				str, err := conn.AcceptStream(context.Background())
				if err != nil {
					break
				}
				var req tacitpb.Request
				proto.ReadFrame(str, &req, proto.DefaultMaxFrame)
				proto.WriteFrame(str, answer, proto.DefaultMaxFrame)
				str.Close()
			}
		}
	}()
	pin, err = tlscert.PinnedConfig(tlscert.Fingerprint(cert.Certificate[0]), proto.ALPN)
	if err != nil {
		t.Fatal(err)
	}
	return ln.Addr().String(), pin
}

// TestRequestEndsWithItsContext: a request to a coordinator that stopped
// answering ends as soon as its context does (the agent's SIGTERM), or at
// RequestTimeout, not at the connection's idle timeout. The bounds are
// generous (1 s) for a shared machine; the old behaviour took a minute.
func TestRequestEndsWithItsContext(t *testing.T) {
	addr, pin := mute(t)
	q := &client.QUIC{Addr: addr, TLS: pin, Token: "token"}
	defer q.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	if _, _, err := q.CheckIn(ctx, -1); err == nil {
		t.Fatal("a check-in nobody answered succeeded")
	}
	if took := time.Since(start) - 200*time.Millisecond; took > time.Second {
		t.Fatalf("the check-in ended %v after its context", took)
	}
	q.RequestTimeout = 200 * time.Millisecond
	start = time.Now()
	if _, _, err := q.CheckIn(context.Background(), -1); err == nil {
		t.Fatal("a check-in nobody answered succeeded")
	}
	if took := time.Since(start) - q.RequestTimeout; took > time.Second {
		t.Fatalf("the check-in ended %v after its timeout", took)
	}
}

// TestDialEndsWithItsContext: so does a dial to an address where nothing
// answers at all.
func TestDialEndsWithItsContext(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // swallows every packet
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	pin, _ := tlscert.PinnedConfig(strings.Repeat("0", 64), proto.ALPN)
	q := &client.QUIC{Addr: pc.LocalAddr().String(), TLS: pin, Token: "token"}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	if _, _, err := q.CheckIn(ctx, -1); err == nil {
		t.Fatal("a check-in nobody answered succeeded")
	}
	if took := time.Since(start) - 200*time.Millisecond; took > time.Second {
		t.Fatalf("the dial ended %v after its context", took)
	}
}

// serve runs a real coordinator on loopback QUIC, enrolling the device
// "token", whose model is version 7 of 30 items, and returns a device's
// transport to it.
func serve(t *testing.T) (*client.QUIC, *coordinator.Service, model.Config) {
	cfg := model.DefaultConfig()
	cfg.Factors = 4
	m, err := model.NewMF(30, cfg.Factors, 1)
	if err != nil {
		t.Fatal(err)
	}
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	machine, err := round.NewMachine(round.DefaultConfig(), round.Parts{Population: []string{"device"},
		Snapshot: round.Snapshot{Round: 7, Version: 7, Params: m.Params, SelectionKey: [32]byte{1}}, Optimizer: opt}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	svc := coordinator.NewService(machine, coordinator.ServiceOptions{})
	cert, err := tlscert.SelfSigned([]string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := coordinator.NewServer(svc, coordinator.ServerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{cert}},
		Tokens: coordinator.HashTokens(map[string]string{"token": "device"}), Items: 30, Model: cfg, Local: model.LocalConfig{Epochs: 1, LR: 0.1}})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, pc) }()
	addr := (<-srv.Ready()).String()
	pin, err := tlscert.PinnedConfig(tlscert.Fingerprint(cert.Certificate[0]), proto.ALPN)
	if err != nil {
		t.Fatal(err)
	}
	q := &client.QUIC{Addr: addr, TLS: pin, Token: "token"}
	t.Cleanup(func() {
		q.Close()
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		pc.Close()
	})
	return q, svc, cfg
}

// TestLatestModel: a device outside any round gets the coordinator's
// current version, its config and exactly its parameters; twice, the
// second from the coordinator's cached frame.
func TestLatestModel(t *testing.T) {
	q, svc, cfg := serve(t)
	var want []float32
	svc.Model(func(_ int64, p []float32) { want = slices.Clone(p) })
	for range 2 {
		v, m, got, err := q.LatestModel(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if v != 7 || got != cfg || m.Items != 30 || m.Factors != cfg.Factors || !slices.Equal(m.Params, want) {
			t.Fatalf("version %d, config %+v, %d×%d model, want version 7, config %+v, 30×%d", v, got, m.Items, m.Factors, cfg, cfg.Factors)
		}
	}
}

// TestLatestModelRefusesHostileAnswers: a coordinator's answer whose config
// is invalid or out of bounds is refused before its params are decoded, and
// params that disagree with a valid config are refused by the decoder:
// ErrBadModel, never a panic or a model of another shape.
func TestLatestModelRefusesHostileAnswers(t *testing.T) {
	c, err := proto.NewCodec()
	if err != nil {
		t.Fatal(err)
	}
	cfg := model.DefaultConfig()
	cfg.Factors = 4
	// params claims the length the config implies, so only the config's
	// checks stand between it and the decoder.
	answer := func(items int32, c model.Config, params *tacitpb.Tensor) *tacitpb.Response {
		pb := proto.ModelConfig(int(items), c)
		if params == nil {
			params = &tacitpb.Tensor{Dtype: tacitpb.DType_DTYPE_FLOAT32, Length: uint64(model.ParamCount(int(items), c.Factors))}
		}
		return &tacitpb.Response{Body: &tacitpb.Response_Model{Model: &tacitpb.Model{Version: 3, Params: params, Config: pb}}}
	}
	with := func(edit func(*model.Config)) model.Config {
		c := cfg
		edit(&c)
		return c
	}
	huge := answer(1<<30, cfg, nil)
	noConfig := answer(30, cfg, nil)
	noConfig.GetModel().Config = nil
	cases := []struct {
		name   string
		answer *tacitpb.Response
		config bool // refused for its config, before the decoder
	}{
		{"items above the bound", huge, true},
		{"no items", answer(0, cfg, nil), true},
		{"negative items", answer(-30, cfg, nil), true},
		{"no factors", answer(30, with(func(c *model.Config) { c.Factors = 0 }), nil), true},
		{"too many factors", answer(30, with(func(c *model.Config) { c.Factors = 1 << 20 }), nil), true},
		{"NaN alpha", answer(30, with(func(c *model.Config) { c.Alpha = math.NaN() }), nil), true},
		{"no config", noConfig, true},
		{"no params", &tacitpb.Response{Body: &tacitpb.Response_Model{Model: &tacitpb.Model{Config: proto.ModelConfig(30, cfg)}}}, false},
		{"params for 29 items", answer(30, cfg, c.Encode(make([]float32, model.ParamCount(29, 4)), tacitpb.Compression_COMPRESSION_ZSTD)), false},
		{"params beyond float32", answer(30, cfg, &tacitpb.Tensor{Dtype: tacitpb.DType_DTYPE_UINT, Bits: 8, Range: math.MaxFloat64,
			Length: uint64(model.ParamCount(30, 4)), Data: bytes.Repeat([]byte{127}, model.ParamCount(30, 4))}), false},
		{"a plan instead", &tacitpb.Response{Body: &tacitpb.Response_CheckIn{CheckIn: &tacitpb.CheckInResult{}}}, true},
	}
	for _, tc := range cases {
		addr, pin := scripted(t, tc.answer)
		q := &client.QUIC{Addr: addr, TLS: pin, Token: "token", RequestTimeout: 5 * time.Second}
		_, m, _, err := q.LatestModel(context.Background())
		q.Close()
		if !errors.Is(err, client.ErrBadModel) || m != nil {
			t.Errorf("%s: %v, model %v", tc.name, err, m)
		} else if tc.config == errors.Is(err, proto.ErrBadTensor) {
			t.Errorf("%s: refused by the wrong check: %v", tc.name, err)
		}
	}
}
