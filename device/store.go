package device

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tacitfl/tacit/model"
)

// The store is one bbolt file, events.db. Its layout is an on-disk format
// (see doc.go): buckets
//
//	events     key: time (ms since the epoch, sign bit flipped, big-endian) ‖
//	           sequence (big-endian), so a cursor walks events in time order,
//	           ties in the order they were recorded; value: encodeEvent
//	consent    kind → 1 (granted) or 0 (withdrawn)
//	retention  kind → days, big-endian uint32, where the person set one
//	model      "version" → int64; "config" → JSON modelHeader; "params" →
//	           float32s, little-endian
//	meta       "format" → storeFormat; "count" → events held, uint64
var (
	bucketEvents    = []byte("events")
	bucketConsent   = []byte("consent")
	bucketRetention = []byte("retention")
	bucketModel     = []byte("model")
	bucketMeta      = []byte("meta")
	keyFormat       = []byte("format")
	keyCount        = []byte("count")
)

// storeFormat is the layout's version, written when a store is made.
const storeFormat = 1

// store is the device's event store.
type store struct {
	db   *bolt.DB
	path string
}

func openStore(path string) (*store, error) {
	// A compaction the device did not finish: the store is still whole.
	os.Remove(path + ".compact")
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("device: opening %s: %w", path, err)
	}
	// bbolt keeps a file's mode; one made by an older build or by hand
	// must not stay readable by others.
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, err
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEvents, bucketConsent, bucketRetention, bucketModel, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch f := meta.Get(keyFormat); {
		case f == nil:
			return meta.Put(keyFormat, binary.BigEndian.AppendUint32(nil, storeFormat))
		case len(f) != 4 || binary.BigEndian.Uint32(f) != storeFormat:
			return fmt.Errorf("device: %s is not a store of format %d", path, storeFormat)
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &store{db: db, path: path}, nil
}

func (s *store) close() error { return s.db.Close() }

// eventKey orders events by time, then by the order they were recorded.
func eventKey(ms int64, seq uint64) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 16), uint64(ms)^(1<<63))
	return binary.BigEndian.AppendUint64(k, seq)
}

func keyTime(k []byte) int64 { return int64(binary.BigEndian.Uint64(k[:8]) ^ (1 << 63)) }

// encodeEvent is an event's value: the kind's length (one byte) and the
// kind, the item, then the weight as a float32.
func encodeEvent(e Event) []byte {
	b := make([]byte, 0, 1+len(e.Kind)+len(e.Item)+4)
	b = append(append(b, byte(len(e.Kind))), e.Kind...)
	b = append(b, e.Item...)
	return binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(e.Weight)))
}

var errCorrupt = errors.New("device: a damaged event in the store")

func decodeEvent(k, v []byte) (Event, error) {
	if len(k) != 16 || len(v) < 1+4 {
		return Event{}, errCorrupt
	}
	n := 1 + int(v[0]) // the kind's end; 1+v[0] in byte arithmetic wraps at 255
	if n > len(v)-4 {
		return Event{}, errCorrupt
	}
	kind := string(v[1:n])
	item := string(v[n : len(v)-4])
	w := float64(math.Float32frombits(binary.LittleEndian.Uint32(v[len(v)-4:])))
	if checkKind(kind) != nil || item == "" || len(item) > maxItemLen || !(w >= 0 && w <= maxWeight) {
		return Event{}, errCorrupt
	}
	return Event{Kind: kind, Item: item, UnixMillis: keyTime(k), Weight: w}, nil
}

func count(tx *bolt.Tx) uint64 {
	c := tx.Bucket(bucketMeta).Get(keyCount)
	if len(c) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(c)
}

func setCount(tx *bolt.Tx, n uint64) error {
	return tx.Bucket(bucketMeta).Put(keyCount, binary.BigEndian.AppendUint64(nil, n))
}

// add stores events in one transaction, then drops the oldest events
// beyond max; it returns how many it dropped.
func (s *store) add(events []Event, max int) (dropped int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		// Events mostly come in time order, appended at the end of the
		// keys: full pages, rather than bbolt's half-full default, halve
		// the file.
		b.FillPercent = 0.95
		n := count(tx)
		for _, e := range events {
			seq, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := b.Put(eventKey(e.UnixMillis, seq), encodeEvent(e)); err != nil {
				return err
			}
			n++
		}
		c := b.Cursor()
		for k, _ := c.First(); k != nil && n > uint64(max); k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
			n--
			dropped++
		}
		return setCount(tx, n)
	})
	return dropped, err
}

// each calls f with every event in time order.
func (s *store) each(f func(Event) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketEvents).ForEach(func(k, v []byte) error {
			e, err := decodeEvent(k, v)
			if err != nil {
				return err
			}
			return f(e)
		})
	})
}

// deleteWhere deletes the events drop picks, in one transaction, and
// returns how many.
func (s *store) deleteWhere(drop func(Event) bool) (int, error) {
	deleted := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.First(); k != nil; {
			e, err := decodeEvent(k, v)
			if err != nil {
				return err
			}
			if !drop(e) {
				k, v = c.Next()
				continue
			}
			if err := c.Delete(); err != nil {
				return err
			}
			deleted++
			// Delete leaves the cursor between keys: Seek finds the next.
			k, v = c.Seek(k)
		}
		if deleted == 0 {
			return errNothingDeleted // roll back: committing nothing would still sync the file
		}
		return setCount(tx, count(tx)-uint64(deleted))
	})
	if errors.Is(err, errNothingDeleted) {
		return 0, nil
	}
	return deleted, err
}

// errNothingDeleted rolls back a deletion that found nothing to delete.
var errNothingDeleted = errors.New("nothing deleted")

// compact rewrites the store into a fresh file and puts it in the old one's
// place, so deleted events survive in no free page of the file. A crash
// leaves either the old file or the new one whole.
func (s *store) compact() error {
	tmp := s.path + ".compact"
	os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, nil)
	if err != nil {
		return err
	}
	if err := bolt.Compact(dst, s.db, 1<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return fmt.Errorf("device: compacting: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := s.db.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.path); err != nil {
		return err
	}
	if err := syncDir(s.path); err != nil {
		return err
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	s.db = db
	return nil
}

// syncDir makes a rename in path's directory durable.
func syncDir(path string) error {
	d, err := os.Open(dirOf(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// setFlag and flags keep a kind → byte bucket (consent).
func (s *store) setByte(bucket []byte, key string, v byte) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key), []byte{v}) })
}

func (s *store) bytes(bucket []byte) (map[string]byte, error) {
	out := map[string]byte{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			if len(v) == 1 {
				out[string(k)] = v[0]
			}
			return nil
		})
	})
	return out, err
}

func (s *store) setRetention(kind string, days int) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRetention).Put([]byte(kind), binary.BigEndian.AppendUint32(nil, uint32(days)))
	})
}

func (s *store) retentions() (map[string]int, error) {
	out := map[string]int{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRetention).ForEach(func(k, v []byte) error {
			if len(v) == 4 {
				out[string(k)] = int(binary.BigEndian.Uint32(v))
			}
			return nil
		})
	})
	return out, err
}

// modelHeader is a stored model's shape, objective and version.
type modelHeader struct {
	Version int64        `json:"version"`
	Items   int          `json:"items"`
	Config  model.Config `json:"config"`
}

func (s *store) putModel(h modelHeader, params []float32) error {
	hb, err := json.Marshal(h)
	if err != nil {
		return err
	}
	pb := make([]byte, 0, 4*len(params))
	for _, p := range params {
		pb = binary.LittleEndian.AppendUint32(pb, math.Float32bits(p))
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketModel)
		if err := b.Put([]byte("config"), hb); err != nil {
			return err
		}
		return b.Put([]byte("params"), pb)
	})
}

// errNoModel is returned before the device has any model.
var errNoModel = errors.New("device: no model yet: take part in a round or fetch one (fetch-model)")

// modelVersion is the stored model's version, without reading its
// parameters; errNoModel before any.
func (s *store) modelVersion() (int64, error) {
	var h modelHeader
	err := s.db.View(func(tx *bolt.Tx) error {
		hb := tx.Bucket(bucketModel).Get([]byte("config"))
		if hb == nil {
			return errNoModel
		}
		return json.Unmarshal(hb, &h)
	})
	return h.Version, err
}

// model reads the stored model, checking its shape against its size.
func (s *store) model() (*model.MF, modelHeader, error) {
	var h modelHeader
	var m *model.MF
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketModel)
		hb, pb := b.Get([]byte("config")), b.Get([]byte("params"))
		if hb == nil {
			return errNoModel
		}
		if err := json.Unmarshal(hb, &h); err != nil {
			return fmt.Errorf("device: the stored model's header: %w", err)
		}
		if err := h.Config.Validate(); err != nil || h.Items <= 0 || h.Items > maxItems ||
			len(pb) != 4*model.ParamCount(h.Items, h.Config.Factors) {
			return errors.New("device: the stored model is damaged")
		}
		m = &model.MF{Items: h.Items, Factors: h.Config.Factors, Params: make([]float32, len(pb)/4)}
		for i := range m.Params {
			m.Params[i] = math.Float32frombits(binary.LittleEndian.Uint32(pb[4*i:]))
		}
		return nil
	})
	return m, h, err
}

// maxItems bounds the model a device stores, as the agent bounds the one a
// plan may ask it to hold.
const maxItems = 10_000_000
