package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"strings"
	"time"

	"github.com/tacitfl/tacit/internal/atomicfile"
)

// LoadOrCreate returns the certificate and key kept in the PEM file at
// path, or makes a self-signed one for hosts and keeps it there (mode 0600,
// written to a temporary file and renamed into place), so a restarted
// server shows the same certificate and pinned clients still accept it.
func LoadOrCreate(path string, hosts []string) (tls.Certificate, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		cert, err := tls.X509KeyPair(b, b)
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("tlscert: %s: %w", path, err)
		}
		return cert, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return tls.Certificate{}, err
	}
	cert, err := SelfSigned(hosts)
	if err != nil {
		return tls.Certificate{}, err
	}
	key, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	b = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	b = append(b, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key})...)
	if err := WriteSecret(path, b); err != nil {
		return tls.Certificate{}, err
	}
	return cert, nil
}

// WriteSecret writes b to path, readable by its owner only, replacing it
// atomically (internal/atomicfile).
func WriteSecret(path string, b []byte) error {
	return atomicfile.WriteSecret(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// SelfSigned returns a new ECDSA P-256 certificate for hosts (names or IP
// addresses), valid for a year.
func SelfSigned(hosts []string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "tacit coordinator"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// Fingerprint is the SHA-256 of a certificate's DER bytes, in hex.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// ErrPinMismatch is returned when the server's certificate is not the
// pinned one.
var ErrPinMismatch = errors.New("tlscert: the server's certificate does not match the pinned fingerprint")

// PinnedConfig returns a client TLS 1.3 configuration that accepts exactly
// the certificate with the given fingerprint (hex SHA-256, colons allowed),
// and speaks alpn.
func PinnedConfig(fingerprint, alpn string) (*tls.Config, error) {
	want := strings.ToLower(strings.ReplaceAll(fingerprint, ":", ""))
	if b, err := hex.DecodeString(want); err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("tlscert: pin %q is not a hex SHA-256 fingerprint", fingerprint)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		NextProtos: []string{alpn},
		// The chain is not checked against a CA; the pin below checks the
		// leaf itself, which is stronger for a self-signed deployment.
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || Fingerprint(raw[0]) != want {
				return ErrPinMismatch
			}
			return nil
		},
	}, nil
}
