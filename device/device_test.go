package device

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tacitfl/tacit/client"
)

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var day0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// open opens a device in a fresh directory with a three-item catalogue.
func open(t *testing.T, o Options) (*Device, *clock) {
	t.Helper()
	dir := t.TempDir()
	c := &clock{t: day0}
	if o.Catalogue == "" {
		o.Catalogue = filepath.Join(dir, "catalogue.txt")
		if err := os.WriteFile(o.Catalogue, []byte("a\nb\nc\nd\ne\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	o.now = c.now
	d, err := Open(filepath.Join(dir, "dev"), &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d, c
}

func at(days float64) int64 {
	return day0.Add(time.Duration(days * 24 * float64(time.Hour))).UnixMilli()
}

func record(t *testing.T, d *Device, kind, item string, ms int64) {
	t.Helper()
	if err := d.Record(&Event{Kind: kind, Item: item, UnixMillis: ms}); err != nil {
		t.Fatal(err)
	}
}

// TestOnlyConsentedKindsAreUsed: a new device uses nothing; consent to a
// kind brings its events into training at once, and withdrawing it takes
// them out at once; both choices are in the ledger and spend nothing.
func TestOnlyConsentedKindsAreUsed(t *testing.T) {
	d, _ := open(t, Options{})
	record(t, d, "view", "a", at(-3))
	record(t, d, "purchase", "b", at(-2))
	record(t, d, "view", "c", at(-1))
	data, err := d.trainingData()
	if err != nil || len(data.Train.Items) != 0 || data.Test != -1 {
		t.Fatalf("without consent: %+v, %v", data, err)
	}
	if err := d.Consent("view", true); err != nil {
		t.Fatal(err)
	}
	data, _ = d.trainingData()
	if !slices.Equal(data.Train.Items, []int32{0}) || data.Test != 2 {
		t.Fatalf("views only: %+v, want train [0] (a) and test 2 (c)", data)
	}
	d.Consent("purchase", true)
	data, _ = d.trainingData()
	if !slices.Equal(data.Train.Items, []int32{0, 1}) || !slices.Equal(data.Train.Ages, []int32{1, 0}) || data.Test != 2 {
		t.Fatalf("views and purchases: %+v", data)
	}
	d.Consent("view", false)
	if data, _ = d.trainingData(); len(data.Train.Items) != 0 {
		t.Fatalf("after withdrawing views, one purchase left: %+v, want nothing to train on", data)
	}
	l := d.Ledger()
	if l.Len() != 3 || l.Get(2).Kind != client.EntryConsent || !strings.Contains(l.Get(2).Reason, "withdrew consent to use view") ||
		l.Get(2).Epsilon != 0 || l.Epsilon != 0 {
		t.Fatalf("ledger: %+v", l.entries)
	}
	if d.Consented("view") || !d.Consented("purchase") {
		t.Fatal("consent not as set")
	}
}

// TestBadInputIsRefused: the store's bounds, each with its typed error.
func TestBadInputIsRefused(t *testing.T) {
	d, _ := open(t, Options{})
	for _, c := range []struct {
		e    Event
		want error
	}{
		{Event{Kind: "View", Item: "a", UnixMillis: at(0)}, ErrBadKind},
		{Event{Kind: "", Item: "a", UnixMillis: at(0)}, ErrBadKind},
		{Event{Kind: strings.Repeat("v", 33), Item: "a", UnixMillis: at(0)}, ErrBadKind},
		{Event{Kind: "view", Item: "", UnixMillis: at(0)}, ErrBadEvent},
		{Event{Kind: "view", Item: strings.Repeat("x", 257), UnixMillis: at(0)}, ErrBadEvent},
		{Event{Kind: "view", Item: "a\nb", UnixMillis: at(0)}, ErrBadEvent},
		{Event{Kind: "view", Item: "\xff", UnixMillis: at(0)}, ErrBadEvent},
		{Event{Kind: "view", Item: "a", UnixMillis: at(0), Weight: math.NaN()}, ErrBadEvent},
		{Event{Kind: "view", Item: "a", UnixMillis: at(0), Weight: -1}, ErrBadEvent},
		{Event{Kind: "view", Item: "a", UnixMillis: at(2)}, ErrBadEvent},
		{Event{Kind: "view", Item: "a", UnixMillis: at(-366)}, ErrExpired},
	} {
		if err := d.Record(&c.e); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.e, err, c.want)
		}
	}
	if err := d.Consent("Bad Kind", true); !errors.Is(err, ErrBadKind) {
		t.Errorf("consent to a bad kind: %v", err)
	}
	if s, _ := d.Summary(); s.Events != 0 {
		t.Fatalf("%d events kept", s.Events)
	}
	if _, err := d.Recommend(0, false); err == nil {
		t.Fatal("recommend 0")
	}
	if _, err := d.Recommend(5, false); !errors.Is(err, errNoModel) {
		t.Fatalf("recommend without a model: %v", err)
	}
}

// TestForgetDeletesFromTheFile: forgotten events are gone from the store's
// file, not only from its index, and the ledger names the rounds the device
// had contributed to.
func TestForgetDeletesFromTheFile(t *testing.T) {
	d, c := open(t, Options{})
	d.ledger.Record(client.LedgerEntry{Time: c.t, Round: 7, ModelVersion: 6, NoiseMultiplier: 1, Delta: 1e-6, Epsilon: 3})
	for i := range 200 {
		record(t, d, "view", "a", at(-float64(i)/100))
	}
	record(t, d, "purchase", "secret-item-4f2a", at(-5))
	record(t, d, "purchase", "b", at(-1))
	raw := func() []byte {
		b, err := os.ReadFile(d.st.path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Contains(raw(), []byte("secret-item-4f2a")) {
		t.Fatal("the item is not in the file to begin with")
	}
	n, err := d.ForgetBefore(at(-4))
	if err != nil || n != 1 {
		t.Fatalf("forget before: %d, %v", n, err)
	}
	if bytes.Contains(raw(), []byte("secret-item-4f2a")) {
		t.Fatal("a forgotten event is still in the store's file")
	}
	if n, err = d.ForgetKind("view"); err != nil || n != 200 {
		t.Fatalf("forget views: %d, %v", n, err)
	}
	if s, _ := d.Summary(); s.Events != 1 {
		t.Fatalf("%d events left, want 1", s.Events)
	}
	if n, err = d.ForgetAll(); err != nil || n != 1 {
		t.Fatalf("forget all: %d, %v", n, err)
	}
	l := d.Ledger()
	last := l.Get(l.Len() - 1)
	if last.Kind != client.EntryForget || !strings.Contains(last.Reason, "deleted all events (1)") ||
		!strings.Contains(last.Reason, "rounds 7, training on model versions 6") || last.Epsilon != l.Epsilon || !(l.Epsilon > 5) {
		t.Fatalf("ledger: %+v", last)
	}
}

// TestRetentionDeletes: an event older than its kind's retention is
// deleted when the device next reads its events, and a shorter retention
// deletes at once.
func TestRetentionDeletes(t *testing.T) {
	d, c := open(t, Options{})
	d.Consent("view", true)
	record(t, d, "view", "a", at(-300))
	record(t, d, "view", "b", at(-10))
	record(t, d, "view", "c", at(-1))
	record(t, d, "click", "c", at(-1))
	c.t = c.t.Add(70 * 24 * time.Hour) // a is now 370 days old
	data, _ := d.trainingData()
	if !slices.Equal(data.Train.Items, []int32{1}) {
		t.Fatalf("after a's retention: %+v", data)
	}
	if err := d.SetRetention("view", 30); err != nil {
		t.Fatal(err)
	}
	s, _ := d.Summary()
	if s.Events != 1 {
		t.Fatalf("%d events after a 30-day view retention, want the click only", s.Events)
	}
	for i := range s.Kinds() {
		if k := s.Kind(i); k.Kind == "view" && (k.RetentionDays != 30 || !k.Consented || k.Events != 0) {
			t.Fatalf("view: %+v", k)
		}
	}
	if err := d.SetRetention("view", 0); err == nil {
		t.Fatal("retention 0")
	}
}

// TestTheStoreIsBounded: past MaxEvents the oldest events go first.
func TestTheStoreIsBounded(t *testing.T) {
	d, _ := open(t, Options{MaxEvents: 3})
	d.Consent("view", true)
	for i, it := range []string{"a", "b", "c", "d", "e"} {
		record(t, d, "view", it, at(float64(i)/10-1))
	}
	data, _ := d.trainingData()
	if !slices.Equal(data.Train.Items, []int32{2, 3}) || data.Test != 4 {
		t.Fatalf("%+v, want the three latest: c, d then e", data)
	}
}

// TestFilesArePrivate: the directory and every file in it are the
// person's alone.
func TestFilesArePrivate(t *testing.T) {
	d, _ := open(t, Options{})
	d.Consent("view", true) // writes the ledger
	record(t, d, "view", "a", at(0))
	d.ForgetAll() // rewrites the store
	fi, _ := os.Stat(d.dir)
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", fi.Mode().Perm())
	}
	for _, f := range []string{storeFile, ledgerFile} {
		fi, err := os.Stat(filepath.Join(d.dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v", f, fi.Mode().Perm(), err)
		}
	}
}

// TestExportHoldsEverything: the export holds every event, the consent,
// the retention set and the ledger.
func TestExportHoldsEverything(t *testing.T) {
	d, _ := open(t, Options{})
	d.Consent("rating", true)
	d.SetRetention("rating", 3650)
	record(t, d, "rating", "not-in-catalogue", at(-1))
	d.Record(&Event{Kind: "rating", Item: "a", UnixMillis: at(-2), Weight: 4.5})
	out, err := d.Export()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"item": "not-in-catalogue"`, `"weight": 4.5`, `"rating": true`, `"rating": 3650`,
		`"granted consent to use rating events"`, `"not_in_catalogue": 1`} {
		if !strings.Contains(out, want) {
			t.Errorf("export lacks %s:\n%s", want, out)
		}
	}
}

func batchOf(events []Event) *Batch { return &Batch{events: events} }

// TestCatalogueTitles: a catalogue line may give its item's title after a
// tab; a bad catalogue is refused with its line.
func TestCatalogueTitles(t *testing.T) {
	p := filepath.Join(t.TempDir(), "cat")
	os.WriteFile(p, []byte("a\tThe A\nb\nc\nd\ne\tThe E\n"), 0o600)
	ids, titles, err := loadCatalogue(p)
	if err != nil || titles["a"] != "The A" || titles["e"] != "The E" || titles["b"] != "" || !slices.Equal(ids, []string{"a", "b", "c", "d", "e"}) {
		t.Fatalf("catalogue %v, titles %v, %v", ids, titles, err)
	}
	for _, bad := range []string{"", "a\na\n", "a\n\tTitle\n", strings.Repeat("x", 300) + "\n"} {
		p := filepath.Join(t.TempDir(), "cat")
		os.WriteFile(p, []byte(bad), 0o600)
		if _, _, err := loadCatalogue(p); err == nil {
			t.Errorf("catalogue %q accepted", bad)
		}
	}
}
