// Package jsonl keeps append-only logs of JSON lines, one record a line,
// each synced before it counts: a device's privacy ledger, a coordinator's
// round history. A crash mid-append leaves at most a torn last line, which
// Read cuts off; anything else that does not parse is damage, refused.
package jsonl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ErrDamaged is wrapped by Read's errors about a file's content: a line
// that does not parse before the last, or one longer than the limit.
var ErrDamaged = errors.New("damaged")

// Append appends b to the file at path, creating it with perm, and syncs
// it: when Append returns, b is on disk.
func Append(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Options say what Read reads and whether it repairs.
type Options struct {
	// Last, if positive, reads only the file's last Last lines, whatever
	// its size: what Read scans is bounded by Last × MaxLine bytes.
	Last int
	// MaxLine is the longest line accepted, its newline aside; a longer
	// one is damage.
	MaxLine int
	// Repair cuts a torn last line off the file, and gives a whole last
	// line whose newline was lost its newline back, so the next append
	// starts a line of its own. Without it the file is only read, and a
	// torn last line (perhaps a write in progress) is skipped.
	Repair bool
}

// Result is what Read found besides the lines.
type Result struct {
	// Torn is why the last line did not parse, nil if it did: a write a
	// crash cut short, cut off the file when Options.Repair is set.
	Torn error
	// Start is the offset in the file of the first line read: 0 unless
	// Options.Last left lines before it unread.
	Start int64
	// ModTime is the file's modification time, before any repair.
	ModTime time.Time
}

// Read calls decode with each line of the file at path, or its last
// Options.Last, oldest first and without its newline. A line that decode
// refuses is damage if another follows it (an error wrapping ErrDamaged
// that names the line), and a torn write if it is the last (Result.Torn),
// unless decode's error wraps ErrDamaged: a line that parses but is wrong
// is damage wherever it is.
// A missing file is an error wrapping os.ErrNotExist.
func Read(path string, o Options, decode func(line []byte) error) (Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return Result{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Result{}, err
	}
	res := Result{ModTime: fi.ModTime()}
	if o.Last > 0 {
		if res.Start, err = tailStart(f, fi.Size(), o.Last, o.MaxLine); err != nil {
			return res, fmt.Errorf("%s: %w", path, err)
		}
		if _, err := f.Seek(res.Start, io.SeekStart); err != nil {
			return res, err
		}
	}
	// where names a line: by number when reading from the start, else by
	// offset.
	where := func(line int, off int64) string {
		if res.Start == 0 {
			return fmt.Sprintf("%s:%d", path, line)
		}
		return fmt.Sprintf("%s, the line at byte %d", path, off)
	}
	read, good := res.Start, res.Start // bytes read, and up to the end of the last good line
	newline := true                    // the last line read ended with one
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, min(o.MaxLine+1, 4096)), o.MaxLine+1)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		n, tok, err := bufio.ScanLines(data, atEOF)
		if n > 0 {
			read += int64(n)
			newline = data[n-1] == '\n'
		}
		return n, tok, err
	})
	var torn error
	line := 0
	for sc.Scan() {
		line++
		if torn != nil {
			return res, torn // the line that did not parse was not the last
		}
		if err := decode(sc.Bytes()); errors.Is(err, ErrDamaged) {
			return res, fmt.Errorf("%s: %w", where(line, good), err)
		} else if err != nil {
			torn = fmt.Errorf("%s: %w: %w", where(line, good), ErrDamaged, err)
			continue
		}
		good = read
	}
	switch err := sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		return res, fmt.Errorf("%s: %w: a line longer than %d bytes", where(line+1, read), ErrDamaged, o.MaxLine)
	case err != nil:
		return res, err
	}
	res.Torn = torn
	switch {
	case !o.Repair:
	case torn != nil:
		if err := os.Truncate(path, good); err != nil {
			return res, fmt.Errorf("repairing %w: %w", torn, err)
		}
	case !newline:
		if err := Append(path, []byte{'\n'}, fi.Mode().Perm()); err != nil {
			return res, err
		}
	}
	return res, nil
}

// tailStart is the offset of the first of the last n lines of f, which
// holds size bytes: just past the newline before them, or 0. It reads
// backwards in chunks, and gives up, with ErrDamaged, once it has passed
// more bytes than n lines of maxLine bytes take.
func tailStart(f *os.File, size int64, n, maxLine int) (int64, error) {
	const chunk = 64 << 10
	limit := int64(n)*int64(maxLine+1) + 1
	buf := make([]byte, chunk)
	found := 0
	for pos := size; pos > 0; {
		k := min(chunk, pos)
		pos -= k
		if _, err := f.ReadAt(buf[:k], pos); err != nil {
			return 0, err
		}
		for i := k - 1; i >= 0; i-- {
			off := pos + i
			if buf[i] != '\n' || off == size-1 { // a final newline ends the last line
				continue
			}
			if found++; found == n {
				return off + 1, nil
			}
		}
		if size-pos > limit {
			return 0, fmt.Errorf("%w: its last %d lines are not all within %d bytes", ErrDamaged, n, maxLine)
		}
	}
	return 0, nil
}
