package dataset

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Open loads the data set a --data flag names:
//
//	""  or  ml-latest-small               the embedded MovieLens data
//	synthetic:users=N,items=M[,events=E,factors=F,seed=S]   a generated population
//	movielens:PATH  udata:PATH  csv:PATH  a file in that format
//	PATH                                  a file, format by content: the MovieLens
//	                                      header, a u.data name or tab-separated
//	                                      first line, else generic CSV; a directory
//	                                      uses its ratings.csv or u.data
func Open(spec string) (*Log, error) {
	switch {
	case spec == "" || spec == EmbeddedName:
		return Embedded()
	case strings.HasPrefix(spec, "synthetic:"):
		cfg, err := ParseSynthetic(strings.TrimPrefix(spec, "synthetic:"))
		if err != nil {
			return nil, err
		}
		return Synthetic(cfg)
	case strings.HasPrefix(spec, "movielens:"):
		return loadFile(strings.TrimPrefix(spec, "movielens:"), LoadMovieLens)
	case strings.HasPrefix(spec, "udata:"):
		return loadFile(strings.TrimPrefix(spec, "udata:"), LoadUData)
	case strings.HasPrefix(spec, "csv:"):
		return loadFile(strings.TrimPrefix(spec, "csv:"), LoadCSV)
	}
	path := spec
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		for _, name := range []string{"ratings.csv", "u.data"} {
			if _, err := os.Stat(filepath.Join(path, name)); err == nil {
				path = filepath.Join(path, name)
				break
			}
		}
		if path == spec {
			return nil, fmt.Errorf("%s: a directory without ratings.csv or u.data", spec)
		}
	}
	return loadFile(path, detect)
}

type loader func(r io.Reader, name string) (*Log, error)

func loadFile(path string, load loader) (*Log, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	defer f.Close()
	l, err := load(f, filepath.Base(path))
	if err != nil {
		return nil, err
	}
	l.Name = path
	return l, nil
}

// detect picks a loader by the first line.
func detect(r io.Reader, name string) (*Log, error) {
	br := bufio.NewReader(r)
	first, _ := br.Peek(len(MovieLensHeader) + 2)
	firstLine, _, _ := strings.Cut(string(first), "\n")
	firstLine = strings.TrimRight(firstLine, "\r")
	switch {
	case firstLine == MovieLensHeader:
		return LoadMovieLens(br, name)
	case name == "u.data" || strings.Contains(firstLine, "\t"):
		return LoadUData(br, name)
	}
	return LoadCSV(br, name)
}
