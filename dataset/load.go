package dataset

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// ParseError is a malformed input row: it names the file and the line.
type ParseError struct {
	File string
	Line int
	Err  error
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err) }
func (e *ParseError) Unwrap() error { return e.Err }

// MaxLineBytes bounds one input line, so a hostile file cannot make a
// loader allocate without limit.
const MaxLineBytes = 64 << 10

// MovieLensHeader is the first line of a MovieLens ratings.csv.
const MovieLensHeader = "userId,movieId,rating,timestamp"

// LoadMovieLens reads a MovieLens ratings.csv (userId,movieId,rating,
// timestamp with that header). The rating becomes the weight.
func LoadMovieLens(r io.Reader, name string) (*Log, error) {
	return load(r, name, ',', func(line int, f []string, b *builder) error {
		if line == 1 {
			if strings.Join(f, ",") != MovieLensHeader {
				return fmt.Errorf("header is %q, want %q", strings.Join(f, ","), MovieLensHeader)
			}
			return nil
		}
		return addRow(b, f, 4, 3, 2, "rating")
	})
}

// LoadUData reads a MovieLens 100K u.data: tab-separated user, item, rating,
// timestamp, no header. The rating becomes the weight.
func LoadUData(r io.Reader, name string) (*Log, error) {
	return load(r, name, '\t', func(_ int, f []string, b *builder) error {
		return addRow(b, f, 4, 3, 2, "rating")
	})
}

// LoadCSV reads a generic user,item,timestamp[,weight] CSV. Ids are any
// non-empty strings, the timestamp an integer, the weight (default 1) a
// non-negative number. A first line whose timestamp field is not an integer
// is taken as a header.
func LoadCSV(r io.Reader, name string) (*Log, error) {
	return load(r, name, ',', func(line int, f []string, b *builder) error {
		if line == 1 && len(f) >= 3 {
			if _, err := strconv.ParseInt(f[2], 10, 64); err != nil {
				return nil // header
			}
		}
		switch len(f) {
		case 3:
			return addRow(b, f, 3, 2, -1, "")
		case 4:
			return addRow(b, f, 4, 2, 3, "weight")
		}
		return fmt.Errorf("has %d fields, want 3 or 4 (user,item,timestamp[,weight])", len(f))
	})
}

// load runs row over every non-empty line split at sep, wrapping errors with
// the file name and line number.
func load(r io.Reader, name string, sep byte, row func(line int, fields []string, b *builder) error) (*Log, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLineBytes)
	b := newBuilder(name)
	line := 0
	var fields []string
	for sc.Scan() {
		line++
		text := bytes.TrimRight(sc.Bytes(), "\r")
		if len(text) == 0 {
			continue
		}
		fields = splitFields(fields[:0], string(text), sep)
		if err := row(line, fields, b); err != nil {
			return nil, &ParseError{File: name, Line: line, Err: err}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &ParseError{File: name, Line: line + 1, Err: fmt.Errorf("line longer than %d bytes", MaxLineBytes)}
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return b.log()
}

func splitFields(dst []string, s string, sep byte) []string {
	for {
		i := strings.IndexByte(s, sep)
		if i < 0 {
			return append(dst, s)
		}
		dst = append(dst, s[:i])
		s = s[i+1:]
	}
}

// addRow adds fields[0] as the user, fields[1] as the item, fields[timeAt] as
// the timestamp and fields[weightAt] (if ≥ 0, called weightName) as the
// weight.
func addRow(b *builder, f []string, want, timeAt, weightAt int, weightName string) error {
	if len(f) != want {
		return fmt.Errorf("has %d fields, want %d", len(f), want)
	}
	if f[0] == "" {
		return errors.New("user id is empty")
	}
	if f[1] == "" {
		return errors.New("item id is empty")
	}
	t, err := strconv.ParseInt(f[timeAt], 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %q is not an integer", f[timeAt])
	}
	w := float32(1)
	if weightAt >= 0 {
		x, err := strconv.ParseFloat(f[weightAt], 32)
		if err != nil {
			return fmt.Errorf("%s %q is not a number", weightName, f[weightAt])
		}
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return fmt.Errorf("%s %q is not a finite non-negative number", weightName, f[weightAt])
		}
		w = float32(x)
	}
	return b.add(f[0], f[1], t, w)
}
