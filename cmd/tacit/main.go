package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program but the exit: it returns the exit status.
//
// Status 0 is success (and help), 2 a problem with what was asked (flags,
// values, files, data), 1 a failure that is not the user's, and 128+n a run
// stopped by signal n.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		listCommands(stderr)
		return 2
	}
	name, args := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return runHelp(args, stdout, stderr)
	}
	cmd, ok := commands()[name]
	if !ok {
		return fail(stderr, "tacit", usageError{err: fmt.Errorf("unknown command %q", name)}, "run 'tacit help' for the list of commands")
	}
	err := cmd.run(args, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		cmd.help(stdout)
		return 0
	}
	return fail(stderr, "tacit "+name, err, fmt.Sprintf("run 'tacit %s --help' for usage", name))
}

// runHelp is 'tacit help [command]'.
func runHelp(args []string, stdout, stderr io.Writer) int {
	switch len(args) {
	case 0:
		listCommands(stdout)
		return 0
	case 1:
		if cmd, ok := commands()[args[0]]; ok {
			cmd.help(stdout)
			return 0
		}
		return fail(stderr, "tacit help", usageError{err: fmt.Errorf("unknown command %q", args[0])}, "run 'tacit help' for the list of commands")
	default:
		return fail(stderr, "tacit help", usageError{err: errors.New("give at most one command")}, "")
	}
}

// fail prints err on one line, and hint on a second if err asks for it, and
// returns the exit status err calls for; nil is success.
func fail(stderr io.Writer, prefix string, err error, hint string) int {
	if err == nil {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %s\n", prefix, strings.ReplaceAll(err.Error(), "\n", "; "))
	var ue usageError
	if errors.As(err, &ue) && ue.hint && hint != "" {
		fmt.Fprintln(stderr, hint)
	}
	return exitStatus(err)
}
