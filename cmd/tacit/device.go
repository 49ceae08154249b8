package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/tacitfl/tacit/device"
)

var deviceCommand = command{
	summary: "the person's device: record or import their events, consent, retention, recommendations, forget, export, ledger",
	help:    deviceHelp,
	run:     runDevice,
}

func deviceHelp(w io.Writer) {
	fmt.Fprint(w, `usage: tacit device --dir DIR [--catalogue FILE] SUBCOMMAND [flags]

A person's device as the person sees it (package device): their events, kept
in DIR and nowhere else, their consent per kind of event, how long each kind
is kept, recommendations explained by their own past events, deletion, an
export of everything the device holds, and its privacy ledger. 'tacit agent
--dir DIR' takes the same device into the coordinator's rounds; a directory
is used by one process at a time, so stop the agent before these.

Nothing is used, for training or for recommendations, until the person
consents to a kind of event (consent --grant). Events older than their
kind's retention (365 days unless set) are deleted for good, and refused.

subcommands (each takes --json for machine-readable output):

  record --kind KIND --item ITEM [--time TIME] [--weight W]
        keep one event (the time defaults to now)
  import FILE [--kind KIND]
        keep the person's own history, a CSV of item,timestamp[,kind] rows
        (a header line item,timestamp[,kind] is allowed; the kind defaults
        to --kind), all of it or, if a row is bad, none: the first bad line
        is named. Rows older than their kind's retention are skipped and
        counted: set the retention first for an old history
  consent --kind KIND --grant | --withdraw
        grant or withdraw consent to use events of a kind, at once; the
        choice goes in the ledger
  retention --kind KIND --days N
        keep events of a kind N days (1 to 36500); older ones go at once
  recommend [--n 10] [--explain]
        the items the device's model scores highest for the person, from
        their consented events; --explain says which past events raised each
  forget --all | --kind KIND | --before TIME
        delete events for good; the ledger says which rounds had already
        learnt from them
  export
        everything the device holds about the person, as JSON (always)
  ledger
        every round the device took part in or declined, every consent and
        deletion, and its ε so far
  status
        events per kind, the oldest, retention, consent and the model version
  fetch-model --coordinator ADDR --token-file FILE --pin FINGERPRINT
        download the coordinator's current model, for recommend, without
        taking part in a round

KIND is lower-case letters, digits, - and _, starting with a letter (view,
click, purchase, rating). TIME is RFC 3339 (2018-09-24T14:05:00Z), a date
(2018-09-24, midnight UTC) or Unix seconds.

DIR holds events.db (the events, consent, retention and the last model),
ledger.jsonl (the ledger) and, if the person writes one, policy.toml: the
rounds the device accepts (client.LoadPolicy's keys: allow_plain,
min_cohort, min_survivors, min_noise_multiplier, delta, max_rounds_per_day,
budget, require_malicious_secure, require_charging, require_unmetered,
require_idle, max_model_mb). Without it the device takes part only under secure
aggregation among at least 10 devices, and only while charging, idle and
on an unmetered network.
`)
	var g deviceGlobals
	printFlags(w, g.flagSet())
	for _, name := range deviceOrder {
		fs, _ := deviceSubcommands[name]()
		if !hasFlags(fs) {
			continue
		}
		fmt.Fprintf(w, "\n%s flags:\n", name)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

type deviceGlobals struct{ dir, catalogue string }

func (g *deviceGlobals) flagSet() *flag.FlagSet {
	fs := newFlagSet("device")
	fs.StringVar(&g.dir, "dir", "", "the device's `directory`, made (mode 0700) if need be (required)")
	fs.StringVar(&g.catalogue, "catalogue", "", "`file` of the model's item ids, one a line (optionally a tab and its title), in the model's order (default: the embedded data set's)")
	return fs
}

// deviceWork is a subcommand's work on the open device.
type deviceWork func(d *device.Device, stdout io.Writer) error

// A deviceSubcommand makes the subcommand's flags and, to call once they
// are parsed, a check of them that returns the work. The flags take no
// positional arguments unless the subcommand says so.
type deviceSubcommand func() (*flag.FlagSet, func(args []string) (deviceWork, error))

var deviceOrder = []string{"record", "import", "consent", "retention", "recommend", "forget", "export", "ledger", "status", "fetch-model"}

var deviceSubcommands = map[string]deviceSubcommand{
	"record": deviceRecord, "import": deviceImport, "consent": deviceConsent, "retention": deviceRetention,
	"recommend": deviceRecommend, "forget": deviceForget, "export": deviceExport, "ledger": deviceLedger,
	"status": deviceStatus, "fetch-model": deviceFetchModel,
}

func runDevice(args []string, stdout, stderr io.Writer) error {
	var g deviceGlobals
	gfs := g.flagSet()
	if err := gfs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err: err, hint: true}
	}
	if gfs.NArg() == 0 {
		return usageError{err: fmt.Errorf("missing subcommand: %s", strings.Join(deviceOrder, ", ")), hint: true}
	}
	name, rest := gfs.Arg(0), gfs.Args()[1:]
	if name == "help" {
		return flag.ErrHelp
	}
	sub, ok := deviceSubcommands[name]
	if !ok {
		return usageError{err: fmt.Errorf("unknown subcommand %q: want %s", name, strings.Join(deviceOrder, ", ")), hint: true}
	}
	_, prepare := sub()
	work, err := prepare(rest)
	if err != nil {
		return inSubcommand(name, err)
	}
	if g.dir == "" {
		return usageError{err: errors.New("--dir is required, before the subcommand"), hint: true}
	}
	d, err := openDevice(g.dir, g.catalogue)
	if err != nil {
		return err
	}
	err = work(d, stdout)
	if cerr := d.Close(); err == nil && cerr != nil {
		err = cerr
	}
	return inSubcommand(name, err)
}

// openDevice opens the device in dir; what stops it is the user's to fix.
func openDevice(dir, catalogue string) (*device.Device, error) {
	d, err := device.Open(dir, &device.Options{Catalogue: catalogue})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, usageError{err: fmt.Errorf("%s is in use by another process (a running tacit agent?): stop it first", dir)}
	case err != nil:
		return nil, usageError{err: errors.New(strings.TrimPrefix(err.Error(), "device: "))}
	}
	return d, nil
}

// inSubcommand names the subcommand in err's message, and makes the
// device's refusals of what the person asked (a bad kind, a bad event, an
// expired one) usage errors.
func inSubcommand(name string, err error) error {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	msg := errors.New(name + ": " + strings.TrimPrefix(err.Error(), "device: "))
	var ue usageError
	switch {
	case errors.As(err, &ue):
		return usageError{err: msg, hint: ue.hint}
	case errors.Is(err, device.ErrBadKind), errors.Is(err, device.ErrBadEvent), errors.Is(err, device.ErrExpired):
		return usageError{err: msg}
	}
	return msg
}

// printJSON writes v as one line of JSON.
func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// maxUnixSeconds bounds a time given in Unix seconds (the year 5138), so
// that its milliseconds fit.
const maxUnixSeconds = 1e11

// parseTime reads a time as RFC 3339, a date (midnight UTC) or Unix
// seconds.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > -maxUnixSeconds && n < maxUnixSeconds {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("time %q is not RFC 3339 (2018-09-24T14:05:00Z), a date (2018-09-24) or Unix seconds", s)
}

// localTime shows a time in milliseconds for the person.
func localTime(ms int64) string { return time.UnixMilli(ms).Local().Format("2006-01-02 15:04:05") }

func localDate(ms int64) string { return time.UnixMilli(ms).Local().Format(time.DateOnly) }

func deviceRecord() (*flag.FlagSet, func([]string) (deviceWork, error)) {
	fs := newFlagSet("device record")
	kind := fs.String("kind", "view", "the `kind` of event")
	item := fs.String("item", "", "the item's `id`, as in the catalogue (required)")
	when := fs.String("time", "", "when it happened, a `time`: RFC 3339, a date or Unix seconds (default: now)")
	weight := fs.Float64("weight", 1, "how much the event counts, 0 to 1e6")
	asJSON := fs.Bool("json", false, "print the event kept as JSON")
	return fs, func(args []string) (deviceWork, error) {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if *item == "" {
			return nil, usageError{err: errors.New("--item is required"), hint: true}
		}
		t := time.Now()
		if *when != "" {
			var err error
			if t, err = parseTime(*when); err != nil {
				return nil, usageError{err: fmt.Errorf("--time: %w", err)}
			}
		}
		return func(d *device.Device, stdout io.Writer) error {
			e := &device.Event{Kind: *kind, Item: *item, UnixMillis: t.UnixMilli(), Weight: *weight}
			if err := d.Record(e); err != nil {
				return err
			}
			if *asJSON {
				return printJSON(stdout, e)
			}
			fmt.Fprintf(stdout, "recorded %s %s at %s\n", e.Kind, e.Item, localTime(e.UnixMillis))
			if !d.Consented(e.Kind) {
				fmt.Fprintf(stdout, "not used until the person consents: tacit device consent --kind %s --grant\n", e.Kind)
			}
			return nil
		}, nil
	}
}

// Bounds on an import, checked before it is read.
const (
	maxImportBytes = 64 << 20
	maxImportLine  = 4096
	maxImportRows  = 1_000_000
)

func deviceImport() (*flag.FlagSet, func([]string) (deviceWork, error)) {
	fs := newFlagSet("device import")
	kind := fs.String("kind", "view", "the `kind` of the rows that do not name one")
	asJSON := fs.Bool("json", false, "print the counts as JSON")
	return fs, func(args []string) (deviceWork, error) {
		// FILE may come before the flags or after them.
		err := fs.Parse(args)
		var file string
		if err == nil && fs.NArg() > 0 {
			file = fs.Arg(0)
			err = fs.Parse(fs.Args()[1:])
		}
		switch {
		case errors.Is(err, flag.ErrHelp):
			return nil, err
		case err != nil:
			return nil, usageError{err: err, hint: true}
		case file == "":
			return nil, usageError{err: errors.New("missing FILE: the CSV of item,timestamp[,kind] rows to import"), hint: true}
		case fs.NArg() > 0:
			return nil, usageError{err: fmt.Errorf("unexpected argument %q", fs.Arg(0)), hint: true}
		}
		return func(d *device.Device, stdout io.Writer) error {
			events, err := readHistory(d, file, *kind)
			if err != nil {
				return usageError{err: err}
			}
			skipped, err := d.RecordBatch(events)
			if err != nil {
				return err
			}
			imported := events.Len() - skipped
			if *asJSON {
				return printJSON(stdout, map[string]int{"imported": imported, "skipped_past_retention": skipped})
			}
			fmt.Fprintf(stdout, "imported %d events from %s; %d skipped as older than their kind's retention\n", imported, file, skipped)
			if skipped > 0 {
				fmt.Fprintln(stdout, "(365 days unless set: tacit device retention --kind KIND --days N, then import again)")
			}
			return nil
		}, nil
	}
}

// readHistory reads a CSV of item,timestamp[,kind] rows, the kind
// defaulting to kind, checking every row as the device would; an error
// names the file's line.
func readHistory(d *device.Device, path, kind string) (*device.Batch, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > maxImportBytes {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d MiB an import takes", path, st.Size(), maxImportBytes>>20)
	}
	sc := bufio.NewScanner(io.LimitReader(f, maxImportBytes+1))
	sc.Buffer(make([]byte, 0, 4096), maxImportLine)
	events := device.NewBatch()
	read, line := 0, 0 // bytes read, and the line
	for sc.Scan() {
		line++
		read += len(sc.Bytes()) + 1
		if read > maxImportBytes+1 {
			return nil, fmt.Errorf("%s grew past %d MiB while it was read", path, maxImportBytes>>20)
		}
		text := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		r := csv.NewReader(strings.NewReader(text))
		r.FieldsPerRecord = -1
		fields, err := r.Read()
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, errors.Unwrap(err))
		}
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
		}
		if len(fields) < 2 || len(fields) > 3 {
			return nil, fmt.Errorf("%s:%d: %d fields, want item,timestamp[,kind]", path, line, len(fields))
		}
		if events.Len() == 0 && isHistoryHeader(fields) {
			continue
		}
		t, err := parseTime(fields[1])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		e := device.Event{Kind: kind, Item: fields[0], UnixMillis: t.UnixMilli()}
		if len(fields) == 3 && fields[2] != "" {
			e.Kind = fields[2]
		}
		if err := d.Check(&e); err != nil {
			return nil, fmt.Errorf("%s:%d: %s", path, line, strings.TrimPrefix(err.Error(), "device: "))
		}
		if events.Len() == maxImportRows {
			return nil, fmt.Errorf("%s:%d: more than %d rows", path, line, maxImportRows)
		}
		events.Add(&e)
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return nil, fmt.Errorf("%s:%d: a line longer than %d bytes", path, line+1, maxImportLine)
	}
	return events, sc.Err()
}

func isHistoryHeader(f []string) bool {
	return strings.EqualFold(f[0], "item") && strings.EqualFold(f[1], "timestamp") && (len(f) == 2 || strings.EqualFold(f[2], "kind"))
}

func deviceConsent() (*flag.FlagSet, func([]string) (deviceWork, error)) {
	fs := newFlagSet("device consent")
	kind := fs.String("kind", "", "the `kind` of event (required)")
	grant := fs.Bool("grant", false, "consent to the use of the kind's events")
	withdraw := fs.Bool("withdraw", false, "withdraw consent: the events are kept but no longer used")
	asJSON := fs.Bool("json", false, "print the choice as JSON")
	return fs, func(args []string) (deviceWork, error) {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		switch {
		case *kind == "":
			return nil, usageError{err: errors.New("--kind is required"), hint: true}
		case *grant == *withdraw:
			return nil, usageError{err: errors.New("give exactly one of --grant and --withdraw"), hint: true}
		}
		return func(d *device.Device, stdout io.Writer) error {
			if err := d.Consent(*kind, *grant); err != nil {
				return err
			}
			if *asJSON {
				return printJSON(stdout, map[string]any{"kind": *kind, "consented": *grant})
			}
			if *grant {
				fmt.Fprintf(stdout, "granted consent to use %s events, for training and recommendations, from now on\n", *kind)
			} else {
				fmt.Fprintf(stdout, "withdrew consent to use %s events: they are kept, and no longer used\n", *kind)
			}
			return nil
		}, nil
	}
}

func deviceRetention() (*flag.FlagSet, func([]string) (deviceWork, error)) {
	fs := newFlagSet("device retention")
	kind := fs.String("kind", "", "the `kind` of event (required)")
	days := fs.Int("days", 0, fmt.Sprintf("keep the kind's events this many `days`, 1 to %d (required)", device.MaxRetentionDays))
	asJSON := fs.Bool("json", false, "print the retention as JSON")
	return fs, func(args []string) (deviceWork, error) {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		switch {
		case *kind == "":
			return nil, usageError{err: errors.New("--kind is required"), hint: true}
		case *days < 1 || *days > device.MaxRetentionDays:
			return nil, usageError{err: fmt.Errorf("--days must be 1 to %d, got %d", device.MaxRetentionDays, *days)}
		}
		return func(d *device.Device, stdout io.Writer) error {
			before, err := d.Summary()
			if err != nil {
				return err
			}
			if err := d.SetRetention(*kind, *days); err != nil {
				return err
			}
			after, err := d.Summary()
			if err != nil {
				return err
			}
			deleted := before.Events - after.Events
			if *asJSON {
				return printJSON(stdout, map[string]any{"kind": *kind, "retention_days": *days, "deleted": deleted})
			}
			fmt.Fprintf(stdout, "%s events are kept %d days; %d older ones deleted\n", *kind, *days, deleted)
			return nil
		}, nil
	}
}

func deviceRecommend() (*flag.FlagSet, func([]string) (deviceWork, error)) {
	fs := newFlagSet("device recommend")
	n := fs.Int("n", 10, fmt.Sprintf("how many items, 1 to %d", device.MaxRecommendations))
	explain := fs.Bool("explain", false, "say which of the person's past events raised each item's score most")
	asJSON := fs.Bool("json", false, "print the recommendations as JSON")
	return fs, func(args []string) (deviceWork, error) {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if *n < 1 || *n > device.MaxRecommendations {
			return nil, usageError{err: fmt.Errorf("--n must be 1 to %d, got %d", device.MaxRecommendations, *n)}
		}
		return func(d *device.Device, stdout io.Writer) error {
			recs, err := d.Recommend(*n, *explain)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(stdout, recs)
			}
			printRecommendations(stdout, recs)
			return nil
		}, nil
	}
}

// named is an item as a person reads it: its title and id, or its id.
func named(id, title string) string {
	if title == "" {
		return id
	}
	return title + " [" + id + "]"
}

func printRecommendations(w io.Writer, recs *device.Recommendations) {
	if recs.Len() == 0 {
		fmt.Fprintf(w, "no recommendations from model version %d\n", recs.ModelVersion)
		return
	}
	fmt.Fprintf(w, "recommended by model version %d, best first, from the person's consented events:\n", recs.ModelVersion)
	for i := range recs.Len() {
		r := recs.Get(i)
		fmt.Fprintf(w, "%3d. %s  score %.3f\n", i+1, named(r.Item, r.Title), r.Score)
		for j := range r.Reasons() {
			c := r.Reason(j)
			fmt.Fprintf(w, "       because you %s %s on %s (%+.2f)\n", device.PastTense(c.Kind), named(c.Item, c.Title), localDate(c.UnixMillis), c.Weight)
		}
	}
}

func deviceForget() (*flag.FlagSet, func([]string) (deviceWork, error)) {
	fs := newFlagSet("device forget")
	all := fs.Bool("all", false, "delete every event")
	kind := fs.String("kind", "", "delete every event of this `kind`")
	before := fs.String("before", "", "delete every event before this `time`")
	asJSON := fs.Bool("json", false, "print the count as JSON")
	return fs, func(args []string) (deviceWork, error) {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		given := 0
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "all" && *all || f.Name == "kind" || f.Name == "before" {
				given++
			}
		})
		if given != 1 {
			return nil, usageError{err: errors.New("give exactly one of --all, --kind and --before"), hint: true}
		}
		var cut time.Time
		if *before != "" {
			var err error
			if cut, err = parseTime(*before); err != nil {
				return nil, usageError{err: fmt.Errorf("--before: %w", err)}
			}
		}
		return func(d *device.Device, stdout io.Writer) error {
			var n int
			var err error
			switch {
			case *all:
				n, err = d.ForgetAll()
			case *before != "":
				n, err = d.ForgetBefore(cut.UnixMilli())
			default:
				n, err = d.ForgetKind(*kind)
			}
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(stdout, map[string]int{"deleted": n})
			}
			fmt.Fprintf(stdout, "deleted %d events for good (in the ledger, with the rounds that had already learnt from them, if any)\n", n)
			return nil
		}, nil
	}
}

func deviceExport() (*flag.FlagSet, func([]string) (deviceWork, error)) {
	fs := newFlagSet("device export")
	fs.Bool("json", false, "accepted, as by every subcommand: the export is always JSON")
	return fs, func(args []string) (deviceWork, error) {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		return func(d *device.Device, stdout io.Writer) error {
			s, err := d.Export()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(stdout, s)
			return err
		}, nil
	}
}

func deviceLedger() (*flag.FlagSet, func([]string) (deviceWork, error)) {
	fs := newFlagSet("device ledger")
	asJSON := fs.Bool("json", false, "print the ledger as JSON")
	return fs, func(args []string) (deviceWork, error) {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		return func(d *device.Device, stdout io.Writer) error {
			l := d.Ledger()
			if *asJSON {
				return printJSON(stdout, l)
			}
			printLedger(stdout, l)
			return nil
		}, nil
	}
}

// epsilon shows an ε, which is unbounded after a round without noise.
func epsilon(e float64) string {
	if math.IsInf(e, 1) || math.IsNaN(e) {
		return "unbounded"
	}
	return strconv.FormatFloat(e, 'g', 4, 64)
}

// textTable is a tabwriter whose lines lose their trailing spaces.
type textTable struct {
	buf strings.Builder
	*tabwriter.Writer
	w io.Writer
}

func newTable(w io.Writer) *textTable {
	t := &textTable{w: w}
	t.Writer = tabwriter.NewWriter(&t.buf, 0, 0, 2, ' ', 0)
	return t
}

func (t *textTable) Flush() {
	t.Writer.Flush()
	for line := range strings.Lines(t.buf.String()) {
		fmt.Fprintln(t.w, strings.TrimRight(line, " \n"))
	}
	t.buf.Reset()
}

func printLedger(w io.Writer, l *device.Ledger) {
	if l.Len() == 0 {
		fmt.Fprintln(w, "the ledger is empty: this device has taken part in no round, and the person has made no choice yet")
		return
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "time\twhat\tround\tmodel\tnoise\tclip\tbytes sent\tε so far\t")
	rounds, declined, sent := 0, 0, 0
	for i := range l.Len() {
		e := l.Get(i)
		sent += e.BytesSent
		switch e.Kind {
		case device.KindRound:
			rounds++
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3g\t%.3g\t%d\t%s\t\n", localTime(e.UnixMillis), e.Kind, e.Round, e.ModelVersion,
				e.NoiseMultiplier, e.ClipNorm, e.BytesSent, epsilon(e.Epsilon))
		case "declined", "unknown":
			if e.Kind == "declined" {
				declined++
			} else {
				rounds++
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t\t\t\t\t%s\t%s\n", localTime(e.UnixMillis), e.Kind, e.Round, epsilon(e.Epsilon), e.Reason)
		default:
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t%s\t%s\n", localTime(e.UnixMillis), e.Kind, epsilon(e.Epsilon), e.Reason)
		}
	}
	tw.Flush()
	budget := "no budget"
	if l.Budget > 0 {
		budget = "budget " + epsilon(l.Budget)
	}
	fmt.Fprintf(w, "\n%d rounds, %d bytes sent, %d declined; ε = %s at δ = %g (%s), each round counted without sampling\n",
		rounds, sent, declined, epsilon(l.Epsilon), l.Delta, budget)
}

func deviceStatus() (*flag.FlagSet, func([]string) (deviceWork, error)) {
	fs := newFlagSet("device status")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	return fs, func(args []string) (deviceWork, error) {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		return func(d *device.Device, stdout io.Writer) error {
			s, err := d.Summary()
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(stdout, s)
			}
			printSummary(stdout, s)
			return nil
		}, nil
	}
}

func printSummary(w io.Writer, s *device.Summary) {
	fmt.Fprintf(w, "events  %d (at most %d; past that the oldest go)\n", s.Events, s.MaxEvents)
	if s.ModelVersion < 0 {
		fmt.Fprintln(w, "model   none yet: take part in a round (tacit agent) or fetch one (fetch-model)")
	} else {
		fmt.Fprintf(w, "model   version %d\n", s.ModelVersion)
	}
	fmt.Fprintln(w)
	tw := newTable(w)
	fmt.Fprintln(tw, "kind\tevents\tconsent\tkept\toldest\tnot in catalogue\t")
	for i := range s.Kinds() {
		k := s.Kind(i)
		consent, oldest := "no", "-"
		if k.Consented {
			consent = "granted"
		}
		if k.Events > 0 {
			oldest = localDate(k.OldestUnixMillis)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%d days\t%s\t%d\t\n", k.Kind, k.Events, consent, k.RetentionDays, oldest, k.Unknown)
	}
	tw.Flush()
}

func deviceFetchModel() (*flag.FlagSet, func([]string) (deviceWork, error)) {
	fs := newFlagSet("device fetch-model")
	var c connectionFlags
	c.bind(fs, false)
	asJSON := fs.Bool("json", false, "print the model version as JSON")
	return fs, func(args []string) (deviceWork, error) {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		conn, err := c.connection()
		if err != nil {
			return nil, err
		}
		return func(d *device.Device, stdout io.Writer) error {
			if err := d.FetchModel(conn); err != nil {
				return err
			}
			s, err := d.Summary()
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(stdout, map[string]int64{"model_version": s.ModelVersion})
			}
			fmt.Fprintf(stdout, "model version %d from %s\n", s.ModelVersion, conn.Address)
			return nil
		}, nil
	}
}
