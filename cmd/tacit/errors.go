package main

import (
	"errors"
	"syscall"
)

// usageError is a problem with what the user asked for (a flag, a value, a
// file, the data): exit status 2.
type usageError struct {
	err  error
	hint bool // point to --help: the problem is in how the command was typed
}

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// interrupted is a run stopped by a signal: exit status 128+signal, as a
// shell reports it.
type interrupted struct{ sig syscall.Signal }

func (e interrupted) Error() string { return "run stopped by signal: " + e.sig.String() }

func exitStatus(err error) int {
	var ue usageError
	var in interrupted
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue):
		return 2
	case errors.As(err, &in):
		return 128 + int(in.sig)
	default:
		return 1
	}
}
