package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// withSignals returns a context cancelled, with an interrupted cause, by the
// first SIGINT or SIGTERM. That first signal also restores the default
// handling, so a second one ends the process at once, for a run that cannot
// stop between steps. stop releases the signals.
func withSignals(parent context.Context) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			signal.Stop(sigs)
			cancel(interrupted{sig: sig.(syscall.Signal)})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}
