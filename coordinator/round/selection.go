package round

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
)

// selected reports whether device takes part in round: the first 64 bits of
// HMAC-SHA256(key, round, device), read as a fraction of 2^64, fall below
// q. The keyed hash makes each device's draw independent of the others'
// and of the order they arrive in, and unpredictable to anyone without the
// key (Snapshot.SelectionKey), as amplification by sampling needs.
func selected(key *[32]byte, round int64, device string, q float64) bool {
	if q >= 1 {
		return true
	}
	h := hmac.New(sha256.New, key[:])
	h.Write(binary.BigEndian.AppendUint64(nil, uint64(round)))
	h.Write([]byte(device))
	var sum [sha256.Size]byte
	u := binary.BigEndian.Uint64(h.Sum(sum[:0]))
	return float64(u>>11)/(1<<53) < q
}
