package secagg

import (
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestFieldArithmetic(t *testing.T) {
	p := big.NewInt(fieldPrime)
	rng := seeded(81)
	values := []uint64{0, 1, 2, fieldPrime - 1, fieldPrime - 2, 1 << 60, 1<<61 - 2}
	for range 2000 {
		values = append(values, rng.Uint64()%fieldPrime)
	}
	for i, a := range values {
		b := values[(i*7+3)%len(values)]
		A, B := new(big.Int).SetUint64(a), new(big.Int).SetUint64(b)
		want := new(big.Int).Mod(new(big.Int).Mul(A, B), p).Uint64()
		if got := fieldMul(a, b); got != want {
			t.Fatalf("%d·%d = %d, want %d", a, b, got, want)
		}
		if got, want := fieldAdd(a, b), new(big.Int).Mod(new(big.Int).Add(A, B), p).Uint64(); got != want {
			t.Fatalf("%d+%d = %d, want %d", a, b, got, want)
		}
		if got, want := fieldSub(a, b), new(big.Int).Mod(new(big.Int).Sub(A, B), p).Uint64(); got != want {
			t.Fatalf("%d−%d = %d, want %d", a, b, got, want)
		}
		if a != 0 && fieldMul(a, fieldInv(a)) != 1 {
			t.Fatalf("%d has no inverse", a)
		}
	}
}

func TestShamirAnyThresholdSubset(t *testing.T) {
	rng := seeded(82)
	for _, c := range []struct{ holders, t int }{{2, 2}, {5, 3}, {9, 9}, {31, 17}, {200, 101}} {
		var secret [SecretSize]byte
		rng.Read(secret[:])
		secret[0] = 0xff // the largest chunks must survive too
		ids := make([]ClientID, c.holders)
		for i := range ids {
			ids[i] = ClientID(rng.Uint64() % MaxClients)
		}
		slices.Sort(ids)
		ids = slices.Compact(ids)
		shares, err := splitSecret(&secret, ids, c.t, rng)
		if err != nil {
			t.Fatal(err)
		}
		held := make([]heldShare, len(ids))
		for i := range ids {
			held[i] = heldShare{ids[i], shares[i]}
		}
		l := make(lagrange)
		shuffler := rand.New(rng)
		for range 20 {
			subset := slices.Clone(held)
			shuffler.Shuffle(len(subset), func(i, j int) { subset[i], subset[j] = subset[j], subset[i] })
			got, err := l.combine(subset[:c.t])
			if err != nil || got != secret {
				t.Fatalf("%d-of-%d: reconstructed %x, %v; want %x", c.t, len(ids), got, err, secret)
			}
			// With one share too few, interpolation gives something else
			// (or fails to decode).
			if got, err := l.combine(subset[:c.t-1]); err == nil && got == secret {
				t.Fatalf("%d-of-%d: %d shares reconstructed the secret", c.t, len(ids), c.t-1)
			}
		}
	}
}

func TestShamirDetectsBadShare(t *testing.T) {
	var secret [SecretSize]byte
	shares, err := splitSecret(&secret, []ClientID{0, 1, 2}, 3, seeded(83))
	if err != nil {
		t.Fatal(err)
	}
	held := []heldShare{{0, shares[0]}, {1, shares[1]}, {2, shares[2]}}
	held[1].share[4]++ // the 4-byte chunk now decodes to far more than 32 bits
	if _, err := make(lagrange).combine(held); err != ErrReconstruction {
		t.Fatalf("corrupted share: %v, want ErrReconstruction", err)
	}
}

// TestDecodeSharesLocatesLiars: with r shares and up to ⌊(r−t)/2⌋ wrong
// ones, wherever they are and however they are chosen, Berlekamp–Welch
// returns the secret and exactly the liars.
func TestDecodeSharesLocatesLiars(t *testing.T) {
	src := seeded(77)
	rng := rand.New(src)
	for trial := range 300 {
		th := 2 + int(rng.Uint64()%6)
		r := th + int(rng.Uint64()%9)
		var secret [SecretSize]byte
		src.Read(secret[:])
		holders := make([]ClientID, r)
		for i := range holders {
			holders[i] = ClientID(3*i + int(rng.Uint64()%3))
		}
		shares, err := splitSecret(&secret, holders, th, src)
		if err != nil {
			t.Fatal(err)
		}
		held := make([]heldShare, r)
		for i := range held {
			held[i] = heldShare{holders[i], shares[i]}
		}
		e := int(rng.Uint64() % uint64((r-th)/2+1))
		var liars []ClientID
		for _, i := range rng.Perm(r)[:e] {
			held[i].share[rng.Uint64()%shareChunks] = rng.Uint64() % fieldPrime
			liars = append(liars, held[i].holder)
		}
		slices.Sort(liars)
		got, bad, ok := decodeShares(held, th)
		if !ok || got != secret || !slices.Equal(bad, liars) {
			t.Fatalf("trial %d (t %d, r %d, e %d): ok %v, secret ok %v, bad %v, liars %v", trial, th, r, e, ok, got == secret, bad, liars)
		}
	}
}
