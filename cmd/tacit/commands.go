package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"text/tabwriter"
)

// command is one subcommand of tacit.
type command struct {
	summary string            // one line for the list of commands
	help    func(w io.Writer) // usage, description and flags
	// run does the work. It returns flag.ErrHelp when asked for help, a
	// usageError for the user's mistakes, and interrupted when a signal
	// stopped it.
	run func(args []string, stdout, stderr io.Writer) error
}

// commands is every subcommand by name.
func commands() map[string]command {
	return map[string]command{
		"simulate":    simulateCommand,
		"central":     centralCommand,
		"data":        dataCommand,
		"coordinator": coordinatorCommand,
		"agent":       agentCommand,
		"device":      deviceCommand,
		"privacy":     privacyCommand,
		"sweep":       sweepCommand,
		"report":      reportCommand,
	}
}

func listCommands(w io.Writer) {
	fmt.Fprint(w, "Tacit: federated on-device learning for recommenders.\n\nusage: tacit <command> [flags]\n\ncommands:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	cmds := commands()
	for _, name := range slices.Sorted(maps.Keys(cmds)) {
		fmt.Fprintf(tw, "  %s\t%s\n", name, cmds[name].summary)
	}
	fmt.Fprintf(tw, "  %s\t%s\n", "help", "list the commands, or show one command's flags: tacit help <command>")
	tw.Flush()
}
