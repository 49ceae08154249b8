package coordinator

import (
	"context"
	"errors"
	"net"
	"sync"

	"github.com/quic-go/quic-go"
)

// gate admits QUIC connections before any of their bytes are read: it caps
// the connections from one address that have not yet said a valid Hello,
// and asks QUIC to validate source addresses (Retry) while many are
// pending. Until a Hello, a connection has cost the server only its
// handshake; the cap keeps one host from holding many, and the Retry
// keeps spoofed addresses from costing even that under a flood (and from
// filling another address's cap).
type gate struct {
	perAddr       int // pending connections allowed from one IP address
	validateAbove int // pending connections in all that turn on Retry

	mu      sync.Mutex
	pending map[string]int // by IP address
	total   int
}

// errBusy refuses a connection over the cap (QUIC CONNECTION_REFUSED).
var errBusy = errors.New("too many unauthenticated connections from this address")

// settleKey holds, in a connection's context, the func that stops counting
// it as pending.
type settleKey struct{}

// admit is the quic.Transport's ConnContext: it counts the new connection
// as pending until authenticated or closed, or refuses it.
func (g *gate) admit(ctx context.Context, info *quic.ClientInfo) (context.Context, error) {
	ip := hostOf(info.RemoteAddr)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending[ip] >= g.perAddr {
		return nil, errBusy
	}
	g.pending[ip]++
	g.total++
	settle := sync.OnceFunc(func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.pending[ip]--; g.pending[ip] == 0 {
			delete(g.pending, ip)
		}
		g.total--
	})
	context.AfterFunc(ctx, settle)
	return context.WithValue(ctx, settleKey{}, settle), nil
}

// authenticated stops counting conn as pending.
func (g *gate) authenticated(conn *quic.Conn) {
	if settle, ok := conn.Context().Value(settleKey{}).(func()); ok {
		settle()
	}
}

// verify is the quic.Transport's VerifySourceAddress: a Retry for every
// new client while many connections are pending.
func (g *gate) verify(net.Addr) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total >= g.validateAbove
}

// hostOf is an address's IP, or the whole address if it has none.
func hostOf(a net.Addr) string {
	if u, ok := a.(*net.UDPAddr); ok {
		return u.IP.String()
	}
	return a.String()
}
