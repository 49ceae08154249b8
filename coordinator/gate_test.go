package coordinator

import (
	"context"
	"errors"
	"net"
	"testing"
	"testing/synctest"

	"github.com/quic-go/quic-go"
)

// TestGateCapsPendingConnectionsPerAddress: unauthenticated connections
// from one address are capped, others' are not, closing or authenticating
// one frees its place, and Retry is asked for while many are pending.
func TestGateCapsPendingConnectionsPerAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := &gate{perAddr: 2, validateAbove: 3, pending: map[string]int{}}
		from := func(ip string) *quic.ClientInfo {
			return &quic.ClientInfo{RemoteAddr: &net.UDPAddr{IP: net.ParseIP(ip), Port: 4000}}
		}
		var cancels []context.CancelFunc
		for range 2 {
			ctx, cancel := context.WithCancel(context.Background())
			if _, err := g.admit(ctx, from("10.0.0.1")); err != nil {
				t.Fatal(err)
			}
			cancels = append(cancels, cancel)
		}
		if _, err := g.admit(context.Background(), from("10.0.0.1")); !errors.Is(err, errBusy) {
			t.Fatalf("third pending connection from one address: %v, want errBusy", err)
		}
		if g.verify(nil) {
			t.Fatal("Retry asked for with 2 pending, threshold 3")
		}
		other, err := g.admit(context.Background(), from("10.0.0.2"))
		if err != nil {
			t.Fatal(err)
		}
		if !g.verify(nil) {
			t.Fatal("no Retry with 3 pending, threshold 3")
		}
		other.Value(settleKey{}).(func())() // authenticated
		other.Value(settleKey{}).(func())() // counted once only
		cancels[0]()                        // closed
		synctest.Wait()                     // context.AfterFunc settles in its own goroutine
		if g.total != 1 {
			t.Fatalf("%d pending after one closed and one authenticated of three, want 1", g.total)
		}
		if _, err := g.admit(context.Background(), from("10.0.0.1")); err != nil {
			t.Fatalf("a place freed by a closed connection: %v", err)
		}
	})
}
