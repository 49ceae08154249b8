package coordinator

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/quic-go/quic-go"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/internal/tlscert"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
)

// ProcessOptions assemble a standalone coordinator: `tacit coordinator`.
type ProcessOptions struct {
	Listen      string // UDP address for devices
	HTTP        string // TCP address for /metrics, /status, /healthz; "" for none
	Certificate tls.Certificate
	Tokens      *Tokens
	// Reload, if set, delivers a new enrolment to serve from (SIGHUP):
	// devices no longer in it are cut off. The population the rounds
	// select from stays the one at start.
	Reload <-chan *Tokens
	// State is the checkpoint file, resumed from if it exists. Beside it,
	// State+".reset" keeps the QUIC stateless-reset key across restarts,
	// so devices learn at once that their connection died with the last
	// process, and HistoryPath(State) every finished round's record
	// (LoadHistory), which /status shows the last of after a restart.
	State     string
	MaxFrame  int // largest request accepted; 0 means proto.DefaultMaxFrame
	DownBits  int // quantize downloaded models to this many bits; 0: float32
	Rounds    round.Config
	Optimizer aggregate.OptimizerConfig
	Items     int // the model's shape, with Model.Factors
	Model     model.Config
	Local     model.LocalConfig
	// Initial is the model before any commit, used when State holds none.
	Initial func() []float32
	Log     *slog.Logger
	// Listening, if set, is called once both addresses listen.
	Listening func(devices, http net.Addr)
}

// RunProcess serves until ctx ends, then drains: it stops accepting, lets
// exchanges in flight finish, and returns. Every commit was checkpointed
// when it happened, so nothing is lost. If a checkpoint fails, it stops the
// same way, serving no newer model, and returns the error (wrapping
// ErrStopped).
func RunProcess(ctx context.Context, o ProcessOptions) error {
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ckpt := FileCheckpointer{Path: o.State}
	snap, err := ckpt.Load()
	switch {
	case errors.Is(err, os.ErrNotExist):
		snap = round.Snapshot{Params: o.Initial()}
		log.Info("starting from a new model", "parameters", len(snap.Params))
	case err != nil:
		return err
	default:
		log.Info("resuming from checkpoint", "round", snap.Round, "version", snap.Version)
	}
	if snap.SelectionKey == ([32]byte{}) {
		if snap.Round > 0 {
			log.Warn("the checkpoint has no selection key (it predates them): its rounds' cohorts followed the public seed; a new secret key selects from now on")
		}
		if _, err := rand.Read(snap.SelectionKey[:]); err != nil {
			return err
		}
	}
	if want := model.ParamCount(o.Items, o.Model.Factors); len(snap.Params) != want {
		return fmt.Errorf("%s holds %d parameters, the model's shape needs %d", o.State, len(snap.Params), want)
	}
	history, recent, err := LoadHistory(HistoryPath(o.State), snap.Round, historyLen, log)
	if err != nil {
		return err
	}
	opt, err := aggregate.NewOptimizer(o.Optimizer)
	if err != nil {
		return err
	}
	m, err := round.NewMachine(o.Rounds, round.Parts{Population: o.Tokens.IDs(), Snapshot: snap, Optimizer: opt, Noise: privacy.NewNoise(),
		SigningKeys: o.Tokens.SigningKeys(), Endorsements: o.Tokens.Endorsements()}, time.Now())
	if err != nil {
		return err
	}
	resetKey, err := loadOrCreateResetKey(o.State + ".reset")
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := NewMetrics(reg)
	svc := NewService(m, ServiceOptions{Checkpointer: ckpt, Metrics: metrics, Log: log, History: history, Recent: recent})
	srv, err := NewServer(svc, ServerConfig{TLS: &tls.Config{Certificates: []tls.Certificate{o.Certificate}},
		Tokens: o.Tokens, StatelessResetKey: resetKey, Items: o.Items, Model: o.Model, Local: o.Local, Log: log, Metrics: metrics, MaxFrame: o.MaxFrame, DownBits: o.DownBits})
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", o.Listen)
	if err != nil {
		return err
	}
	defer pc.Close()
	var httpAddr net.Addr
	var httpSrv *http.Server
	if o.HTTP != "" {
		ln, err := net.Listen("tcp", o.HTTP)
		if err != nil {
			return err
		}
		httpAddr = ln.Addr()
		httpSrv = &http.Server{Handler: HTTPHandler(svc, reg), ReadHeaderTimeout: 5 * time.Second}
		go httpSrv.Serve(ln)
	}
	go func() {
		for {
			select {
			case t := <-o.Reload:
				srv.SetTokens(t)
				ids := t.IDs()
				log.Info("enrolment reloaded", "devices", len(ids))
				for _, id := range ids {
					if !o.Tokens.Enrolled(id) {
						log.Warn("a device enrolled by reloading takes part only after a restart", "device", id)
					}
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	err = serveUntilStopped(ctx, svc, func(ctx context.Context) error { return srv.Serve(ctx, pc) }, func() {
		devAddr := <-srv.Ready()
		if o.Listening != nil {
			o.Listening(devAddr, httpAddr)
		}
	})
	if httpSrv != nil {
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err = errors.Join(err, httpSrv.Shutdown(shut))
	}
	log.Info("coordinator stopped", "round", svc.Status().Round)
	return err
}

// serveUntilStopped runs serve until ctx ends or svc stops (a checkpoint
// failed), calling started once serve is under way, and returns serve's
// error joined with svc's.
func serveUntilStopped(ctx context.Context, svc *Service, serve func(context.Context) error, started func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- serve(ctx) }()
	go func() {
		select {
		case <-svc.Done():
			cancel()
		case <-ctx.Done():
		}
	}()
	started()
	err := <-served
	return errors.Join(svc.Err(), err)
}

// loadOrCreateResetKey returns the stateless-reset key kept at path, or
// makes one and keeps it there.
func loadOrCreateResetKey(path string) (*quic.StatelessResetKey, error) {
	var key quic.StatelessResetKey
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if len(b) != len(key) {
			return nil, fmt.Errorf("%s holds %d bytes, a stateless-reset key %d", path, len(b), len(key))
		}
		copy(key[:], b)
		return &key, nil
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	}
	rand.Read(key[:])
	return &key, tlscert.WriteSecret(path, key[:])
}
