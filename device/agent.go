package device

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/internal/tlscert"
	"github.com/tacitfl/tacit/proto"
)

// Connection is how the device reaches its coordinator.
type Connection struct {
	// Address is the coordinator's UDP address, host:port.
	Address string
	// Token is the device's enrolment token.
	Token string
	// Pin is the SHA-256 fingerprint of the coordinator's certificate, as
	// the coordinator prints it.
	Pin string
	// KeyFile, if set, holds the device's Ed25519 signing key, as `tacit
	// coordinator --enroll` writes it, for malicious-server secure
	// aggregation.
	KeyFile string
}

// dial is c's QUIC transport, bounded to the models d's policy holds, and
// the device's signing key.
func (d *Device) dial(c *Connection) (*client.QUIC, ed25519.PrivateKey, ed25519.PublicKey, error) {
	if c == nil || c.Address == "" || c.Token == "" || c.Pin == "" {
		return nil, nil, nil, errors.New("device: a connection needs an address, a token and a pin")
	}
	tlsConf, err := tlscert.PinnedConfig(c.Pin, proto.ALPN)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("device: %w", err)
	}
	var key ed25519.PrivateKey
	var authority ed25519.PublicKey
	if c.KeyFile != "" {
		if key, authority, err = client.ReadSigningKey(c.KeyFile); err != nil {
			return nil, nil, nil, fmt.Errorf("device: %w", err)
		}
	}
	d.mu.Lock()
	maxModel := d.policy.MaxModelMB << 20
	d.mu.Unlock()
	return &client.QUIC{Addr: c.Address, TLS: tlsConf, Token: c.Token, MaxModelBytes: maxModel}, key, authority, nil
}

// running is the agent a device runs.
type running struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error // the failure the agent stopped on, if any
}

// SetConditions tells the device its state: on external power, on an
// unmetered network, idle. The agent checks in only while its policy's
// conditions hold; a device starts with none of them.
func (d *Device) SetConditions(charging, unmetered, idle bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.conditions = client.Conditions{Charging: charging, Unmetered: unmetered, Idle: idle}
}

func (d *Device) currentConditions() client.Conditions {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conditions
}

// Join starts taking part in c's rounds in the background, training on the
// person's consented events as they are at each check-in, until Leave or
// Close. Each round's model is kept, for Recommend.
func (d *Device) Join(c *Connection) error { return d.JoinLogging(c, nil, false) }

// join runs an agent against coord; log, if not nil, receives its log.
func (d *Device) join(coord client.Coordinator, key ed25519.PrivateKey, authority ed25519.PublicKey, log *slog.Logger) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st == nil {
		return ErrClosed
	}
	if d.run != nil {
		return errors.New("device: already taking part in rounds")
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{})}
	d.run = r
	saving := &savingCoordinator{Coordinator: coord, d: d}
	agent := client.NewAgent(client.Data{Test: -1}, saving, client.NewWorkspace(), log).
		KeepLedger(d.ledger, d.policy).WithSigningKey(key).WithAuthority(authority).WithClock(d.now).
		WithSource(d.trainingData).WithConditions(d.currentConditions)
	go func() {
		defer close(r.done)
		if q, ok := coord.(*client.QUIC); ok {
			defer q.Close()
		}
		err := agent.Run(ctx)
		if !errors.Is(err, context.Canceled) {
			d.mu.Lock()
			r.err = err
			d.mu.Unlock()
		}
	}()
	return nil
}

// Leave stops taking part in rounds and waits for the agent to stop.
func (d *Device) Leave() {
	d.mu.Lock()
	r := d.run
	d.run = nil
	d.mu.Unlock()
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// Status is what the device's agent is doing.
type Status struct {
	// Running says the device takes part in rounds (Join).
	Running bool
	// Waiting, if not "", is why the device does not check in now.
	Waiting string
	// LastError is the agent's last failure, if it stopped on one.
	LastError string
}

// Status is what the device's agent is doing.
func (d *Device) Status() *Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &Status{Running: d.run != nil, Waiting: d.policy.Ineligible(d.conditions)}
	if d.run != nil && d.run.err != nil {
		s.LastError = d.run.err.Error()
	}
	return s
}

// savingCoordinator keeps every model the agent downloads in the store,
// with the shape and objective of the plan it came with.
type savingCoordinator struct {
	client.Coordinator
	d    *Device
	plan *client.Plan
}

func (s *savingCoordinator) CheckIn(ctx context.Context, cached int64) (*client.Plan, time.Duration, error) {
	p, wait, err := s.Coordinator.CheckIn(ctx, cached)
	if p != nil {
		s.plan = p
	}
	return p, wait, err
}

func (s *savingCoordinator) DownloadModel(ctx context.Context, version int64, length int, dst []float32) ([]float32, error) {
	params, err := s.Coordinator.DownloadModel(ctx, version, length, dst)
	if err != nil || s.plan == nil || s.plan.ModelVersion != version || len(params) != length {
		return params, err
	}
	return params, s.d.saveModel(modelHeader{Version: version, Items: s.plan.Items, Config: s.plan.Model}, params)
}

func (d *Device) saveModel(h modelHeader, params []float32) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st == nil {
		return ErrClosed
	}
	d.prepared = nil
	return d.st.putModel(h, params)
}

// FetchModel downloads the coordinator's current model, for Recommend,
// without taking part in a round.
func (d *Device) FetchModel(c *Connection) error {
	q, _, _, err := d.dial(c)
	if err != nil {
		return err
	}
	defer q.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	version, m, cfg, err := q.LatestModel(ctx)
	if err != nil {
		return err
	}
	return d.saveModel(modelHeader{Version: version, Items: m.Items, Config: cfg}, m.Params)
}

// ReadToken reads an enrolment token from the first line of a file, as
// `tacit coordinator --enroll` writes tokens files.
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if t := strings.TrimSpace(line); t != "" {
		return t, nil
	}
	return "", fmt.Errorf("%s: no token on its first line", path)
}
