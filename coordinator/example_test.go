package coordinator_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/model"
)

// A whole coordinator in one call: QUIC for devices, HTTP for the
// operator, a checkpoint after every commit, until the context ends.
func ExampleRunProcess() {
	var cert tls.Certificate // the coordinator's certificate
	rounds := round.DefaultConfig()
	rounds.Goal = 100
	rounds.DP = &round.DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-6, Budget: 8}
	mc := model.DefaultConfig()
	items := 9724
	err := coordinator.RunProcess(context.Background(), coordinator.ProcessOptions{
		Listen: "0.0.0.0:7443", HTTP: "127.0.0.1:7080", Certificate: cert,
		Tokens: coordinator.HashTokens(map[string]string{"token-1": "device-1", "token-2": "device-2"}),
		State:  "coordinator.ckpt",
		Rounds: rounds, Optimizer: aggregate.OptimizerConfig{Name: "fedadam", LR: 0.01},
		Items: items, Model: mc, Local: model.LocalConfig{Epochs: 1, LR: 0.1},
		Initial: func() []float32 {
			m, _ := model.NewMF(items, mc.Factors, 1)
			return m.Params
		},
		Log: slog.Default(),
	})
	if err != nil {
		slog.Error("coordinator stopped", "err", err)
	}
}

// Assembled by hand: the round machine, the Service that drives it, and
// the QUIC server in front of it.
func ExampleNewServer() {
	var key [32]byte // the secret that draws the cohorts: keep it with the checkpoint
	if _, err := rand.Read(key[:]); err != nil {
		return
	}
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg", LR: 1})
	m, err := round.NewMachine(round.DefaultConfig(), round.Parts{
		Population: []string{"device-1", "device-2"},
		Snapshot:   round.Snapshot{Params: make([]float32, model.ParamCount(100, 8)), SelectionKey: key},
		Optimizer:  opt,
	}, time.Now())
	if err != nil {
		return
	}
	svc := coordinator.NewService(m, coordinator.ServiceOptions{Checkpointer: coordinator.FileCheckpointer{Path: "coordinator.ckpt"}})
	var cert tls.Certificate
	srv, err := coordinator.NewServer(svc, coordinator.ServerConfig{
		TLS:    &tls.Config{Certificates: []tls.Certificate{cert}},
		Tokens: coordinator.HashTokens(map[string]string{"token-1": "device-1", "token-2": "device-2"}),
		Items:  100, Model: model.Config{Factors: 8, Alpha: 10, NegWeight: 0.1, UserReg: 0.1, ItemReg: 0.1},
		Local: model.LocalConfig{Epochs: 1, LR: 0.1},
	})
	if err != nil {
		return
	}
	_ = srv // srv.Serve(ctx, packetConn) serves until ctx ends
}
