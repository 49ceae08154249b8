package tlscert

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestPinnedConfigAcceptsOnlyThePinnedCertificate(t *testing.T) {
	good, err := SelfSigned([]string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	other, _ := SelfSigned([]string{"127.0.0.1"})
	for _, c := range []struct {
		name    string
		cert    tls.Certificate
		wantErr bool
	}{{"pinned", good, false}, {"another", other, true}} {
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{c.cert}, NextProtos: []string{"x"}})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			conn, err := ln.Accept()
			if err == nil {
				conn.(*tls.Conn).Handshake()
				conn.Close()
			}
		}()
		cfg, err := PinnedConfig(Fingerprint(good.Certificate[0]), "x")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := tls.Dial("tcp", ln.Addr().String(), cfg)
		if err == nil {
			conn.Close()
		}
		if c.wantErr != (err != nil) || (err != nil && !errors.Is(err, ErrPinMismatch)) {
			t.Errorf("%s: dial error %v", c.name, err)
		}
		ln.Close()
	}
	if _, err := PinnedConfig("zz", "x"); err == nil {
		t.Fatal("a malformed pin was accepted")
	}
	if ip := good.Leaf.IPAddresses; len(ip) != 1 || !ip[0].Equal(net.ParseIP("127.0.0.1")) {
		t.Fatalf("IP SANs %v", ip)
	}
}

func TestLoadOrCreateKeepsTheCertificate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "coordinator.ckpt.tls")
	first, err := LoadOrCreate(path, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("stat: %v, %v", fi.Mode(), err)
	}
	again, err := LoadOrCreate(path, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if Fingerprint(first.Certificate[0]) != Fingerprint(again.Certificate[0]) {
		t.Fatal("a second start made another certificate")
	}
	if err := os.WriteFile(path, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(path, nil); err == nil {
		t.Fatal("a damaged file was accepted")
	}
}
