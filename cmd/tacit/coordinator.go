package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/internal/tlscert"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
	"github.com/tacitfl/tacit/proto"
	"github.com/tacitfl/tacit/simulate"
)

var coordinatorCommand = command{
	summary: "run the coordinator: devices check in over QUIC, rounds commit, operators watch /status and /metrics",
	help: func(w io.Writer) {
		fmt.Fprint(w, `usage: tacit coordinator --tokens FILE [flags]

Serves federated rounds to enrolled devices over QUIC (TLS 1.3, ALPN tacit/1)
and the operator's endpoints over HTTP. Without --tls-cert it makes a
self-signed certificate and prints its fingerprint for agents' --pin. Every
commit is checkpointed to --state, and a restart resumes from it. SIGINT or
SIGTERM drains: exchanges in flight finish, then it exits.
`)
		o := &coordinatorFlags{cfg: simulate.DefaultConfig(), rounds: round.DefaultConfig()}
		printFlags(w, o.flagSet())
	},
	run: runCoordinator,
}

type coordinatorFlags struct {
	listen, http, tokens, state, cert, key string
	accountant                             string
	quantBits, downBits                    int
	rotate, secure, distributed            bool
	quantNorm, adversary, dropout          float64
	phaseWindow                            time.Duration
	enroll, items, maxFrame                int
	noise, clip, delta, budget             float64
	cfg                                    simulate.Config
	rounds                                 round.Config
	verbose                                bool
}

func (o *coordinatorFlags) flagSet() *flag.FlagSet {
	fs := newFlagSet("coordinator")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:7443", "UDP `address` devices connect to")
	fs.StringVar(&o.http, "http", "127.0.0.1:7080", "TCP `address` of /metrics, /status, /healthz and the status page; empty for none")
	fs.StringVar(&o.tokens, "tokens", "", "enrolment `file`: one \"TOKEN DEVICE-ID\" a line (required)")
	fs.IntVar(&o.enroll, "enroll", 0, "create the tokens file with `n` new devices if it does not exist")
	fs.StringVar(&o.state, "state", "coordinator.ckpt", "checkpoint `file`, written after every commit and resumed from")
	fs.StringVar(&o.cert, "tls-cert", "", "PEM certificate `file` (with --tls-key); default: a new self-signed one")
	fs.StringVar(&o.key, "tls-key", "", "PEM private key `file`")
	fs.IntVar(&o.maxFrame, "max-frame", proto.DefaultMaxFrame, "largest request a device may send, in `bytes`; checked before anything is allocated")
	fs.IntVar(&o.items, "items", 9724, "catalogue size: items in the model (the embedded data set has 9724)")
	fs.BoolVar(&o.verbose, "verbose", false, "log every round and refused report")
	o.cfg.Model.Bind(fs)
	o.cfg.Local.Bind(fs)
	o.cfg.Optimizer.Bind(fs)
	r := &o.rounds
	fs.IntVar(&r.Goal, "goal", r.Goal, "reports a round is after (selection rate goal×over-selection/devices); 0 selects everyone")
	fs.Float64Var(&r.OverSelection, "over-selection", r.OverSelection, "select this many times the goal; above 1 a round commits at the goal")
	fs.Float64Var(&r.MinFraction, "min-fraction", r.MinFraction, "fraction of the expected reports a round needs to commit")
	fs.DurationVar(&r.SelectionTimeout, "selection-timeout", r.SelectionTimeout, "how long selected devices have to check in")
	fs.DurationVar(&r.ReportWindow, "report-window", r.ReportWindow, "how long after selection devices have to report")
	fs.DurationVar(&r.RetryMin, "retry-min", r.RetryMin, "shortest retry window for a device turned away")
	fs.Uint64Var(&r.Seed, "seed", r.Seed, "seeds selection, jitter and the initial model")
	fs.Float64Var(&o.noise, "noise", 0, "central differential privacy: noise multiplier z, N(0, (z·C)²) on each round's sum; 0 for none")
	fs.Float64Var(&o.clip, "clip", 1, "with --noise: the L2 norm C every update is clipped to")
	fs.Float64Var(&o.delta, "delta", 1e-5, "with --noise: δ of the (ε, δ) guarantee")
	fs.Float64Var(&o.budget, "privacy-budget", 0, "with --noise: the ε the whole training may spend; training stops before exceeding it (0: no limit)")
	fs.StringVar(&o.accountant, "accountant", privacy.AccountantRDP, "with --noise: the accountant of ε, rdp or pld (tighter)")
	fs.BoolVar(&o.distributed, "distributed-dp", false, "with --noise and --secagg: the devices add the noise (discrete Gaussian), sized for the fewest survivors a round accepts (--min-fraction)")
	fs.IntVar(&o.quantBits, "quant-bits", 0, "devices quantize updates to `b` bits a value (2-24) in a range the round shares; 0 sends float32")
	fs.IntVar(&o.downBits, "down-bits", 0, "quantize the model devices download to `b` bits a value (2-24); 0 sends float32")
	fs.BoolVar(&o.rotate, "rotate", false, "with --quant-bits: a seeded randomized Hadamard rotation first, inverted on the aggregate")
	fs.Float64Var(&o.quantNorm, "quant-norm", 10, "with --quant-bits and no --noise: devices clip updates to this L2 norm, which the range is set for")
	fs.BoolVar(&o.secure, "secagg", false, "secure aggregation (SecAgg+) of every round; needs --quant-bits")
	fs.Float64Var(&o.adversary, "secagg-adversary", 0.05, "with --secagg: the fraction of devices that may collude with the coordinator")
	fs.Float64Var(&o.dropout, "secagg-dropout", 0.1, "with --secagg: the fraction of devices that may drop out")
	fs.DurationVar(&o.phaseWindow, "secagg-window", 30*time.Second, "with --secagg: how long the share-keys and unmask phases stay open")
	return fs
}

func runCoordinator(args []string, stdout, stderr io.Writer) error {
	o := &coordinatorFlags{cfg: simulate.DefaultConfig(), rounds: round.DefaultConfig()}
	if err := parseFlags(o.flagSet(), args); err != nil {
		return err
	}
	if o.tokens == "" {
		return usageError{err: errors.New("--tokens is required"), hint: true}
	}
	if o.noise != 0 {
		o.rounds.DP = &round.DPConfig{NoiseMultiplier: o.noise, ClipNorm: o.clip, Delta: o.delta, Budget: o.budget,
			Accountant: o.accountant, Distributed: o.distributed}
	} else if o.distributed {
		return usageError{err: errors.New("--distributed-dp needs --noise")}
	}
	if o.quantBits != 0 {
		o.rounds.Codec = &round.CodecConfig{Bits: o.quantBits, Rotate: o.rotate, Norm: o.quantNorm}
	}
	if o.secure {
		o.rounds.SecAgg = round.SemiHonestSecAgg(o.adversary, o.dropout, o.phaseWindow)
	}
	if err := o.rounds.Validate(); err != nil {
		return usageError{err: err}
	}
	mc := o.cfg.Model.Config()
	if err := mc.Validate(); err != nil {
		return usageError{err: err}
	}
	if o.maxFrame < 1024 || o.maxFrame > 1<<30 {
		return usageError{err: fmt.Errorf("max frame must be in [1024, %d] bytes, got %d", 1<<30, o.maxFrame)}
	}
	if o.items <= 0 || o.items > 10_000_000 {
		return usageError{err: fmt.Errorf("items must be in [1, 10000000], got %d", o.items)}
	}
	if o.enroll > 0 {
		if err := enroll(o.tokens, o.enroll, stdout); err != nil {
			return err
		}
	}
	f, err := os.Open(o.tokens)
	if err != nil {
		return usageError{err: err}
	}
	tokens, err := coordinator.ReadTokens(f, o.tokens)
	f.Close()
	if err != nil {
		return usageError{err: err}
	}
	cert, err := certificate(o.cert, o.key, o.listen)
	if err != nil {
		return usageError{err: err}
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	ctx, stop := withSignals(context.Background())
	defer stop()
	err = coordinator.RunProcess(ctx, coordinator.ProcessOptions{
		Listen: o.listen, HTTP: o.http, Certificate: cert, Tokens: tokens, State: o.state, MaxFrame: o.maxFrame, DownBits: o.downBits,
		Rounds: o.rounds, Optimizer: o.cfg.Optimizer.Config(),
		Model: proto.ModelConfig(o.items, mc),
		Local: proto.LocalTraining(model.LocalConfig{Epochs: o.cfg.LocalEpochs, LR: o.cfg.ClientLR, ItemRegShare: mc.ItemReg / float64(len(tokens))}),
		Initial: func() []float32 {
			m, _ := model.NewMF(o.items, mc.Factors, o.rounds.Seed)
			return m.Params
		},
		Log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
		Listening: func(devices, http net.Addr) {
			fmt.Fprintf(stdout, "coordinator: %d devices enrolled; devices connect to %s\n", len(tokens), devices)
			fmt.Fprintf(stdout, "certificate fingerprint (agents: --pin): %s\n", tlscert.Fingerprint(cert.Certificate[0]))
			if http != nil {
				fmt.Fprintf(stdout, "status page http://%s/  JSON http://%s/status  Prometheus http://%s/metrics\n", http, http, http)
			}
		},
	})
	if err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// enroll creates a tokens file with n devices, unless one exists.
func enroll(path string, n int, stdout io.Writer) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return usageError{err: err}
	}
	defer f.Close()
	if err := coordinator.NewTokens(f, n, "device-"); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "enrolled %d devices in %s\n", n, path)
	return f.Close()
}

// certificate loads a PEM pair, or makes a self-signed certificate for the
// listen address's host.
func certificate(certFile, keyFile, listen string) (tls.Certificate, error) {
	if certFile != "" || keyFile != "" {
		return tls.LoadX509KeyPair(certFile, keyFile)
	}
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("--listen %q: %w", listen, err)
	}
	if host == "" {
		host = "localhost"
	}
	return tlscert.SelfSigned([]string{host, "localhost", "127.0.0.1"})
}
