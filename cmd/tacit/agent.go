package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/device"
	"github.com/tacitfl/tacit/internal/tlscert"
	"github.com/tacitfl/tacit/proto"
)

var agentCommand = command{
	summary: "run a person's device in the coordinator's rounds: train on its consented events, until stopped",
	help: func(w io.Writer) {
		fmt.Fprint(w, `usage: tacit agent --dir DIR --token-file FILE --pin FINGERPRINT [flags]

Opens the device kept in DIR (see 'tacit device': its events, consent,
retention and ledger) and takes part in the coordinator's rounds until
SIGINT or SIGTERM, then leaves and closes the device. At each check-in it
trains on the person's events of the kinds they consented to, as they are
then (their latest held out for federated evaluation), and uploads only
the update of the shared item weights: the events and the person's own
vector never leave the device. It keeps each model it downloads, for
'tacit device recommend'. It honours the coordinator's retry windows and
reconnects with jittered backoff. Each round it takes part in or declines
is printed as it goes into the ledger ('tacit device ledger' shows it all);
failures to reach the coordinator go to stderr.

The enrolment token is read from --token-file (the first line, spaces
trimmed); --token also works but shows the token to anyone who can list
the machine's processes. --key-file is the device's Ed25519 signing key,
as 'tacit coordinator --enroll' writes it (TOKENS.keys/DEVICE-ID.key):
without it the device declines rounds under --secagg-threat malicious.

The device's privacy policy is DIR/policy.toml, if the person wrote one
(keys: allow_plain, min_cohort, min_survivors, min_noise_multiplier, delta,
max_rounds_per_day, budget, require_malicious_secure, require_charging,
require_unmetered, require_idle, max_model_mb); without it the device takes part only
under secure aggregation among at least 10 devices with a threshold above
half of each neighbourhood, a plan δ no looser than its own 1e-6, in at
most 24 rounds a day, and only while charging, idle and on an unmetered
network. It declines a plan outside its policy, with the reason in the
ledger. Plain, unmasked updates need the person's opt-in: allow_plain =
true.

While it runs it serves the person's page on loopback (--page; a free
port unless given one, printed as it starts): what the device keeps, the
consent switches, ε spent over time against the budget, the rounds, and
the recommendations with their reasons. No other machine can reach it.

--charging, --unmetered and --idle are the device's conditions. This is a
command-line agent, on a desktop that is plugged in, on a flat-rate network
and working in the background: they default to true. Set one false to keep
the device out of rounds that require it.

The item ids the device records are the catalogue's (--catalogue, default
the embedded data set's), so the coordinator's --items must match it.
`)
		printFlags(w, (&agentFlags{}).flagSet())
	},
	run: runAgent,
}

// connectionFlags are how a device reaches its coordinator.
type connectionFlags struct {
	addr, token, tokenFile, keyFile, pin string
}

func (c *connectionFlags) bind(fs *flag.FlagSet, withKey bool) {
	fs.StringVar(&c.addr, "coordinator", "127.0.0.1:7443", "the coordinator's UDP `address`")
	fs.StringVar(&c.tokenFile, "token-file", "", "`file` holding this device's enrolment token (this or --token required)")
	fs.StringVar(&c.token, "token", "", "this device's enrolment `token`, visible in the process list: prefer --token-file")
	fs.StringVar(&c.pin, "pin", "", "SHA-256 `fingerprint` of the coordinator's certificate, as it prints it (required)")
	if withKey {
		fs.StringVar(&c.keyFile, "key-file", "", "`file` holding this device's Ed25519 signing key, for malicious-server secure aggregation")
	}
}

// connection checks the flags and reads the token and key files.
func (c *connectionFlags) connection() (*device.Connection, error) {
	switch {
	case (c.token == "") == (c.tokenFile == ""):
		return nil, usageError{err: errors.New("one of --token-file and --token is required"), hint: true}
	case c.pin == "":
		return nil, usageError{err: errors.New("--pin is required"), hint: true}
	case c.addr == "":
		return nil, usageError{err: errors.New("--coordinator is required"), hint: true}
	}
	token := c.token
	if c.tokenFile != "" {
		var err error
		if token, err = device.ReadToken(c.tokenFile); err != nil {
			return nil, usageError{err: err}
		}
	}
	if _, err := tlscert.PinnedConfig(c.pin, proto.ALPN); err != nil {
		return nil, usageError{err: err}
	}
	if c.keyFile != "" {
		if _, _, err := client.ReadSigningKey(c.keyFile); err != nil {
			return nil, usageError{err: err}
		}
	}
	return &device.Connection{Address: c.addr, Token: token, Pin: c.pin, KeyFile: c.keyFile}, nil
}

type agentFlags struct {
	dir, catalogue, page      string
	conn                      connectionFlags
	charging, unmetered, idle bool
	verbose                   bool
}

func (o *agentFlags) flagSet() *flag.FlagSet {
	fs := newFlagSet("agent")
	fs.StringVar(&o.dir, "dir", "", "the device's `directory`, as 'tacit device --dir' keeps it (required)")
	fs.StringVar(&o.catalogue, "catalogue", "", "`file` of the model's item ids, one a line (optionally a tab and its title), in the model's order (default: the embedded data set's)")
	o.conn.bind(fs, true)
	fs.BoolVar(&o.charging, "charging", true, "the device is on external power")
	fs.BoolVar(&o.unmetered, "unmetered", true, "the device is on a network that does not charge by the byte")
	fs.BoolVar(&o.idle, "idle", true, "the device is not in use")
	fs.StringVar(&o.page, "page", "127.0.0.1:0", "loopback `address` of the person's page (port 0: a free one; \"\": no page)")
	fs.BoolVar(&o.verbose, "verbose", false, "log each check-in skipped and each report sent")
	return fs
}

// pollLedger is how often the agent looks for new ledger entries to print.
const pollLedger = 500 * time.Millisecond

func runAgent(args []string, stdout, stderr io.Writer) error {
	o := &agentFlags{}
	if err := parseFlags(o.flagSet(), args); err != nil {
		return err
	}
	if o.dir == "" {
		return usageError{err: errors.New("--dir is required"), hint: true}
	}
	conn, err := o.conn.connection()
	if err != nil {
		return err
	}
	d, err := openDevice(o.dir, o.catalogue)
	if err != nil {
		return err
	}
	defer d.Close()
	d.SetConditions(o.charging, o.unmetered, o.idle)
	page := ""
	if o.page != "" {
		if page, err = d.ServePage(o.page); errors.Is(err, device.ErrNotLoopback) {
			return usageError{err: err}
		} else if err != nil {
			return err
		}
	}
	s, err := d.Summary()
	if err != nil {
		return err
	}
	usable := 0
	for i := range s.Kinds() {
		if k := s.Kind(i); k.Consented {
			usable += k.Events - k.Unknown
		}
	}
	fmt.Fprintf(stdout, "device in %s: %d events, %d of them of consented kinds; taking part in the rounds of %s until SIGINT or SIGTERM\n",
		o.dir, s.Events, usable, conn.Address)
	if usable < 2 {
		fmt.Fprintln(stdout, "nothing to train on yet: the device checks in once it holds two events of consented kinds (tacit device consent)")
	}
	if why := d.Status().Waiting; why != "" {
		fmt.Fprintf(stdout, "not checking in: %s (its policy requires it)\n", why)
	}
	if page != "" {
		fmt.Fprintf(stdout, "the person's page: %s\n", page)
	}
	ctx, stop := withSignals(context.Background())
	defer stop()
	seen := d.Ledger().Len()
	if err := d.JoinLogging(conn, &lineLogger{w: stderr}, o.verbose); err != nil {
		return err
	}
	defer d.Leave()
	tick := time.NewTicker(pollLedger)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			d.Leave()
			seen = printNewEntries(stdout, d.Ledger(), seen)
			fmt.Fprintln(stdout, "left the coordinator's rounds")
			return nil
		case <-tick.C:
		}
		seen = printNewEntries(stdout, d.Ledger(), seen)
		if st := d.Status(); st.LastError != "" {
			return errors.New(st.LastError)
		}
	}
}

// printNewEntries prints the ledger's entries from the seen-th on, and
// returns how many it holds.
func printNewEntries(w io.Writer, l *device.Ledger, seen int) int {
	for i := seen; i < l.Len(); i++ {
		e := l.Get(i)
		when := localTime(e.UnixMillis)
		switch e.Kind {
		case device.KindRound:
			fmt.Fprintf(w, "%s  round %d: trained on model version %d, sent %d bytes (noise %.3g); ε so far %s\n",
				when, e.Round, e.ModelVersion, e.BytesSent, e.NoiseMultiplier, epsilon(e.Epsilon))
		case "declined":
			fmt.Fprintf(w, "%s  declined round %d: %s\n", when, e.Round, e.Reason)
		default:
			fmt.Fprintf(w, "%s  %s: %s\n", when, e.Kind, e.Reason)
		}
	}
	return l.Len()
}

// lineLogger writes the agent's log lines to w.
type lineLogger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineLogger) Log(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintln(l.w, "agent: "+strings.TrimSpace(line))
}
