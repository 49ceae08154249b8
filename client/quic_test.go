package client_test

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/internal/tlscert"
	"github.com/tacitfl/tacit/proto"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

// mute is a coordinator that answers the Hello, then never answers again,
// as one that died with the connection open looks to a device.
func mute(t *testing.T) (addr string, pin *tls.Config) {
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
