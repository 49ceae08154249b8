package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"strings"

	"github.com/klauspost/compress/zstd"

	"github.com/tacitfl/tacit/dataset"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 3:
		err = compress(os.Args[1], os.Args[2])
	case len(os.Args) == 4 && os.Args[1] == "catalogue":
		err = catalogue(os.Args[2], os.Args[3])
	default:
		fmt.Fprintln(os.Stderr, "usage: mkembed ratings.csv out.zst\n       mkembed catalogue movies.csv out.zst")
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkembed:", err)
		os.Exit(1)
	}
}

func compress(in, out string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	return write(out, raw)
}

func write(out string, raw []byte) error {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		return err
	}
	return os.WriteFile(out, enc.EncodeAll(raw, nil), 0o644)
}

// catalogue writes the embedded data set's items in its order, each with
// its title from movies.csv after a tab: the catalogue a device reads.
func catalogue(movies, out string) error {
	l, err := dataset.Embedded()
	if err != nil {
		return err
	}
	f, err := os.Open(movies)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return err
	}
	titles := map[string]string{}
	for _, row := range rows[1:] {
		titles[row[0]] = row[1]
	}
	var b bytes.Buffer
	for _, id := range l.ItemIDs {
		t := titles[id]
		if t == "" || strings.ContainsAny(t, "\t\r\n") {
			return fmt.Errorf("movie %s: title %q", id, t)
		}
		fmt.Fprintf(&b, "%s\t%s\n", id, t)
	}
	return write(out, b.Bytes())
}
