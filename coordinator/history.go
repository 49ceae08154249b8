package coordinator

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/tacitfl/tacit/internal/jsonl"
)

// Dropped is how many selected devices fell out of the round before its
// end: those at its first stage less those at its last or, for a record
// without stages, Selected less Reports (never below 0).
func (r RoundRecord) Dropped() int {
	if n := len(r.Stages); n > 0 {
		return r.Stages[0].Devices - r.Stages[n-1].Devices
	}
	return max(0, r.Selected-r.Reports)
}

// History keeps the records of finished rounds for later. The Service
// appends each round's record after its checkpoint is saved.
type History interface {
	Append(RoundRecord) error
}

// HistorySuffix names a coordinator's history file: its checkpoint's name
// and this.
const HistorySuffix = ".rounds.jsonl"

// HistoryPath is the history file kept beside the checkpoint at state.
func HistoryPath(state string) string { return state + HistorySuffix }

// MaxRecordBytes bounds one line of a history or of rounds.jsonl: a record
// is a few hundred bytes, so a longer line is damage, refused rather than
// read into memory.
const MaxRecordBytes = 64 << 10

// HistoryFile is a coordinator's history: one RoundRecord a JSON line,
// appended and synced as each round ends, so it survives restarts and
// crashes (a crash mid-append leaves a torn last line, cut off by
// LoadHistory). It is the same format as tacit simulate's rounds.jsonl.
type HistoryFile struct {
	path string
	mu   sync.Mutex
	// broken is set when an append failed and could not be undone: later
	// records would follow a torn line, so none is written.
	broken error
}

// Path is the file's.
func (h *HistoryFile) Path() string { return h.path }

// Append writes r as the file's last line and syncs it. If the write
// fails, the file is cut back to what it held, so that no torn line is
// left before later records; if that fails too, no record is written
// again until a restart repairs the file.
func (h *HistoryFile) Append(r RoundRecord) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.broken != nil {
		return fmt.Errorf("%s is not written since an earlier record was torn: %w", h.path, h.broken)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	var size int64
	if fi, err := os.Stat(h.path); err == nil {
		size = fi.Size()
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := jsonl.Append(h.path, append(b, '\n'), 0o644); err != nil {
		if terr := os.Truncate(h.path, size); terr != nil && !errors.Is(terr, os.ErrNotExist) {
			h.broken = err
		}
		return fmt.Errorf("recording round %d in %s: %w", r.Round, h.path, err)
	}
	return nil
}

// LoadHistory opens the history at path, which a coordinator resumed from
// a checkpoint of round committed appends to, and returns it with its last
// n records, oldest first (a missing file is an empty history). It reads
// only the end of the file, however long the history.
//
// It repairs what a crash or a restart leaves: a torn last line is cut
// off, and so are the records of rounds after committed. Those rounds
// ended after the last checkpoint and so were abandoned (or the checkpoint
// is an older one, restored): the restarted coordinator runs their numbers
// again, and the history holds each round once. A line that is not a
// record before the last, one longer than MaxRecordBytes, or records out
// of order, are damage: an error, and nothing is changed.
func LoadHistory(path string, committed int64, n int, log *slog.Logger) (*HistoryFile, []RoundRecord, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &HistoryFile{path: path}
	n = max(n, 1)
	for last := n; ; last *= 4 {
		recent, res, cut, past, err := readHistoryTail(path, committed, n, last)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return h, nil, nil
		case err != nil:
			return nil, nil, fmt.Errorf("round history %w (move it aside to start a new one)", err)
		case cut >= 0 && res.Start > 0 && len(recent) < n:
			continue // records past the checkpoint hid some of the last n: look further back
		}
		if res.Torn != nil {
			log.Warn("round history: a torn last line, left by a crash mid-write, was cut off", "file", path, "err", res.Torn)
		}
		if cut >= 0 {
			if err := os.Truncate(path, cut); err != nil {
				return nil, nil, fmt.Errorf("round history %s: cutting the rounds after the checkpoint's: %w", path, err)
			}
			log.Warn("round history: the records of rounds after the checkpoint's, which a restart runs again, were cut off", "file", path, "checkpoint_round", committed, "records", past)
		}
		if k := len(recent); k > 0 && recent[k-1].Round < committed {
			log.Info("round history: it ends before the checkpoint's round (a crash between the checkpoint and the record)", "file", path, "history_round", recent[k-1].Round, "checkpoint_round", committed)
		}
		return h, recent, nil
	}
}

// readHistoryTail reads the last lines of the history at path, repairing a
// torn last line, and returns the last n records of rounds up to
// committed, the offset of the first record past it (-1 if none is), and
// how many records are past it.
func readHistoryTail(path string, committed int64, n, lines int) (recent []RoundRecord, res jsonl.Result, cut int64, past int, err error) {
	var prev int64 = -1
	cut = -1
	var off int64 // of the current line, from the first read
	res, err = jsonl.Read(path, jsonl.Options{Last: lines, MaxLine: MaxRecordBytes, Repair: true}, func(line []byte) error {
		r, err := decodeRecord(line, prev)
		if err != nil {
			return err
		}
		prev = r.Round
		if r.Round > committed && cut < 0 {
			cut = off
		}
		if r.Round > committed {
			past++
		}
		if r.Round <= committed {
			if len(recent) == n {
				recent = recent[1:]
			}
			recent = append(recent, r)
		}
		off += int64(len(line)) + 1
		return nil
	})
	if cut >= 0 {
		cut += res.Start
	}
	return recent, res, cut, past, err
}

// decodeRecord parses one line of a history, whose record must come after
// round prev.
func decodeRecord(line []byte, prev int64) (RoundRecord, error) {
	var r RoundRecord
	if err := json.Unmarshal(line, &r); err != nil {
		return r, err
	}
	if r.Round <= prev {
		return r, fmt.Errorf("%w: round %d after round %d, out of order", jsonl.ErrDamaged, r.Round, prev)
	}
	return r, nil
}

// ReadRounds reads every record of a history or of tacit simulate's
// rounds.jsonl, oldest first, changing nothing: a torn last line, which
// may be a write in progress, is skipped and returned as torn. Damage (a
// line that is not a record before the last, one longer than
// MaxRecordBytes, records out of order) is an error wrapping
// jsonl.ErrDamaged.
func ReadRounds(path string) (rounds []RoundRecord, torn error, err error) {
	var prev int64 = -1
	res, err := jsonl.Read(path, jsonl.Options{MaxLine: MaxRecordBytes}, func(line []byte) error {
		r, err := decodeRecord(line, prev)
		if err != nil {
			return err
		}
		prev = r.Round
		rounds = append(rounds, r)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return rounds, res.Torn, nil
}
