package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/internal/tlscert"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/proto"
	"github.com/tacitfl/tacit/settings"
)

var coordinatorCommand = command{
	summary: "run the coordinator: devices check in over QUIC, rounds commit, operators watch /status and /metrics",
	help: func(w io.Writer) {
		fmt.Fprint(w, `usage: tacit coordinator --tokens FILE [flags]

Serves federated rounds to enrolled devices over QUIC (TLS 1.3, ALPN tacit/1)
and the operator's endpoints over HTTP. Without --tls-cert it makes a
self-signed certificate, keeps it (with its key) in the --state file's name
plus ".tls", and prints its fingerprint for agents' --pin; a restart reuses
it, so pinned agents reconnect. Every commit is checkpointed to --state, and
a restart resumes from it. Every finished round's record is appended to the
--state file's name plus ".rounds.jsonl", the history /status shows the last
rounds of after a restart and tacit report renders. SIGINT or SIGTERM drains:
exchanges in flight finish, then it exits.

The tokens file enrols one device a line, "TOKEN DEVICE-ID"; a line may
give the token's SHA-256 instead, "sha256:HEX DEVICE-ID", so the secrets
need not stay on this host. Only hashes are kept in memory. SIGHUP rereads
the file: devices no longer in it are cut off at once (revocation). A third
field, "ed25519:HEX", is the device's public signing key: --secagg-threat
malicious needs one for every device and refuses to start otherwise (keys
are read at start; a reload does not change them). --enroll writes a key
for each device, endorsed by an enrolment authority key it makes and then
drops (a fourth field, "endorsed:HEX"), the private halves in
TOKENS.keys/DEVICE-ID.key (mode 0600) with the authority's public key for
the agents' --key-file, so agents refuse keys the coordinator made up.

The model, training, privacy, quantization and SecAgg flags are those of
tacit simulate. A positive --noise alone turns on --dp central; with --dp
distributed the devices' noise is sized for --min-fraction of the expected
reports, less the --secagg-adversary share of them that may collude, and
accounted by RDP.
`)
		printFlags(w, newCoordinatorFlags().flagSet())
	},
	run: runCoordinator,
}

// coordinatorFlags are the coordinator's flags: its own, the round machine's
// timing (bound straight into round.Config), and the settings it shares with
// simulate.
type coordinatorFlags struct {
	listen, http, tokens, state, cert, key string
	enroll, items, maxFrame                int
	verbose                                bool
	rounds                                 round.Config
	shared                                 settings.Federated
	budget                                 float64       // --privacy-budget, for the DP settings
	phaseWindow                            time.Duration // --secagg-window, for the SecAgg settings
}

// newCoordinatorFlags holds the coordinator's defaults.
func newCoordinatorFlags() *coordinatorFlags {
	return &coordinatorFlags{rounds: round.DefaultConfig(), shared: settings.Deployed(), phaseWindow: 30 * time.Second}
}

func (o *coordinatorFlags) flagSet() *flag.FlagSet {
	fs := newFlagSet("coordinator")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:7443", "UDP `address` devices connect to")
	fs.StringVar(&o.http, "http", "127.0.0.1:7080", "TCP `address` of /metrics, /status, /healthz and the status page; empty for none")
	fs.StringVar(&o.tokens, "tokens", "", "enrolment `file`: one \"TOKEN DEVICE-ID\" or \"sha256:HEX DEVICE-ID\" a line, reread on SIGHUP (required)")
	fs.IntVar(&o.enroll, "enroll", 0, "create the tokens file with `n` new devices if it does not exist")
	fs.StringVar(&o.state, "state", "coordinator.ckpt", "checkpoint `file`, written after every commit and resumed from")
	fs.StringVar(&o.cert, "tls-cert", "", "PEM certificate `file` (with --tls-key); default: a self-signed one kept in the --state file's name plus \".tls\"")
	fs.StringVar(&o.key, "tls-key", "", "PEM private key `file`")
	fs.IntVar(&o.maxFrame, "max-frame", proto.DefaultMaxFrame, "largest request a device may send, in `bytes`; checked before anything is allocated")
	fs.IntVar(&o.items, "items", 9724, "catalogue size: items in the model (the embedded data set has 9724)")
	fs.BoolVar(&o.verbose, "verbose", false, "log every round and refused report")
	r := &o.rounds
	fs.IntVar(&r.Goal, "goal", r.Goal, "reports a round is after (selection rate goal×over-selection/devices); 0 selects everyone")
	fs.Float64Var(&r.OverSelection, "over-selection", r.OverSelection, "select this many times the goal; above 1 a round commits at the goal")
	fs.Float64Var(&r.MinFraction, "min-fraction", r.MinFraction, "fraction of the expected reports a round needs to commit")
	fs.DurationVar(&r.SelectionTimeout, "selection-timeout", r.SelectionTimeout, "how long selected devices have to check in")
	fs.DurationVar(&r.ReportWindow, "report-window", r.ReportWindow, "how long after selection devices have to report")
	fs.DurationVar(&r.RetryMin, "retry-min", r.RetryMin, "shortest retry window for a device turned away")
	fs.Uint64Var(&r.Seed, "seed", r.Seed, "seeds the initial model, retry jitter and the rounds' public randomness (cohorts are drawn with a secret key kept in --state)")
	o.shared.Bind(fs)
	fs.Float64Var(&o.budget, "privacy-budget", o.budget, "with --dp: the ε the whole training may spend; training stops before exceeding it (0: no limit)")
	fs.BoolFunc("distributed-dp", "the same as --dp distributed", func(s string) error {
		on, err := strconv.ParseBool(s)
		if on {
			o.shared.DP = settings.DPDistributed
		}
		return err
	})
	fs.DurationVar(&o.phaseWindow, "secagg-window", o.phaseWindow, "with --secagg: how long the share-keys, consistency (--secagg-threat malicious) and unmask phases stay open")
	return fs
}

// parse reads args into o and checks them, and returns the configuration
// of the round machine.
func (o *coordinatorFlags) parse(args []string) (round.Config, error) {
	if err := parseFlags(o.flagSet(), args); err != nil {
		return round.Config{}, err
	}
	if o.tokens == "" {
		return round.Config{}, usageError{err: errors.New("--tokens is required"), hint: true}
	}
	s := &o.shared
	if s.DP == "" && s.NoiseMultiplier > 0 {
		s.DP = settings.DPCentral // --noise alone, as before the coordinator had --dp
	}
	if err := s.Validate(); err != nil {
		return round.Config{}, usageError{err: err}
	}
	if s.DP != "" && s.NoiseMultiplier == 0 {
		return round.Config{}, usageError{err: errors.New("differential privacy needs --noise")}
	}
	rc := o.rounds
	rc.DP, rc.Codec, rc.SecAgg = s.Privacy.Config(o.budget), s.Quantization.Config(), s.SecureAggregation.Config(o.phaseWindow)
	if err := rc.Validate(); err != nil {
		return round.Config{}, usageError{err: err}
	}
	if o.maxFrame < 1024 || o.maxFrame > 1<<30 {
		return round.Config{}, usageError{err: fmt.Errorf("max frame must be in [1024, %d] bytes, got %d", 1<<30, o.maxFrame)}
	}
	if o.items <= 0 || o.items > 10_000_000 {
		return round.Config{}, usageError{err: fmt.Errorf("items must be in [1, 10000000], got %d", o.items)}
	}
	return rc, nil
}

func runCoordinator(args []string, stdout, stderr io.Writer) error {
	o := newCoordinatorFlags()
	rc, err := o.parse(args)
	if err != nil {
		return err
	}
	if o.enroll > 0 {
		if err := enroll(o.tokens, o.enroll, stdout); err != nil {
			return err
		}
	}
	tokens, err := readTokens(o.tokens)
	if err != nil {
		return usageError{err: err}
	}
	if rc.SecAgg != nil && rc.SecAgg.Malicious {
		if err := everyKey(tokens, o.tokens); err != nil {
			return usageError{err: err}
		}
	}
	cert, err := certificate(o.cert, o.key, o.listen, o.state+".tls")
	if err != nil {
		return usageError{err: err}
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := withSignals(context.Background())
	defer stop()
	s := o.shared
	err = coordinator.RunProcess(ctx, coordinator.ProcessOptions{
		Listen: o.listen, HTTP: o.http, Certificate: cert, Tokens: tokens, Reload: reloadOnHangup(ctx, o.tokens, log), State: o.state, MaxFrame: o.maxFrame, DownBits: s.DownBits,
		Rounds: rc, Optimizer: s.Optimizer.Config(),
		Items: o.items, Model: s.Model.Config(), Local: s.Local.Config(s.Model, len(tokens.IDs())),
		Initial: func() []float32 {
			m, _ := model.NewMF(o.items, s.Factors, rc.Seed)
			return m.Params
		},
		Log: log,
		Listening: func(devices, http net.Addr) {
			fmt.Fprintf(stdout, "coordinator: %d devices enrolled; devices connect to %s\n", len(tokens.IDs()), devices)
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

// enroll creates a tokens file with n devices, unless one exists, and each
// device's signing key file in the directory path.keys, as DEVICE-ID.key.
func enroll(path string, n int, stdout io.Writer) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	if err != nil {
		return usageError{err: err}
	}
	defer f.Close()
	// This command is the enrolment authority: it endorses each device's
	// key and writes the authority's public key into each key file, for
	// the device to pin; its private key is dropped, so the coordinator
	// that serves the rounds cannot endorse keys of its own.
	authority, authorityKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	keys, err := coordinator.NewTokens(f, n, "device-", authorityKey)
	if err != nil {
		return err
	}
	dir := path + ".keys"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return usageError{err: err}
	}
	for id, k := range keys {
		if err := tlscert.WriteSecret(filepath.Join(dir, id+".key"), client.MarshalSigningKey(k, authority)); err != nil {
			return usageError{err: err}
		}
	}
	fmt.Fprintf(stdout, "enrolled %d devices in %s, their signing keys in %s\n", n, path, dir)
	return f.Close()
}

// everyKey refuses an enrolment, read from path, in which a device has no
// signing key: malicious-server secure aggregation needs them all.
func everyKey(tokens *coordinator.Tokens, path string) error {
	keys := tokens.SigningKeys()
	var missing []string
	for _, id := range tokens.IDs() {
		if keys[id] == nil {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("--secagg-threat malicious needs every device's signing key (a third field ed25519:KEY in %s); %d devices have none, the first %s",
			path, len(missing), missing[0])
	}
	return nil
}

// readTokens reads the tokens file at path.
func readTokens(path string) (*coordinator.Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return coordinator.ReadTokens(f, path)
}

// reloadOnHangup rereads the tokens file at path on every SIGHUP until ctx
// ends; a file that does not parse is logged and the enrolment kept.
func reloadOnHangup(ctx context.Context, path string, log *slog.Logger) <-chan *coordinator.Tokens {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	reload := make(chan *coordinator.Tokens)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				t, err := readTokens(path)
				if err != nil {
					log.Error("SIGHUP: the tokens file was not reloaded", "err", err)
					continue
				}
				select {
				case reload <- t:
				case <-ctx.Done():
					return
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return reload
}

// certificate loads a PEM pair, or the self-signed certificate kept at
// kept, made for the listen address's host the first time.
func certificate(certFile, keyFile, listen, kept string) (tls.Certificate, error) {
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
	return tlscert.LoadOrCreate(kept, []string{host, "localhost", "127.0.0.1"})
}
