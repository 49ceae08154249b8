package device

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// crashOps is the child's work: op i (from 1) records batch i of ten
// events, except that every fifth forgets the oldest batch still held.
// batchesAfter is the set of batches held after op n.
func batchesAfter(n int) []int {
	var held []int
	for i := 1; i <= n; i++ {
		if i%5 == 0 {
			held = held[1:]
		} else {
			held = append(held, i)
		}
	}
	return held
}

const crashChild = "TACIT_DEVICE_CRASH_CHILD"

// TestKilledStoreIsWhole: a device killed with SIGKILL while it records and
// forgets (each forget compacts the file) reopens as of a whole operation:
// no batch half there, and none of those it had acknowledged missing.
func TestKilledStoreIsWhole(t *testing.T) {
	if dir := os.Getenv(crashChild); dir != "" {
		crashWorker(dir)
		return
	}
	dir := filepath.Join(t.TempDir(), "dev")
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledStoreIsWhole$")
	cmd.Env = append(os.Environ(), crashChild+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := 0
	sc := bufio.NewScanner(out)
	for acked < 33 && sc.Scan() {
		acked, _ = strconv.Atoi(sc.Text())
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if acked < 33 {
		t.Fatalf("the worker stopped after %d operations", acked)
	}

	d, err := Open(dir, &Options{Catalogue: writeCatalogue(t)})
	if err != nil {
		t.Fatalf("reopening after SIGKILL: %v", err)
	}
	defer d.Close()
	batches := map[int]int{}
	if err := d.st.each(func(e Event) error {
		b, _ := strconv.Atoi(strings.Split(e.Item, "-")[0])
		batches[b]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var held []int
	for b, n := range batches {
		if n != 10 {
			t.Fatalf("batch %d has %d of its 10 events", b, n)
		}
		held = append(held, b)
	}
	slices.Sort(held)
	s, _ := d.Summary()
	if s.Events != 10*len(held) {
		t.Fatalf("the store counts %d events and holds %d", s.Events, 10*len(held))
	}
	for n := acked; n < acked+1000; n++ {
		if slices.Equal(held, batchesAfter(n)) {
			return
		}
	}
	t.Fatalf("held batches %v are the state after no operation from %d on", held, acked)
}

func writeCatalogue(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "catalogue.txt")
	os.WriteFile(p, []byte("a\n"), 0o600)
	return p
}

// crashWorker runs the operations until it is killed, printing each one's
// number once it is committed.
func crashWorker(dir string) {
	cat := filepath.Join(filepath.Dir(dir), "catalogue.txt")
	os.WriteFile(cat, []byte("a\n"), 0o600)
	d, err := Open(dir, &Options{Catalogue: cat})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var held []int
	for i := 1; ; i++ {
		if i%5 == 0 {
			oldest := held[0]
			held = held[1:]
			_, err = d.forget("a batch", func(e Event) bool { return strings.HasPrefix(e.Item, strconv.Itoa(oldest)+"-") })
		} else {
			events := make([]Event, 10)
			for j := range events {
				events[j] = Event{Kind: "view", Item: fmt.Sprintf("%d-%d", i, j), UnixMillis: d.now().UnixMilli() - 1000}
			}
			held = append(held, i)
			_, err = d.RecordBatch(batchOf(events))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println(i)
	}
}
