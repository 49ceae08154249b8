//go:build cgo

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests call the exported functions as C would, through testhooks.go,
// without building the shared library.

// openDevice opens a device in a fresh directory with a five-item
// catalogue and returns its handle.
func openDevice(t *testing.T) int64 {
	t.Helper()
	dir := t.TempDir()
	cat := filepath.Join(dir, "catalogue.txt")
	if err := os.WriteFile(cat, []byte("a\nb\nc\nd\ne\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var e errSlot
	h := tacit_device_open(cstrFor(t, filepath.Join(dir, "dev")), cstrFor(t, cat), e.ptr())
	if msg := e.take(); h <= 0 || msg != "" {
		t.Fatalf("open: handle %d, error %q", h, msg)
	}
	t.Cleanup(func() { tacit_device_close(h, nil) })
	return int64(h)
}

func decode(t *testing.T, what, js string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(js), v); err != nil {
		t.Fatalf("%s: %v in %q", what, err, js)
	}
}

// TestAPI goes through a device's life as a C caller would, checking
// results and that a failure leaves a message and only a failure does.
func TestAPI(t *testing.T) {
	h := openDevice(t)
	var e errSlot
	ok := func(what string, rc int) {
		t.Helper()
		if msg := e.take(); rc != 0 || msg != "" {
			t.Fatalf("%s: %d, %q; want 0 and no error", what, rc, msg)
		}
	}
	fails := func(what string, rc int, want string) {
		t.Helper()
		if msg := e.take(); rc != -1 || !strings.Contains(msg, want) {
			t.Fatalf("%s: %d, %q; want -1 and an error saying %q", what, rc, msg, want)
		}
	}
	now := time.Now().UnixMilli()
	view, purchase := cstrFor(t, "view"), cstrFor(t, "purchase")
	for i, item := range []string{"a", "b", "c"} {
		ok("record", int(tacit_device_record(c64(h), view, cstrFor(t, item), c64(now-int64(3-i)*3600_000), 0, e.ptr())))
	}
	ok("record", int(tacit_device_record(c64(h), purchase, cstrFor(t, "zz"), c64(now-60_000), 2.5, e.ptr())))
	fails("bad kind", int(tacit_device_record(c64(h), cstrFor(t, "Bad Kind"), cstrFor(t, "a"), c64(now), 1, e.ptr())), "bad kind")
	fails("NULL kind", int(tacit_device_record(c64(h), nil, cstrFor(t, "a"), c64(now), 1, e.ptr())), "bad kind")
	fails("NULL item", int(tacit_device_record(c64(h), view, nil, c64(now), 1, e.ptr())), "bad event")
	fails("negative weight", int(tacit_device_record(c64(h), view, cstrFor(t, "a"), c64(now), -1, e.ptr())), "weight")

	if c := tacit_device_consented(c64(h), view, e.ptr()); c != 0 || e.take() != "" {
		t.Fatalf("consented before consent: %d", c)
	}
	ok("consent", int(tacit_device_consent(c64(h), view, 1, e.ptr())))
	if c := tacit_device_consented(c64(h), view, e.ptr()); c != 1 || e.take() != "" {
		t.Fatalf("consented after consent: %d", c)
	}
	ok("retention", int(tacit_device_set_retention(c64(h), purchase, 30, e.ptr())))
	fails("retention 0", int(tacit_device_set_retention(c64(h), purchase, 0, e.ptr())), "retention")

	var sum struct {
		Events int `json:"events"`
		Kinds  []struct {
			Kind          string `json:"kind"`
			Events        int    `json:"events"`
			Consented     bool   `json:"consented"`
			RetentionDays int    `json:"retention_days"`
			Unknown       int    `json:"not_in_catalogue"`
		} `json:"kinds"`
	}
	decode(t, "summary", take(tacit_device_summary(c64(h), e.ptr())), &sum)
	if sum.Events != 4 || e.take() != "" {
		t.Fatalf("summary: %+v", sum)
	}
	for _, k := range sum.Kinds {
		if k.Kind == "purchase" && (k.Events != 1 || k.Consented || k.RetentionDays != 30 || k.Unknown != 1) ||
			k.Kind == "view" && (k.Events != 3 || !k.Consented) {
			t.Fatalf("summary of %s: %+v", k.Kind, k)
		}
	}

	if js := tacit_device_recommend(c64(h), 5, 1, e.ptr()); js != nil {
		t.Fatalf("recommend without a model: %s", take(js))
	}
	if msg := e.take(); !strings.Contains(msg, "no model yet") {
		t.Fatalf("recommend without a model: error %q", msg)
	}
	if js := tacit_device_recommend(c64(h), 0, 0, e.ptr()); js != nil || !strings.Contains(e.take(), "recommend 1 to") {
		t.Fatal("recommend 0 items did not fail")
	}

	var export struct {
		Events  []json.RawMessage `json:"events"`
		Consent map[string]bool   `json:"consent"`
	}
	decode(t, "export", take(tacit_device_export(c64(h), e.ptr())), &export)
	if len(export.Events) != 4 || !export.Consent["view"] || e.take() != "" {
		t.Fatalf("export: %+v", export)
	}

	if n := tacit_device_forget_kind(c64(h), purchase, e.ptr()); n != 1 || e.take() != "" {
		t.Fatalf("forget purchases: %d", n)
	}
	if n := tacit_device_forget_before(c64(h), c64(now-2*3600_000-1000), e.ptr()); n != 1 || e.take() != "" {
		t.Fatalf("forget before two hours ago: %d, want 1 (a)", n)
	}
	if n := tacit_device_forget_kind(c64(h), cstrFor(t, "No"), e.ptr()); n != -1 || !strings.Contains(e.take(), "bad kind") {
		t.Fatalf("forget a bad kind: %d", n)
	}
	if n := tacit_device_forget_all(c64(h), e.ptr()); n != 2 || e.take() != "" {
		t.Fatalf("forget all: %d, want 2 (b, c)", n)
	}

	var ledger struct {
		Epsilon *float64 `json:"epsilon"`
		Entries []struct {
			Kind   string `json:"kind"`
			Reason string `json:"reason"`
		} `json:"entries"`
	}
	decode(t, "ledger", take(tacit_device_ledger(c64(h), e.ptr())), &ledger)
	var kinds []string
	for _, en := range ledger.Entries {
		kinds = append(kinds, en.Kind)
	}
	if got := strings.Join(kinds, " "); got != "consent forget forget forget" || ledger.Epsilon == nil || *ledger.Epsilon != 0 {
		t.Fatalf("ledger: entries %q, epsilon %v; want consent and three forgets, epsilon 0", got, ledger.Epsilon)
	}

	var st struct {
		Running bool   `json:"running"`
		Waiting string `json:"waiting"`
	}
	decode(t, "status", take(tacit_device_status(c64(h), e.ptr())), &st)
	if st.Running || !strings.Contains(st.Waiting, "charging") {
		t.Fatalf("status of a new device: %+v", st)
	}
	ok("conditions", int(tacit_device_set_conditions(c64(h), 1, 1, 1, e.ptr())))
	decode(t, "status", take(tacit_device_status(c64(h), e.ptr())), &st)
	if st.Waiting != "" {
		t.Fatalf("status with every condition: %+v", st)
	}

	ok("close", int(tacit_device_close(c64(h), e.ptr())))
	fails("close again", int(tacit_device_close(c64(h), e.ptr())), "no open device")
}

// TestBadHandles: every call refuses a handle that was never open, or was
// closed, with an error and the failure result, with or without err.
func TestBadHandles(t *testing.T) {
	closed := openDevice(t)
	if rc := tacit_device_close(c64(closed), nil); rc != 0 {
		t.Fatalf("close: %d", rc)
	}
	kind, s := cstrFor(t, "view"), cstrFor(t, "x")
	pin := cstrFor(t, strings.Repeat("ab", 32))
	for _, h := range []int64{0, -1, closed, closed + 1_000_000} {
		var e errSlot
		calls := map[string]func() int64{
			"close":          func() int64 { return int64(tacit_device_close(c64(h), e.ptr())) },
			"record":         func() int64 { return int64(tacit_device_record(c64(h), kind, s, 0, 1, e.ptr())) },
			"consent":        func() int64 { return int64(tacit_device_consent(c64(h), kind, 1, e.ptr())) },
			"consented":      func() int64 { return int64(tacit_device_consented(c64(h), kind, e.ptr())) },
			"set_retention":  func() int64 { return int64(tacit_device_set_retention(c64(h), kind, 7, e.ptr())) },
			"forget_all":     func() int64 { return int64(tacit_device_forget_all(c64(h), e.ptr())) },
			"forget_kind":    func() int64 { return int64(tacit_device_forget_kind(c64(h), kind, e.ptr())) },
			"forget_before":  func() int64 { return int64(tacit_device_forget_before(c64(h), 0, e.ptr())) },
			"set_conditions": func() int64 { return int64(tacit_device_set_conditions(c64(h), 1, 1, 1, e.ptr())) },
			"join":           func() int64 { return int64(tacit_device_join(c64(h), s, s, pin, nil, e.ptr())) },
			"leave":          func() int64 { return int64(tacit_device_leave(c64(h), e.ptr())) },
			"fetch_model":    func() int64 { return int64(tacit_device_fetch_model(c64(h), s, s, pin, e.ptr())) },
			"recommend":      func() int64 { return nilAsMinus1(tacit_device_recommend(c64(h), 5, 1, e.ptr())) },
			"ledger":         func() int64 { return nilAsMinus1(tacit_device_ledger(c64(h), e.ptr())) },
			"summary":        func() int64 { return nilAsMinus1(tacit_device_summary(c64(h), e.ptr())) },
			"export":         func() int64 { return nilAsMinus1(tacit_device_export(c64(h), e.ptr())) },
			"status":         func() int64 { return nilAsMinus1(tacit_device_status(c64(h), e.ptr())) },
		}
		for name, call := range calls {
			if rc := call(); rc != -1 {
				t.Errorf("%s on handle %d: %d, want -1", name, h, rc)
			}
			if msg := e.take(); !strings.Contains(msg, "no open device with handle") {
				t.Errorf("%s on handle %d: error %q", name, h, msg)
			}
		}
	}
	// err may be NULL.
	if rc := tacit_device_record(c64(closed), kind, s, 0, 1, nil); rc != -1 {
		t.Fatalf("record on a closed handle with err NULL: %d", rc)
	}
	tacit_free(nil)
}

// nilAsMinus1 frees a string result and returns 0, or -1 for NULL.
func nilAsMinus1[P comparable](p P) int64 {
	var zero P
	if p == zero {
		return -1
	}
	takeAny(p)
	return 0
}

// TestOpenFails: open refuses a NULL or empty directory and a missing
// catalogue with 0 and a message; handles are never reused.
func TestOpenFails(t *testing.T) {
	var e errSlot
	dir := t.TempDir()
	for _, c := range []struct {
		name     string
		open     func() int64
		wantText string
	}{
		{"NULL dir", func() int64 { return int64(tacit_device_open(nil, nil, e.ptr())) }, "dir is NULL"},
		{"empty dir", func() int64 { return int64(tacit_device_open(cstrFor(t, ""), nil, e.ptr())) }, "dir is empty"},
		{"missing catalogue", func() int64 {
			return int64(tacit_device_open(cstrFor(t, dir), cstrFor(t, filepath.Join(dir, "none.txt")), e.ptr()))
		}, "catalogue"},
	} {
		if h := c.open(); h != 0 {
			t.Errorf("%s: handle %d, want 0", c.name, h)
		}
		if msg := e.take(); !strings.Contains(msg, c.wantText) {
			t.Errorf("%s: error %q, want one saying %q", c.name, msg, c.wantText)
		}
	}
	a := openDevice(t)
	tacit_device_close(c64(a), nil)
	if b := openDevice(t); b == a {
		t.Fatalf("handle %d reused", a)
	}
}

// TestJoinAndLeave: join checks its arguments; joined, the device runs
// (waiting for its conditions, so it sends nothing) until leave.
func TestJoinAndLeave(t *testing.T) {
	h := openDevice(t)
	var e errSlot
	addr, tok := cstrFor(t, "127.0.0.1:9"), cstrFor(t, "token")
	pin := cstrFor(t, strings.Repeat("ab", 32))
	for _, c := range []struct {
		name string
		call func() int
		want string
	}{
		{"NULL addr", func() int { return int(tacit_device_join(c64(h), nil, tok, pin, nil, e.ptr())) }, "addr is NULL"},
		{"NULL token", func() int { return int(tacit_device_join(c64(h), addr, nil, pin, nil, e.ptr())) }, "token is NULL"},
		{"NULL pin", func() int { return int(tacit_device_join(c64(h), addr, tok, nil, nil, e.ptr())) }, "pin is NULL"},
		{"bad pin", func() int { return int(tacit_device_join(c64(h), addr, tok, cstrFor(t, "beef"), nil, e.ptr())) }, "pin"},
		{"missing key file", func() int {
			return int(tacit_device_join(c64(h), addr, tok, pin, cstrFor(t, filepath.Join(t.TempDir(), "key")), e.ptr()))
		}, "no such file"},
		{"fetch model, bad pin", func() int {
			return int(tacit_device_fetch_model(c64(h), addr, tok, cstrFor(t, "beef"), e.ptr()))
		}, "pin"},
	} {
		rc := c.call()
		if msg := e.take(); rc != -1 || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d, %q; want -1 and an error saying %q", c.name, rc, msg, c.want)
		}
	}
	if rc := tacit_device_join(c64(h), addr, tok, pin, nil, e.ptr()); rc != 0 {
		t.Fatalf("join: %d, %q", rc, e.take())
	}
	if rc := tacit_device_join(c64(h), addr, tok, pin, nil, e.ptr()); rc != -1 || !strings.Contains(e.take(), "already") {
		t.Fatalf("join twice: %d", rc)
	}
	var st struct {
		Running bool `json:"running"`
	}
	decode(t, "status", take(tacit_device_status(c64(h), e.ptr())), &st)
	if !st.Running {
		t.Fatal("not running after join")
	}
	if rc := tacit_device_leave(c64(h), e.ptr()); rc != 0 || e.take() != "" {
		t.Fatalf("leave: %d", rc)
	}
	decode(t, "status", take(tacit_device_status(c64(h), e.ptr())), &st)
	if st.Running {
		t.Fatal("running after leave")
	}
}

// TestCloseWhileInUse: calls racing a close either succeed or fail with a
// message; none crashes. Run it with -race to check the handle table.
func TestCloseWhileInUse(t *testing.T) {
	h := openDevice(t)
	kind := cstrFor(t, "view")
	item := cstrFor(t, "a")
	now := time.Now().UnixMilli()
	var wg, started sync.WaitGroup
	started.Add(4)
	for g := range 4 {
		wg.Go(func() {
			var e errSlot
			for i := range 50 {
				if i == 1 {
					started.Done() // a call made: the close comes while the others run
				}
				rc := tacit_device_record(c64(h), kind, item, c64(now-int64(g*50+i)), 1, e.ptr())
				if msg := e.take(); (rc == 0) != (msg == "") {
					t.Errorf("record: %d with error %q", rc, msg)
				}
				takeAny(tacit_device_summary(c64(h), e.ptr()))
				e.take()
			}
		})
	}
	started.Wait()
	if rc := tacit_device_close(c64(h), nil); rc != 0 {
		t.Errorf("close: %d", rc)
	}
	wg.Wait()
}

// TestPanicBecomesError: a panic inside a call comes back as an error and
// the failure result, not a crash of the C caller.
func TestPanicBecomesError(t *testing.T) {
	var e errSlot
	call := func() (rc int) {
		start(e.ptr())
		defer recovered(e.ptr(), func() { rc = -1 })
		panic("boom")
	}
	if rc := call(); rc != -1 {
		t.Fatalf("rc %d", rc)
	}
	if msg := e.take(); msg != "tacit: internal error: boom" {
		t.Fatalf("error %q", msg)
	}
}
