package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesWholeOrNotAtAll(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state")
	if err := Write(path, func(w io.Writer) error { _, err := w.Write([]byte("one")); return err }); err != nil {
		t.Fatal(err)
	}
	failed := errors.New("crash mid-write")
	err := Write(path, func(w io.Writer) error {
		w.Write([]byte("tw"))
		return failed
	})
	if !errors.Is(err, failed) {
		t.Fatalf("error %v, want the writer's", err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "one" {
		t.Fatalf("content %q after a failed write, want the old %q", got, "one")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("%d files left in the directory, want 1 (no temporaries)", len(entries))
	}
}
