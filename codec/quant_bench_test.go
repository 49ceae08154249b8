package codec

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// BenchmarkUpdateError measures the codec on a round of n = 100 devices and
// d = 311,000 parameters, each device holding an independent random update
// of L2 norm C = 1 ("dense": Gaussian; "spike": half its norm in one
// coordinate). One op is the whole round: each device rotates (or not),
// quantizes and, as SecAgg would, adds into Z_(2^m); the coordinator decodes
// the sum, unrotates it and divides by n. Reported:
//
//   - rel_err: ‖decoded mean − mean‖ / ‖mean‖ (‖mean‖ ≈ C/√n here, since
//     the updates are independent; correlated real updates make it smaller);
//   - err/C: ‖decoded mean − mean‖ / C;
//   - secagg_B: bytes per update in Z_(2^m), m = RequiredModBits(b, n);
//   - plain_B and zstd_B: bytes per update at b bits without SecAgg, packed
//     and then zstd-compressed (SpeedDefault).
//
// The schemes: "rotated" uses c = RotatedClip(C, d, ClipK(b, n)) on the
// rotated vector; "wide" quantizes unrotated with c = C, the one range that
// clips no update of norm C; "narrow" quantizes unrotated with the rotated
// range's c = k·C/√d, which clips spiky updates.
//
// Run: go test -run X -bench UpdateError -benchtime 1x ./codec/
func BenchmarkUpdateError(b *testing.B) {
	const d, n = 311_000, 100
	zenc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		b.Fatal(err)
	}
	rot, _ := NewRotation(c2spSeed, d)
	for _, kind := range []string{"dense", "spike"} {
		for _, bits := range []int{8, 12, 16} {
			for _, scheme := range []string{"rotated", "wide", "narrow"} {
				b.Run(fmt.Sprintf("%s/b=%d/%s", kind, bits, scheme), func(b *testing.B) {
					k := ClipK(bits, n)
					c := map[string]float64{"rotated": RotatedClip(1, d, k), "wide": 1, "narrow": k / math.Sqrt(d)}[scheme]
					m := RequiredModBits(bits, n)
					q := mustQuantizer(b, bits, c, m)
					var relErr, absErr float64
					var sent, zstdBytes int
					for b.Loop() {
						want := make([]float64, d)
						var sum []uint32
						for dev := range n {
							rng := rand.New(rand.NewPCG(uint64(dev), 23))
							x := randUpdate(rng, d, 1)
							if kind == "spike" {
								for i := range x {
									x[i] *= float32(math.Sqrt(0.5))
								}
								x[rng.IntN(d)] += float32(math.Sqrt(0.5))
							}
							for i, v := range x {
								want[i] += float64(v) / n
							}
							if scheme == "rotated" {
								x, _ = rot.Forward(nil, x)
							}
							enc, err := q.AppendEncode(nil, x, rand.NewChaCha8([32]byte{byte(dev), 1}))
							if err != nil {
								b.Fatal(err)
							}
							if sum == nil {
								sum, sent = enc, len(enc)
								zstdBytes = len(zenc.EncodeAll(AppendPacked(nil, enc, bits), nil))
								continue
							}
							for i, v := range enc {
								sum[i] += v
							}
						}
						for i := range sum {
							sum[i] &= RingMask(m)
						}
						mean, err := q.AppendDecodeSum(nil, sum)
						if err != nil {
							b.Fatal(err)
						}
						if scheme == "rotated" {
							mean, _ = rot.Inverse(mean, mean)
						}
						var se, ss float64
						for i, v := range mean {
							e := float64(v)/n - want[i]
							se += e * e
							ss += want[i] * want[i]
						}
						relErr, absErr = math.Sqrt(se/ss), math.Sqrt(se)
					}
					b.ReportMetric(relErr, "rel_err")
					b.ReportMetric(absErr, "err/C")
					b.ReportMetric(float64(PackedLen(sent, m)), "secagg_B")
					b.ReportMetric(float64(PackedLen(sent, bits)), "plain_B")
					b.ReportMetric(float64(zstdBytes), "zstd_B")
				})
			}
		}
	}
}
