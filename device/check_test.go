package device

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCheckRefusesWhatRecordRefuses: Check finds the same faults as Record
// and keeps nothing.
func TestCheckRefusesWhatRecordRefuses(t *testing.T) {
	d, _ := open(t, Options{})
	for _, c := range []struct {
		e    Event
		want error
	}{
		{Event{Kind: "view", Item: "a", UnixMillis: at(-1)}, nil},
		{Event{Kind: "view", Item: "a", UnixMillis: at(-400)}, nil}, // retention is RecordAll's to skip
		{Event{Kind: "View", Item: "a", UnixMillis: at(0)}, ErrBadKind},
		{Event{Kind: "view", Item: "", UnixMillis: at(0)}, ErrBadEvent},
		{Event{Kind: "view", Item: "a", UnixMillis: at(2)}, ErrBadEvent},
		{Event{Kind: "view", Item: "a", UnixMillis: at(0), Weight: -1}, ErrBadEvent},
	} {
		if err := d.Check(&c.e); !errors.Is(err, c.want) {
			t.Errorf("%+v: %v, want %v", c.e, err, c.want)
		}
	}
	if err := d.Check(nil); !errors.Is(err, ErrBadEvent) {
		t.Errorf("nil: %v", err)
	}
	if s, _ := d.Summary(); s.Events != 0 {
		t.Fatalf("Check kept %d events", s.Events)
	}
}

type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) Log(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l = append(l.l, line)
}

func (l *lines) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.l, "\n")
}

// TestJoinLoggingReportsFailures: a device that cannot reach its
// coordinator says so in its log, a line at a time.
func TestJoinLoggingReportsFailures(t *testing.T) {
	d, _ := open(t, Options{})
	if err := d.JoinLogging(&Connection{Address: "127.0.0.1:9"}, nil, false); err == nil {
		t.Fatal("joined without a token or a pin")
	}
	d.SetConditions(true, true, true)
	record(t, d, "view", "a", at(-2))
	record(t, d, "view", "b", at(-1))
	d.Consent("view", true)
	var l lines
	c := &Connection{Address: "127.0.0.1:9", Token: "t", Pin: strings.Repeat("ab", 32)}
	if err := d.JoinLogging(c, &l, false); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(l.all(), "retrying after a failure") {
		if time.Now().After(deadline) {
			t.Fatalf("no failure logged: %q", l.all())
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.Leave()
	for _, line := range strings.Split(l.all(), "\n") {
		if strings.Contains(line, "\n") || !strings.Contains(line, "level=") {
			t.Errorf("line %q", line)
		}
	}
}
