package simulate

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/internal/tlscert"
	"github.com/tacitfl/tacit/proto"
)

// quicNet is a real coordinator server on loopback QUIC and one client
// connection per virtual device, made on first use and kept.
type quicNet struct {
	addr  string
	tls   *tls.Config
	mu    sync.Mutex
	conns map[string]*client.QUIC
	stop  func() error
}

// startQUIC serves svc on a loopback UDP port.
func startQUIC(svc *coordinator.Service, metrics *coordinator.Metrics, ids []string, template client.Plan, downBits int) (*quicNet, error) {
	cert, err := tlscert.SelfSigned([]string{"127.0.0.1"})
	if err != nil {
		return nil, err
	}
	tokens := make(map[string]string, len(ids))
	for _, id := range ids {
		tokens[tokenOf(id)] = id
	}
	srv, err := coordinator.NewServer(svc, coordinator.ServerConfig{DownBits: downBits,
		TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, Tokens: coordinator.HashTokens(tokens), Metrics: metrics,
		Items: template.Items, Model: template.Model, Local: template.Local,
	})
	if err != nil {
		return nil, err
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, pc) }()
	addr := (<-srv.Ready()).String()
	pinned, err := tlscert.PinnedConfig(tlscert.Fingerprint(cert.Certificate[0]), proto.ALPN)
	if err != nil {
		cancel()
		return nil, err
	}
	q := &quicNet{addr: addr, tls: pinned, conns: make(map[string]*client.QUIC)}
	q.stop = func() error {
		q.mu.Lock()
		for _, c := range q.conns {
			c.Close()
		}
		q.mu.Unlock()
		cancel()
		err := <-done
		return errors.Join(err, pc.Close())
	}
	return q, nil
}

// tokenOf is a virtual device's enrolment token.
func tokenOf(id string) string { return "token-" + id }

func (q *quicNet) connect(id string) client.Coordinator {
	q.mu.Lock()
	defer q.mu.Unlock()
	c, ok := q.conns[id]
	if !ok {
		c = &client.QUIC{Addr: q.addr, TLS: q.tls, Token: tokenOf(id)}
		q.conns[id] = c
	}
	return c
}

// serveHTTP serves the coordinator's operator endpoints on addr until stop.
func serveHTTP(addr string, svc *coordinator.Service, reg *prometheus.Registry) (stop func() error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("http: %w", err)
	}
	srv := &http.Server{Handler: coordinator.HTTPHandler(svc, reg), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	}, nil
}
