package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"testing"
)

const benchLength = 311_000

// benchRound is a round played for real up to the delivery of the shares,
// with the messages kept so a fresh server can be brought to the same
// point for every iteration.
type benchRound struct {
	cfg        Config
	clients    []*Client
	adverts    []*AdvertiseKeys
	shares     []*ShareKeys
	deliveries []ServerMessage
}

func newBenchRound(b *testing.B, n, k, t, m int) *benchRound {
	b.Helper()
	br := &benchRound{cfg: testConfig(n, k, t, m, benchLength, 1)}
	input := make([]uint32, benchLength) // shared: only the masking benchmark reads it
	for id := range n {
		c, err := NewClient(br.cfg, ClientID(id), seeded(uint64(id), 5))
		if err == nil {
			err = c.SetInput(input)
		}
		if err != nil {
			b.Fatal(err)
		}
		adv, err := c.Start()
		if err != nil {
			b.Fatal(err)
		}
		br.clients = append(br.clients, c)
		br.adverts = append(br.adverts, adv)
	}
	s := br.server(b, false)
	out, err := s.EndPhase()
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range out.Messages {
		reply, err := br.clients[m.Recipient()].Step(m)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Step(reply); err != nil {
			b.Fatal(err)
		}
		br.shares = append(br.shares, reply.(*ShareKeys))
	}
	if out, err = s.EndPhase(); err != nil {
		b.Fatal(err)
	}
	br.deliveries = out.Messages
	return br
}

// server returns a new server that has taken the recorded messages, at the
// start of PhaseAdvertiseKeys or (afterShares) of PhaseMaskedInput.
func (br *benchRound) server(b *testing.B, afterShares bool) *Server {
	b.Helper()
	s, err := NewServer(br.cfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range br.adverts {
		if err := s.Step(m); err != nil {
			b.Fatal(err)
		}
	}
	if !afterShares {
		return s
	}
	if _, err := s.EndPhase(); err != nil {
		b.Fatal(err)
	}
	for _, m := range br.shares {
		if err := s.Step(m); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := s.EndPhase(); err != nil {
		b.Fatal(err)
	}
	return s
}

// unmaskResponses are the responses the clients would send if the clients
// in dropped never sent a masked input, built from the shares they hold
// (without paying for the clients' masking).
func (br *benchRound) unmaskResponses(b *testing.B, dropped map[ClientID]bool) []*UnmaskResponse {
	b.Helper()
	session := br.cfg.sessionID()
	var out []*UnmaskResponse
	for _, m := range br.deliveries {
		d := m.(*SharesDelivery)
		if dropped[d.To] {
			continue
		}
		c := br.clients[d.To]
		r := &UnmaskResponse{From: d.To, Seeds: []RevealedShare{{Owner: d.To, Share: c.ownSeed}}}
		for _, s := range d.Shares {
			seed, key, err := openShares(c.peers[s.From].shareSecret, &session, s.From, d.To, s.Ciphertext)
			if err != nil {
				b.Fatal(err)
			}
			if dropped[s.From] {
				r.Keys = append(r.Keys, RevealedShare{Owner: s.From, Share: key})
			} else {
				r.Seeds = append(r.Seeds, RevealedShare{Owner: s.From, Share: seed})
			}
		}
		out = append(out, r)
	}
	return out
}

// cloneAtMaskedInput copies a client waiting for its shares, so the
// masking can be timed again and again.
func (c *Client) cloneAtMaskedInput() *Client {
	d := *c
	d.peers = make(map[ClientID]*clientPeer, len(c.peers))
	for id, p := range c.peers {
		q := *p
		d.peers[id] = &q
	}
	return &d
}

// BenchmarkClientMask times a client's masked input (d = 311,000, k = 30
// neighbours: k+1 keystreams with its self mask, and opening k shares) at
// several bit widths m, each beside the bare generation of k × d words of
// AES-256-CTR keystream (4k·d bytes, whatever m: the baseline of the
// x-keystream ratio, measured once in the same run).
func BenchmarkClientMask(b *testing.B) {
	const n, k, t = 100, 30, 16
	// keystreamChunkWords is the block the baseline's keystream is
	// generated in (the masking's own chunking is maskChunk).
	const keystreamChunkWords = 2048
	var keystreamNs float64
	b.Run("keystream", func(b *testing.B) {
		b.SetBytes(k * benchLength * 4)
		zeros := make([]byte, 4*keystreamChunkWords)
		buf := make([]byte, 4*keystreamChunkWords)
		var iv [aes.BlockSize]byte
		for b.Loop() {
			for j := range k {
				key := make([]byte, 32)
				key[0] = byte(j)
				block, err := aes.NewCipher(key)
				if err != nil {
					b.Fatal(err)
				}
				s := cipher.NewCTR(block, iv[:])
				for off := 0; off < benchLength; off += keystreamChunkWords {
					w := min(keystreamChunkWords, benchLength-off)
					s.XORKeyStream(buf[:4*w], zeros[:4*w])
				}
			}
		}
		keystreamNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	for _, m := range []int{16, 20, 26, 32} {
		var br *benchRound // set up once, and only if the width is run
		// "mask" runs the kernels this CPU gets, "portable" the pure Go
		// ones (with the same assembly AES: -tags purego would swap both).
		for _, kernels := range []struct {
			name string
			k    [4]func([]uint32, []byte)
		}{{"mask", groupKernels}, {"portable", portableKernels}} {
			b.Run(fmt.Sprintf("%s/m=%d", kernels.name, m), func(b *testing.B) {
				if br == nil {
					br = newBenchRound(b, n, k, t, m)
				}
				defer func(saved [4]func([]uint32, []byte)) { groupKernels = saved }(groupKernels)
				groupKernels = kernels.k
				b.SetBytes(k * benchLength * 4)
				d := br.deliveries[0]
				c := br.clients[d.Recipient()]
				for b.Loop() {
					if _, err := c.cloneAtMaskedInput().Step(d); err != nil {
						b.Fatal(err)
					}
				}
				if keystreamNs > 0 {
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/keystreamNs, "x-keystream")
				}
			})
		}
	}
}

// BenchmarkServerUnmask times the server's side of a round from the first
// masked input to the sum (adding the masked inputs, rebuilding every
// survivor's self-mask seed from t shares, expanding and removing the
// masks), beside plain aggregation of the same vectors mod 2^m. Masked
// inputs are a few reused random vectors: the server's work does not
// depend on their values, and the clients' masking is benchmarked above.
func BenchmarkServerUnmask(b *testing.B) {
	for _, n := range []int{100, 1000} {
		if n == 1000 && testing.Short() {
			b.Log("skipping 1,000 clients in -short mode")
			continue
		}
		k, t, err := FindParams(n, 0.05, 0.05, SemiHonest)
		if err != nil {
			b.Fatal(err)
		}
		const m = 24
		br := newBenchRound(b, n, k, t, m)
		vectors := make([][]uint32, 8)
		rng := seeded(17)
		for i := range vectors {
			vectors[i] = make([]uint32, benchLength)
			for j := range vectors[i] {
				vectors[i][j] = uint32(rng.Uint64()) & br.cfg.modMask()
			}
		}
		var plainNs float64
		b.Run(fmt.Sprintf("n=%d/plain", n), func(b *testing.B) {
			b.SetBytes(int64(n) * benchLength * 4)
			sum := make([]uint32, benchLength)
			for b.Loop() {
				clear(sum)
				for id := range n {
					v := vectors[id%len(vectors)][:len(sum)]
					for i := range sum {
						sum[i] += v[i]
					}
				}
				reduce(sum, br.cfg.modMask())
			}
			plainNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		})
		for _, dropRate := range []int{0, 5} {
			dropped := make(map[ClientID]bool)
			for id := range n * dropRate / 100 {
				dropped[ClientID(id*100/dropRate)] = true
			}
			responses := br.unmaskResponses(b, dropped)
			name := fmt.Sprintf("n=%d/k=%d/t=%d/secagg", n, k, t)
			if dropRate > 0 {
				name += fmt.Sprintf("/%d%%-dropped", dropRate)
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(int64(n) * benchLength * 4)
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					s := br.server(b, true)
					b.StartTimer()
					for id := range ClientID(n) {
						if dropped[id] {
							continue
						}
						if err := s.Step(&MaskedInput{From: id, Vector: vectors[int(id)%len(vectors)]}); err != nil {
							b.Fatal(err)
						}
					}
					if _, err := s.EndPhase(); err != nil {
						b.Fatal(err)
					}
					for _, r := range responses {
						if err := s.Step(r); err != nil {
							b.Fatal(err)
						}
					}
					if out, err := s.EndPhase(); err != nil || len(out.Sum) != benchLength {
						b.Fatal(err)
					}
				}
				if plainNs > 0 {
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/plainNs, "x-plain")
				}
			})
		}
	}
}

// BenchmarkApplyMasks times the mask expansion alone: the k+1 = 31 masks
// of a client (16 added, 15 subtracted) on a vector of d = 311,000, per
// bit width (ns/elem is per element of one mask).
func BenchmarkApplyMasks(b *testing.B) {
	masks := make([]mask, 31)
	for i := range masks {
		masks[i].key[0], masks[i].subtract = byte(i), i%2 == 1
	}
	v := make([]uint32, benchLength)
	for _, m := range []int{8, 16, 20, 24, 26, 32} {
		b.Run(fmt.Sprintf("m=%d", m), func(b *testing.B) {
			b.SetBytes(int64(len(masks)) * benchLength * int64(maskWidth(m)))
			for b.Loop() {
				if err := applyMasks(v, masks, m, 1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(masks)*benchLength), "ns/elem")
		})
	}
}

// BenchmarkRoundModes plays whole rounds (n = 100, d = 1,000, so the key
// phases rather than the masking dominate) in semi-honest mode and in
// malicious-server mode (signed adverts, the consistency phase and the
// views' checks); the ratio of the two is the new phase's cost. Every
// client and the server run on one goroutine.
func BenchmarkRoundModes(b *testing.B) {
	const n, d = 100, 1000
	k, t, err := FindParams(n, 0.05, 0.1, SemiMalicious)
	if err != nil {
		b.Fatal(err)
	}
	cfg := testConfig(n, k, t, 16, d, 3)
	for _, mode := range []string{"semi-honest", "malicious"} {
		b.Run(fmt.Sprintf("n=%d/k=%d/t=%d/%s", n, k, t, mode), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				var r *testRound
				if mode == "malicious" {
					r = newMaliciousRound(b, cfg, 3)
				} else {
					r = newTestRound(b, cfg, 3)
				}
				b.StartTimer()
				if _, err := r.run(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
