package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/tacitfl/tacit/dataset"
)

var dataCommand = command{
	summary: "show the embedded data set's licence, or the size of a data set",
	help:    dataHelp,
	run:     runData,
}

func dataHelp(w io.Writer) {
	fmt.Fprint(w, `usage: tacit data license
       tacit data info [--data SPEC]

license  prints the licence and citation of the embedded MovieLens data set
info     prints the number of people, items and interactions of a data set
`)
	printFlags(w, dataInfoFlags(new(string)))
}

func runData(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{err: fmt.Errorf("missing subcommand: license or info"), hint: true}
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		return flag.ErrHelp
	case "license", "licence":
		if len(args) > 1 {
			return usageError{err: fmt.Errorf("unexpected argument %q", args[1]), hint: true}
		}
		fmt.Fprint(stdout, dataset.EmbeddedLicense())
		return nil
	case "info":
		return dataInfo(args[1:], stdout)
	default:
		return usageError{err: fmt.Errorf("unknown subcommand %q: want license or info", args[0]), hint: true}
	}
}

func dataInfoFlags(spec *string) *flag.FlagSet {
	fs := newFlagSet("data info")
	fs.StringVar(spec, "data", "", dataSpecHelp)
	return fs
}

func dataInfo(args []string, stdout io.Writer) error {
	var spec string
	if err := parseFlags(dataInfoFlags(&spec), args); err != nil {
		return err
	}
	data, err := dataset.Open(spec)
	if err != nil {
		return usageError{err: err}
	}
	fmt.Fprintf(stdout, "%s\npeople        %d\nitems         %d\ninteractions  %d\n", data.Name, data.NumUsers, data.NumItems, data.Len())
	return nil
}
