package device

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/model"
)

// Defaults of a device's store.
const (
	// DefaultMaxEvents bounds the events a store holds; past it the oldest
	// go first.
	DefaultMaxEvents = 100_000
	// DefaultRetentionDays is how long an event of a kind whose retention
	// the person did not set is kept.
	DefaultRetentionDays = 365
	// MaxRetentionDays is the longest retention a person may set: a
	// hundred years, time enough for any history an app imports.
	MaxRetentionDays = 36_500
)

// Bounds on what the store accepts.
const (
	maxItemLen = 256
	maxKindLen = 32
	maxWeight  = 1e6
)

// Errors the device's API returns; each wraps a fuller message.
var (
	ErrBadEvent = errors.New("device: bad event")
	ErrBadKind  = errors.New("device: bad kind")
	ErrExpired  = errors.New("device: the event is older than its kind's retention")
	ErrClosed   = errors.New("device: closed")
)

var kindPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)

// Options configure Open. The zero value, or nil, is the defaults.
type Options struct {
	// MaxEvents bounds the events the store holds (0: DefaultMaxEvents).
	MaxEvents int
	// Catalogue is a file of item ids, one a line (optionally followed by
	// a tab and the item's title), in the order of the model's items: what
	// maps the items the app records to the model's.
	// "": the embedded MovieLens ml-latest-small catalogue, which the
	// coordinator's default model is shaped for.
	Catalogue string

	now func() time.Time // the clock, for tests
}

// Device is a person's device: their events, their consent, the model the
// device last received, and its privacy ledger, in one directory.
// Its methods are safe for concurrent use.
type Device struct {
	dir       string
	maxEvents int
	now       func() time.Time
	catalogue []string
	index     map[string]int32
	titles    map[string]string // item id → title, where the catalogue has one

	mu         sync.Mutex // guards what follows, and the store's handle
	st         *store
	ledger     *client.Ledger
	policy     client.Policy
	conditions client.Conditions
	run        *running    // the agent taking part in rounds, if any
	page       *pageServer // the person's page, while ServePage serves it
	// prepared is the stored model, prepared for recommending, once read;
	// nil again when a new one is stored.
	prepared *model.Prepared
	version  int64 // prepared's
}

// Files in a device's directory.
const (
	storeFile  = "events.db"
	ledgerFile = "ledger.jsonl"
	policyFile = "policy.toml"
)

// Open opens the device kept in dir, making it (mode 0700) if need be. The
// device's privacy policy is dir/policy.toml if there is one, else
// client.DefaultPolicy. Events past their kind's retention are deleted
// for good as it opens.
func Open(dir string, opts *Options) (*Device, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxEvents == 0 {
		o.MaxEvents = DefaultMaxEvents
	}
	if o.MaxEvents < 1 || o.MaxEvents > 100_000_000 {
		return nil, fmt.Errorf("device: max events must be in [1, 1e8], got %d", o.MaxEvents)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("device: %w", err)
	}
	cat, titles, err := loadCatalogue(o.Catalogue)
	if err != nil {
		return nil, err
	}
	policy := client.DefaultPolicy()
	if p := filepath.Join(dir, policyFile); fileExists(p) {
		if policy, err = client.LoadPolicy(p); err != nil {
			return nil, fmt.Errorf("device: %w", err)
		}
	}
	ledger, err := client.OpenLedger(filepath.Join(dir, ledgerFile))
	if err != nil {
		return nil, fmt.Errorf("device: ledger: %w", err)
	}
	st, err := openStore(filepath.Join(dir, storeFile))
	if err != nil {
		return nil, err
	}
	d := &Device{dir: dir, maxEvents: o.MaxEvents, now: o.now, catalogue: cat, index: make(map[string]int32, len(cat)),
		titles: titles, st: st, ledger: ledger, policy: policy}
	for i, id := range cat {
		d.index[id] = int32(i)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.expireLocked(); err != nil {
		st.close()
		return nil, err
	}
	return d, nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func dirOf(path string) string { return filepath.Dir(path) }

// maxCatalogue bounds a catalogue file's items.
const maxCatalogue = maxItems

// loadCatalogue reads the item ids, and titles, of a catalogue file, or
// the embedded data set's if path is "".
func loadCatalogue(path string) ([]string, map[string]string, error) {
	if path == "" {
		b, err := dataset.EmbeddedCatalogue()
		if err != nil {
			return nil, nil, err
		}
		return readCatalogue(bytes.NewReader(b), dataset.EmbeddedName)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("device: catalogue: %w", err)
	}
	defer f.Close()
	return readCatalogue(f, path)
}

// readCatalogue reads a catalogue: one item a line, its id, then
// optionally a tab and its title.
func readCatalogue(r io.Reader, name string) ([]string, map[string]string, error) {
	var ids []string
	titles := map[string]string{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 512), 2*maxItemLen+2)
	for sc.Scan() {
		id, title, _ := strings.Cut(sc.Text(), "\t")
		id, title = strings.TrimSpace(id), strings.TrimSpace(title)
		if id == "" || seen[id] || len(id) > maxItemLen || len(title) > maxItemLen {
			return nil, nil, fmt.Errorf("device: catalogue %s:%d: an empty, repeated or too long item id or title", name, len(ids)+1)
		}
		if len(ids) == maxCatalogue {
			return nil, nil, fmt.Errorf("device: catalogue %s holds more than %d items", name, maxCatalogue)
		}
		seen[id] = true
		ids = append(ids, id)
		if title != "" {
			titles[id] = title
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("device: catalogue %s: %w", name, err)
	}
	if len(ids) == 0 {
		return nil, nil, fmt.Errorf("device: catalogue %s is empty", name)
	}
	return ids, titles, nil
}

// Close stops the device taking part in rounds and serving its page, and
// closes its store.
func (d *Device) Close() error {
	d.Leave()
	d.StopPage()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st == nil {
		return nil
	}
	err := d.st.close()
	d.st = nil
	return err
}

// Event is one thing the person did: Kind (such as view, click, purchase,
// rating) on Item at UnixMillis (milliseconds since 1970, UTC), with an
// optional Weight (0: 1).
type Event struct {
	Kind       string  `json:"kind"`
	Item       string  `json:"item"`
	UnixMillis int64   `json:"time_unix_ms"`
	Weight     float64 `json:"weight"`
}

func checkKind(kind string) error {
	if len(kind) > maxKindLen || !kindPattern.MatchString(kind) {
		return fmt.Errorf("%w %q: want lower-case letters, digits, - and _, starting with a letter, at most %d bytes", ErrBadKind, kind, maxKindLen)
	}
	return nil
}

// check refuses an event the store would not keep.
func (d *Device) check(e *Event) error {
	if err := checkKind(e.Kind); err != nil {
		return err
	}
	switch {
	case e.Item == "" || len(e.Item) > maxItemLen || !utf8.ValidString(e.Item) || strings.ContainsAny(e.Item, "\n\r"):
		return fmt.Errorf("%w: item must be 1 to %d bytes of text on one line", ErrBadEvent, maxItemLen)
	case math.IsNaN(e.Weight) || e.Weight < 0 || e.Weight > maxWeight:
		return fmt.Errorf("%w: weight must be in [0, %g], got %v", ErrBadEvent, float64(maxWeight), e.Weight)
	case e.UnixMillis > d.now().Add(24*time.Hour).UnixMilli():
		return fmt.Errorf("%w: the time %s is in the future", ErrBadEvent, time.UnixMilli(e.UnixMillis).UTC().Format(time.RFC3339))
	}
	if e.Weight == 0 {
		e.Weight = 1
	}
	return nil
}

// Record keeps one event. An event older than its kind's retention is
// refused (ErrExpired): it would be deleted at once.
func (d *Device) Record(e *Event) error {
	if e == nil {
		return fmt.Errorf("%w: nil", ErrBadEvent)
	}
	days, expired, err := d.record([]Event{*e})
	if err == nil && expired == 1 {
		err = fmt.Errorf("%w (%d days for %s)", ErrExpired, days, e.Kind)
	}
	return err
}

// Batch is events to record at once (RecordBatch): a history an app
// imports.
type Batch struct{ events []Event }

// NewBatch returns an empty batch.
func NewBatch() *Batch { return &Batch{} }

// Add adds a copy of e to the batch.
func (b *Batch) Add(e *Event) {
	if e != nil {
		b.events = append(b.events, *e)
	}
}

// Len is how many events the batch holds.
func (b *Batch) Len() int { return len(b.events) }

// RecordBatch keeps b's events in one transaction, all or none, skipping
// those older than their kind's retention; it returns how many it skipped.
// A bad event refuses the whole batch, naming the event by its place.
func (d *Device) RecordBatch(b *Batch) (expired int, err error) {
	if b == nil {
		return 0, fmt.Errorf("%w: nil batch", ErrBadEvent)
	}
	_, expired, err = d.record(b.events)
	return expired, err
}

// record keeps events in one transaction, skipping those past their kind's
// retention; it returns how many it skipped and, for the last it skipped,
// its kind's retention in days.
func (d *Device) record(events []Event) (days, expired int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st == nil {
		return 0, 0, ErrClosed
	}
	ret, err := d.st.retentions()
	if err != nil {
		return 0, 0, err
	}
	keep := make([]Event, 0, len(events))
	for i := range events {
		e := events[i]
		if err := d.check(&e); err != nil {
			if len(events) > 1 {
				err = fmt.Errorf("event %d: %w", i+1, err)
			}
			return 0, 0, err
		}
		if e.UnixMillis < d.cutoff(ret, e.Kind) {
			expired, days = expired+1, retentionDays(ret, e.Kind)
			continue
		}
		keep = append(keep, e)
	}
	if _, err := d.st.add(keep, d.maxEvents); err != nil {
		return 0, 0, err
	}
	return days, expired, nil
}

func retentionDays(ret map[string]int, kind string) int {
	if days, ok := ret[kind]; ok {
		return days
	}
	return DefaultRetentionDays
}

// cutoff is the time, in ms, before which an event of kind has expired.
func (d *Device) cutoff(ret map[string]int, kind string) int64 {
	return d.now().Add(-time.Duration(retentionDays(ret, kind)) * 24 * time.Hour).UnixMilli()
}

// expireLocked deletes the events past their kind's retention, for good.
func (d *Device) expireLocked() (int, error) {
	ret, err := d.st.retentions()
	if err != nil {
		return 0, err
	}
	return d.deleteLocked(func(e Event) bool { return e.UnixMillis < d.cutoff(ret, e.Kind) })
}

// deleteLocked deletes the events drop picks and, if there were any,
// compacts the store so that they are gone from the file too.
func (d *Device) deleteLocked(drop func(Event) bool) (int, error) {
	n, err := d.st.deleteWhere(drop)
	if err != nil || n == 0 {
		return n, err
	}
	return n, d.st.compact()
}

// SetRetention sets how many days events of kind are kept, from 1 to
// MaxRetentionDays, and deletes at once those it makes expire.
func (d *Device) SetRetention(kind string, days int) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	if days < 1 || days > MaxRetentionDays {
		return fmt.Errorf("device: retention must be 1 to %d days, got %d", MaxRetentionDays, days)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st == nil {
		return ErrClosed
	}
	if err := d.st.setRetention(kind, days); err != nil {
		return err
	}
	_, err := d.expireLocked()
	return err
}

// Consent grants or withdraws the person's consent to use events of kind
// for training and recommendations, at once, and records the choice in the
// ledger. Nothing is used without consent: a new device has none.
func (d *Device) Consent(kind string, grant bool) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st == nil {
		return ErrClosed
	}
	v, what := byte(0), "withdrew consent to use "+kind+" events"
	if grant {
		v, what = 1, "granted consent to use "+kind+" events"
	}
	if err := d.st.setByte(bucketConsent, kind, v); err != nil {
		return err
	}
	return d.ledger.Note(client.EntryConsent, what, d.policy.Delta, d.now())
}

// Consented says whether the person consents to the use of kind's events.
func (d *Device) Consented(kind string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.consentsLocked()
	return err == nil && c[kind]
}

func (d *Device) consentsLocked() (map[string]bool, error) {
	if d.st == nil {
		return nil, ErrClosed
	}
	b, err := d.st.bytes(bucketConsent)
	out := make(map[string]bool, len(b))
	for k, v := range b {
		out[k] = v == 1
	}
	return out, err
}

// ForgetAll deletes every event, for good; it returns how many.
func (d *Device) ForgetAll() (int, error) {
	return d.forget("all events", func(Event) bool { return true })
}

// ForgetKind deletes every event of kind, for good; it returns how many.
func (d *Device) ForgetKind(kind string) (int, error) {
	if err := checkKind(kind); err != nil {
		return 0, err
	}
	return d.forget("every "+kind+" event", func(e Event) bool { return e.Kind == kind })
}

// ForgetBefore deletes every event before unixMillis, for good; it returns
// how many.
func (d *Device) ForgetBefore(unixMillis int64) (int, error) {
	return d.forget("every event before "+time.UnixMilli(unixMillis).UTC().Format(time.RFC3339),
		func(e Event) bool { return e.UnixMillis < unixMillis })
}

// forget deletes the events drop picks and compacts the store, then
// records in the ledger what was deleted and which rounds and model
// versions the device had contributed to: those hold what the events
// taught them, and deleting the events cannot reach back into them.
func (d *Device) forget(what string, drop func(Event) bool) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st == nil {
		return 0, ErrClosed
	}
	n, err := d.deleteLocked(drop)
	if err != nil {
		return n, err
	}
	rounds, versions := d.ledger.Contributed()
	note := fmt.Sprintf("deleted %s (%d)", what, n)
	if len(rounds) > 0 {
		note += fmt.Sprintf("; before this the device had contributed to rounds %s, training on model versions %s",
			joinInts(rounds), joinInts(uniqueSorted(versions)))
	}
	return n, d.ledger.Note(client.EntryForget, note, d.policy.Delta, d.now())
}

func uniqueSorted(xs []int64) []int64 {
	out := append([]int64(nil), xs...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	w := 0
	for i, x := range out {
		if i == 0 || x != out[w-1] {
			out[w] = x
			w++
		}
	}
	return out[:w]
}

func joinInts(xs []int64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

// history is the person's events that may be used: of consented kinds,
// within retention, in time order, with the model's index of each item
// (-1 for an item the catalogue lacks).
type history struct {
	events []Event
	items  []int32
}

func (d *Device) historyLocked() (history, error) {
	var h history
	if d.st == nil {
		return h, ErrClosed
	}
	consents, err := d.consentsLocked()
	if err != nil {
		return h, err
	}
	ret, err := d.st.retentions()
	if err != nil {
		return h, err
	}
	cutoffs := map[string]int64{}
	expired := false
	err = d.st.each(func(e Event) error {
		cut, ok := cutoffs[e.Kind]
		if !ok {
			cut = d.cutoff(ret, e.Kind)
			cutoffs[e.Kind] = cut
		}
		if e.UnixMillis < cut {
			expired = true // deleted below, and not used meanwhile
			return nil
		}
		if consents[e.Kind] {
			idx, ok := d.index[e.Item]
			if !ok {
				idx = -1
			}
			h.events, h.items = append(h.events, e), append(h.items, idx)
		}
		return nil
	})
	if err == nil && expired {
		_, err = d.expireLocked()
	}
	return h, err
}

// known is the history's items the model knows, in time order.
func (h history) known() []int32 {
	out := make([]int32, 0, len(h.items))
	for _, it := range h.items {
		if it >= 0 {
			out = append(out, it)
		}
	}
	return out
}

// trainingData is what the agent trains on: the person's usable history,
// its latest item held out for federated evaluation as in the simulator
// (dataset.LeaveLastOut), the rest as positives.
func (d *Device) trainingData() (client.Data, error) {
	d.mu.Lock()
	h, err := d.historyLocked()
	d.mu.Unlock()
	if err != nil {
		return client.Data{Test: -1}, err
	}
	seq := h.known()
	if len(seq) < 2 {
		return client.Data{Test: -1}, nil
	}
	items, ages := dataset.Positives(seq[:len(seq)-1])
	return client.Data{Train: model.Positives{Items: items, Ages: ages}, Test: seq[len(seq)-1]}, nil
}
