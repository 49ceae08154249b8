package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// newFlagSet is a flag set that prints nothing: run reports its errors on one
// line and prints help to stdout.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// parseFlags parses args into fs, which takes no positional arguments. Asked
// for help, it returns flag.ErrHelp.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return err
	case err != nil:
		return usageError{err: err, hint: true}
	case fs.NArg() > 0:
		return usageError{err: fmt.Errorf("unexpected argument %q", fs.Arg(0)), hint: true}
	}
	return nil
}

// printFlags writes fs's flags, with their defaults, to w.
func printFlags(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, "\nflags (-name and --name both work):\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}
