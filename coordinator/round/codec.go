package round

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/codec"
)

// tailWrap is the probability per coordinate that a sum's distributed noise
// leaves the ring: small enough that a wrap is rare in a million values.
const tailWrap = 1e-9

// setupRound chooses the current round's codec and, with SecAgg, its secure
// aggregation over the cohort. An error abandons the round.
func (m *Machine) setupRound() error {
	m.codec, m.sec = nil, nil
	if err := m.setupCodec(); err != nil || m.codec == nil || m.cfg.SecAgg == nil {
		return err
	}
	return m.setupSecAgg()
}

// setupCodec chooses the current round's update codec, if it has one: its
// range from the clip norm, its ring from the cohort and any distributed
// noise, its rotation seed from the round.
func (m *Machine) setupCodec() error {
	k := m.cfg.Codec
	if k == nil {
		return nil
	}
	d := len(m.params)
	u := &codec.UpdateCodec{Bits: k.Bits, Rotate: k.Rotate}
	if k.Rotate {
		u.RotationSeed = m.roundSeed("rotation")
	}
	norm := k.Norm
	if m.cfg.DP != nil {
		norm = m.clip
	}
	length := u.EncodedLen(d)
	u.Range = codecRange(k.Bits, k.Rotate, length, m.expectedReports(), norm)
	n := max(1, len(m.cohort))
	u.ModBits = codec.RequiredModBits(k.Bits, n)
	if m.distributed() {
		mech := m.spend().Distributed
		if err := mech.Check(); err != nil {
			return err
		}
		u.LocalNoise, u.MinSurvivors, u.Colluders = mech.LocalStd, mech.MinSurvivors, mech.Colluders
		for u.ModBits <= codec.MaxModBits {
			q, err := u.Quantizer()
			if err == nil && q.CheckNoise(n, u.LocalNoise, codec.TailBound(tailWrap)) == nil {
				break
			}
			u.ModBits++
		}
	}
	if u.ModBits > codec.MaxModBits {
		return fmt.Errorf("the sum of %d devices' %d-bit values needs a ring of more than %d bits", n, k.Bits, codec.MaxModBits)
	}
	if _, err := u.Quantizer(); err != nil {
		return err
	}
	m.codec = u
	if m.cfg.SecAgg == nil && m.mean.Len() != length {
		m.mean = aggregate.NewMean(length)
	}
	return nil
}

// codecRange is the range c of b-bit values for updates of the given norm
// and (encoded, so already padded) length, averaged over about `expected`
// devices. Rotated, every coordinate is about norm/√length and c is ClipK
// of those; not
// rotated, one coordinate may carry the whole norm, and c = norm clips
// none.
func codecRange(bits int, rotate bool, length int, expected, norm float64) float64 {
	if !rotate {
		return norm
	}
	return codec.RotatedClip(norm, length, codec.ClipK(bits, max(1, int(expected))))
}

// roundSeed is the current round's public randomness for purpose,
// reproducible from Config.Seed: a round rotates alike with or without
// SecAgg.
func (m *Machine) roundSeed(purpose string) [32]byte {
	b := binary.LittleEndian.AppendUint64([]byte("tacit round "+purpose), m.cfg.Seed)
	return sha256.Sum256(binary.LittleEndian.AppendUint64(b, uint64(m.round)))
}
