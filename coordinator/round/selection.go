package round

import (
	"crypto/sha256"
	"encoding/binary"
)

// selected reports whether device takes part in round: the first 64 bits of
// SHA-256(seed, round, device), read as a fraction of 2^64, fall below q.
// The hash makes each device's draw independent of the others' and of the
// order they arrive in.
func selected(seed uint64, round int64, device string, q float64) bool {
	if q >= 1 {
		return true
	}
	var buf [16]byte
	binary.BigEndian.PutUint64(buf[:8], seed)
	binary.BigEndian.PutUint64(buf[8:], uint64(round))
	h := sha256.New()
	h.Write(buf[:])
	h.Write([]byte(device))
	var sum [sha256.Size]byte
	u := binary.BigEndian.Uint64(h.Sum(sum[:0]))
	return float64(u>>11)/(1<<53) < q
}
