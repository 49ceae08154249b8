package device

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tacitfl/tacit/client"
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

// failing is a coordinator that cannot be reached.
type failing struct{ coordinator }

func (*failing) CheckIn(context.Context, int64) (*client.Plan, time.Duration, error) {
	return nil, 0, errors.New("no route to the coordinator")
}

// TestJoinLoggingReportsFailures: a device that cannot reach its
// coordinator says so in its log, a line at a time; and it checks its
// connection before it starts.
func TestJoinLoggingReportsFailures(t *testing.T) {
	d, _ := open(t, Options{})
	if err := d.JoinLogging(&Connection{Address: "127.0.0.1:9"}, nil, false); err == nil {
		t.Fatal("joined without a token or a pin")
	}
	synctest.Test(t, func(t *testing.T) {
		d, _ := open(t, Options{})
		d.SetConditions(true, true, true)
		record(t, d, "view", "a", at(-2))
		record(t, d, "view", "b", at(-1))
		d.Consent("view", true)
		var l lines
		if err := d.join(&failing{}, nil, nil, agentLog(&l, false)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		d.Leave()
		if !strings.Contains(l.all(), "retrying after a failure") || !strings.Contains(l.all(), "no route to the coordinator") {
			t.Fatalf("no failure logged: %q", l.all())
		}
		for _, line := range strings.Split(l.all(), "\n") {
			if !strings.HasPrefix(line, "time=") {
				t.Errorf("line %q", line)
			}
		}
	})
}
