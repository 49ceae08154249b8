package jsonl

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// readInts reads a file of JSON numbers.
func readInts(t *testing.T, path string, o Options) ([]int, Result, error) {
	t.Helper()
	var got []int
	res, err := Read(path, o, func(line []byte) error {
		var v int
		if err := json.Unmarshal(line, &v); err != nil {
			return err
		}
		got = append(got, v)
		return nil
	})
	return got, res, err
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAppendThenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	if _, _, err := readInts(t, path, Options{MaxLine: 10}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	for i := range 5 {
		if err := Append(path, fmt.Appendf(nil, "%d\n", i), 0o640); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", st.Mode())
	}
	got, res, err := readInts(t, path, Options{MaxLine: 10})
	if err != nil || res.Torn != nil || res.Start != 0 || !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("%v %+v %v", got, res, err)
	}
}

// TestLastReadsOnlyTheTail: Last lines are read from the end, with or
// without a final newline, and a file of fewer lines is read whole.
func TestLastReadsOnlyTheTail(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	var b strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&b, "%d\n", i)
	}
	write(t, path, b.String())
	got, res, err := readInts(t, path, Options{Last: 3, MaxLine: 10})
	if err != nil || !slices.Equal(got, []int{9997, 9998, 9999}) || res.Start != int64(b.Len()-15) {
		t.Fatalf("%v %+v %v", got, res, err)
	}
	write(t, path, strings.TrimSuffix(b.String(), "\n"))
	if got, _, err = readInts(t, path, Options{Last: 2, MaxLine: 10}); err != nil || !slices.Equal(got, []int{9998, 9999}) {
		t.Fatalf("without a final newline: %v %v", got, err)
	}
	write(t, path, "1\n2\n")
	if got, res, err = readInts(t, path, Options{Last: 50, MaxLine: 10}); err != nil || res.Start != 0 || !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("short file: %v %+v %v", got, res, err)
	}
}

func TestTornLastLineIsCutOffOrSkipped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	write(t, path, "1\n2\n{\"x")
	got, res, err := readInts(t, path, Options{MaxLine: 10})
	if err != nil || res.Torn == nil || !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("read only: %v %+v %v", got, res, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "1\n2\n{\"x" {
		t.Fatalf("a read without Repair changed the file: %q", b)
	}
	got, res, err = readInts(t, path, Options{MaxLine: 10, Repair: true})
	if err != nil || res.Torn == nil || !errors.Is(res.Torn, ErrDamaged) || !slices.Equal(got, []int{1, 2}) {
		t.Fatalf("repair: %v %+v %v", got, res, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "1\n2\n" {
		t.Fatalf("after repair: %q", b)
	}
	// A whole last line that lost its newline gets it back.
	write(t, path, "1\n2")
	if got, res, err = readInts(t, path, Options{MaxLine: 10, Repair: true}); err != nil || res.Torn != nil || len(got) != 2 {
		t.Fatalf("lost newline: %v %+v %v", got, res, err)
	}
	if b, _ := os.ReadFile(path); string(b) != "1\n2\n" {
		t.Fatalf("after restoring the newline: %q", b)
	}
}

func TestDamageIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log.jsonl")
	for name, tc := range map[string]struct {
		content string
		o       Options
		want    string
	}{
		"bad line before the last": {"1\nx\n3\n", Options{MaxLine: 10}, "log.jsonl:2: damaged"},
		"bad line in the tail":     {"1\n2\nx\n4\n", Options{Last: 2, MaxLine: 10}, "the line at byte 4: damaged"},
		"long line":                {"1\n" + strings.Repeat("7", 11) + "\n", Options{MaxLine: 10}, "log.jsonl:2: damaged: a line longer than 10 bytes"},
		"huge without newlines":    {strings.Repeat("7", 1<<20), Options{Last: 5, MaxLine: 10}, "damaged: its last 5 lines are not all within 10 bytes"},
	} {
		write(t, path, tc.content)
		_, _, err := readInts(t, path, tc.o)
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if b, _ := os.ReadFile(path); string(b) != tc.content {
			t.Errorf("%s: a refused file was changed", name)
		}
	}
}
