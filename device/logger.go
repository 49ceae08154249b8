package device

import (
	"log/slog"
	"strings"
)

// Logger receives the log of the device's agent, a line at a time: how an
// app, or `tacit agent`, learns why the device does not get through to
// its coordinator (a wrong pin, a revoked token) or declines a round.
type Logger interface {
	Log(line string)
}

// JoinLogging is Join with the agent's log sent to l: its failures and
// the rounds it declines, and with debug also each check-in it skips and
// each report it sends.
func (d *Device) JoinLogging(c *Connection, l Logger, debug bool) error {
	q, key, authority, err := d.dial(c)
	if err != nil {
		return err
	}
	return d.join(q, key, authority, agentLog(l, debug))
}

// agentLog is the agent's log, sent to l; nil without l.
func agentLog(l Logger, debug bool) *slog.Logger {
	if l == nil {
		return nil
	}
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(lineWriter{l}, &slog.HandlerOptions{Level: level}))
}

// lineWriter hands a text handler's records, one a Write, to a Logger.
type lineWriter struct{ l Logger }

func (w lineWriter) Write(p []byte) (int, error) {
	w.l.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}
