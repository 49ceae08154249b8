package main

import (
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/tacitfl/tacit/dataset"
)

var dataCommand = command{
	summary: "show the embedded data set's licence or the size of a data set, or write one person's history",
	help:    dataHelp,
	run:     runData,
}

func dataHelp(w io.Writer) {
	fmt.Fprint(w, `usage: tacit data license
       tacit data info [--data SPEC]
       tacit data export-person --person ID [--data SPEC] [--kind rating] [--out FILE]

license        prints the licence and citation of the embedded MovieLens data set
info           prints the number of people, items and interactions of a data set
export-person  writes one person's history as the CSV 'tacit device import'
               reads (item,timestamp,kind, times in RFC 3339), oldest first:
               a device set up from a real person's data, without a network
`)
	printFlags(w, dataInfoFlags(new(string)))
	fmt.Fprint(w, "\nexport-person flags:\n")
	fs, _ := exportPersonFlags()
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func runData(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{err: fmt.Errorf("missing subcommand: license, info or export-person"), hint: true}
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
	case "export-person":
		_, run := exportPersonFlags()
		return run(args[1:], stdout)
	default:
		return usageError{err: fmt.Errorf("unknown subcommand %q: want license, info or export-person", args[0]), hint: true}
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

// exportPersonFlags is 'tacit data export-person': its flags, and the run.
func exportPersonFlags() (*flag.FlagSet, func(args []string, stdout io.Writer) error) {
	fs := newFlagSet("data export-person")
	spec := fs.String("data", "", dataSpecHelp)
	person := fs.String("person", "", "the `id` of the person in --data (required)")
	kind := fs.String("kind", "rating", "the `kind` of event each row is")
	out := fs.String("out", "", "the CSV `file` to write (default: standard output)")
	return fs, func(args []string, stdout io.Writer) error {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if *person == "" {
			return usageError{err: errors.New("--person is required"), hint: true}
		}
		data, err := dataset.Open(*spec)
		if err != nil {
			return usageError{err: err}
		}
		u := slices.Index(data.UserIDs, *person)
		switch {
		case u < 0:
			return usageError{err: fmt.Errorf("no person %q in %s", *person, data.Name)}
		case data.Times(u) == nil:
			return usageError{err: fmt.Errorf("%s has no timestamps", data.Name)}
		}
		w := stdout
		if *out != "" {
			f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return usageError{err: err}
			}
			defer f.Close()
			w = f
		}
		cw := csv.NewWriter(w)
		cw.Write([]string{"item", "timestamp", "kind"})
		times := data.Times(u)
		for i, it := range data.Items(u) {
			cw.Write([]string{data.ItemIDs[it], time.Unix(times[i], 0).UTC().Format(time.RFC3339), *kind})
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		if f, ok := w.(*os.File); ok && *out != "" {
			if err := f.Close(); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote %d %s events of person %s of %s to %s\n", len(times), *kind, *person, data.Name, *out)
		}
		return nil
	}
}
