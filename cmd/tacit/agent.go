package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/internal/tlscert"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/proto"
)

var agentCommand = command{
	summary: "run a device agent: train on this device's own data and take part in the coordinator's rounds",
	help: func(w io.Writer) {
		fmt.Fprint(w, `usage: tacit agent --token-file FILE --pin FINGERPRINT --person ID [flags]
       tacit agent ledger [--ledger FILE]

Checks in with the coordinator, honours its retry windows, downloads the
model when stale, trains on the person's own interactions and uploads only
the update of the shared item weights. The person's events and vector never
leave the process. Reconnects with jittered backoff; SIGINT or SIGTERM stop
it at once.

The enrolment token is read from --token-file (the first line, spaces
trimmed); --token also works but shows the token to anyone who can list
the machine's processes. --key-file is the device's Ed25519 signing key,
as 'tacit coordinator --enroll' writes it (TOKENS.keys/DEVICE-ID.key):
without it the device declines rounds under --secagg-threat malicious.

The device checks each round's plan against its own privacy policy
(--policy, a .toml, .yaml or .json file; the defaults without one) and
declines a plan outside it: by default it takes part only under secure
aggregation among at least 10 devices with a threshold above half of each
neighbourhood, a plan δ no looser than its own 1e-6, and in at most 24
rounds a day. Plain, unmasked updates need the person's opt-in:
--allow-plain (or allow_plain in the file).

Every round it takes part in goes first into its ledger (--ledger), and so
does every plan it declines, with the reason; 'tacit agent ledger' prints it
for the person: rounds, noise, bytes sent and the device's own ε at its own
δ, counting each round as an unsampled Gaussian mechanism (no trust in the
coordinator's sampling). With --budget it declines rounds that would take
that ε past the budget; a round without noise counts as unbounded.

Policy file keys: allow_plain, min_cohort, min_survivors,
min_noise_multiplier, delta, max_rounds_per_day, budget,
require_malicious_secure (decline secure rounds that are not in the
malicious-server mode).

The device's data is one person's interactions from --data (their latest
one held out for federated evaluation); item ids are the data set's, so the
coordinator's --items must match its catalogue.
`)
		printFlags(w, (&agentFlags{}).flagSet())
	},
	run: runAgent,
}

type agentFlags struct {
	addr, token, tokenFile, keyFile, pin, data, person, ledger, policy string
	budget                                                             float64
	allowPlain, verbose                                                bool
}

func (o *agentFlags) flagSet() *flag.FlagSet {
	fs := newFlagSet("agent")
	fs.StringVar(&o.addr, "coordinator", "127.0.0.1:7443", "the coordinator's UDP `address`")
	fs.StringVar(&o.tokenFile, "token-file", "", "`file` holding this device's enrolment token (this or --token required)")
	fs.StringVar(&o.token, "token", "", "this device's enrolment `token`, visible in the process list: prefer --token-file")
	fs.StringVar(&o.keyFile, "key-file", "", "`file` holding this device's Ed25519 signing key, for malicious-server secure aggregation")
	fs.StringVar(&o.pin, "pin", "", "SHA-256 `fingerprint` of the coordinator's certificate, as it prints it (required)")
	fs.StringVar(&o.data, "data", "", dataSpecHelp)
	fs.StringVar(&o.person, "person", "", "the `id` of the person in --data whose device this is (required)")
	fs.StringVar(&o.ledger, "ledger", "agent-ledger.jsonl", "the device's privacy ledger `file`: every round it took part in")
	fs.StringVar(&o.policy, "policy", "", "the device's privacy policy `file` (.toml, .yaml or .json; defaults without one)")
	fs.BoolVar(&o.allowPlain, "allow-plain", false, "opt in to rounds without secure aggregation, whose update the coordinator sees")
	fs.Float64Var(&o.budget, "budget", 0, "the person's ε budget at the policy's δ: decline rounds that would exceed it (0: the policy's)")
	fs.BoolVar(&o.verbose, "verbose", false, "log each round")
	return fs
}

func runAgent(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "ledger" {
		return printLedger(args[1:], stdout)
	}
	o := &agentFlags{}
	if err := parseFlags(o.flagSet(), args); err != nil {
		return err
	}
	switch {
	case (o.token == "") == (o.tokenFile == ""):
		return usageError{err: errors.New("one of --token-file and --token is required"), hint: true}
	case o.pin == "":
		return usageError{err: errors.New("--pin is required"), hint: true}
	case o.person == "":
		return usageError{err: errors.New("--person is required"), hint: true}
	}
	policy := client.DefaultPolicy()
	if o.policy != "" {
		var err error
		if policy, err = client.LoadPolicy(o.policy); err != nil {
			return usageError{err: err}
		}
	}
	policy.AllowPlain = policy.AllowPlain || o.allowPlain
	if o.budget != 0 {
		policy.Budget = o.budget
	}
	if err := policy.Validate(); err != nil {
		return usageError{err: err}
	}
	token := o.token
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return usageError{err: err}
		}
		line, _, _ := strings.Cut(string(b), "\n")
		if token = strings.TrimSpace(line); token == "" {
			return usageError{err: fmt.Errorf("%s: no token on its first line", o.tokenFile)}
		}
	}
	var key ed25519.PrivateKey
	var authority ed25519.PublicKey
	if o.keyFile != "" {
		var err error
		if key, authority, err = client.ReadSigningKey(o.keyFile); err != nil {
			return usageError{err: err}
		}
	}
	tlsConf, err := tlscert.PinnedConfig(o.pin, proto.ALPN)
	if err != nil {
		return usageError{err: err}
	}
	data, err := dataset.Open(o.data)
	if err != nil {
		return usageError{err: err}
	}
	mine, err := personData(data, o.person)
	if err != nil {
		return usageError{err: err}
	}
	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	q := &client.QUIC{Addr: o.addr, TLS: tlsConf, Token: token}
	defer q.Close()
	fmt.Fprintf(stdout, "agent for person %s (%d training items) checking in with %s\n", o.person, len(mine.Train.Items), o.addr)
	ctx, stop := withSignals(context.Background())
	defer stop()
	ledger, err := client.OpenLedger(o.ledger)
	if err != nil {
		return usageError{err: err}
	}
	err = client.NewAgent(mine, q, client.NewWorkspace(), log).KeepLedger(ledger, policy).WithSigningKey(key).WithAuthority(authority).Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// printLedger is `tacit agent ledger`: what this device has given away.
func printLedger(args []string, stdout io.Writer) error {
	fs := newFlagSet("agent ledger")
	path := fs.String("ledger", "agent-ledger.jsonl", "the device's privacy ledger `file`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	l, err := client.OpenLedger(*path)
	if err != nil {
		return usageError{err: err}
	}
	l.Print(stdout)
	return nil
}

// personData is one person's split from a data set.
func personData(data *dataset.Log, id string) (client.Data, error) {
	for u, uid := range data.UserIDs {
		if uid == id {
			s := dataset.LeaveLastOut(data)
			if s.Test[u] < 0 {
				return client.Data{}, fmt.Errorf("person %s has fewer than two interactions", id)
			}
			return client.Data{Train: model.Positives{Items: s.Train(u), Ages: s.Ages(u)}, Test: s.Test[u]}, nil
		}
	}
	return client.Data{}, fmt.Errorf("no person %q in %s", id, data.Name)
}
