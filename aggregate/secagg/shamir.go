package secagg

import (
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math/bits"
	"slices"
)

// Shamir sharing works over GF(p) with the Mersenne prime p = 2^61 − 1:
// products of two elements fit bits.Mul64 and reduce with a shift and an
// add, and a 7-byte chunk (< 2^56) is always a field element, so a 32-byte
// secret becomes shareChunks independent sub-secrets with no rejection and
// a canonical encoding. (FCP's 2^31+11 would need 9 chunks of 31 bits.)
// Share x-coordinates are holder id + 1: distinct, non-zero, below p.
const (
	fieldPrime  = 1<<61 - 1
	chunkBytes  = 7
	shareChunks = (SecretSize + chunkBytes - 1) / chunkBytes
)

// SecretSize is the size of every shared secret: a self-mask seed or an
// X25519 private key.
const SecretSize = 32

// Share is one holder's Shamir share of a 32-byte secret: the sharing
// polynomial of each 7-byte chunk evaluated at x = holder id + 1, each a
// field element below 2^61 − 1.
type Share [shareChunks]uint64

func fieldAdd(a, b uint64) uint64 {
	s := a + b
	if s >= fieldPrime {
		s -= fieldPrime
	}
	return s
}

func fieldSub(a, b uint64) uint64 {
	if a >= b {
		return a - b
	}
	return a + fieldPrime - b
}

// fieldMul needs a, b < p; then the product is below 2^122 and its high
// part (product >> 61) below p, so one conditional subtraction suffices.
func fieldMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	r := lo&fieldPrime + (lo>>61 | hi<<3)
	if r >= fieldPrime {
		r -= fieldPrime
	}
	return r
}

// fieldInv is a^(p−2), the inverse of a non-zero a.
func fieldInv(a uint64) uint64 {
	r, e := uint64(1), uint64(fieldPrime-2)
	for ; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = fieldMul(r, a)
		}
		a = fieldMul(a, a)
	}
	return r
}

func shareX(holder ClientID) uint64 { return uint64(holder) + 1 }

// secretChunks splits a secret into big-endian 7-byte chunks (the last one
// holds the remaining 4 bytes).
func secretChunks(secret *[SecretSize]byte) [shareChunks]uint64 {
	var c [shareChunks]uint64
	for i := range c {
		for _, b := range secret[i*chunkBytes : min((i+1)*chunkBytes, SecretSize)] {
			c[i] = c[i]<<8 | uint64(b)
		}
	}
	return c
}

// splitSecret gives each holder its share of secret; any t of them
// reconstruct it and fewer reveal nothing. Coefficients come from rand.
func splitSecret(secret *[SecretSize]byte, holders []ClientID, t int, rand io.Reader) ([]Share, error) {
	coeffs := make([]uint64, shareChunks*(t-1))
	if err := randomFieldElements(coeffs, rand); err != nil {
		return nil, err
	}
	free := secretChunks(secret)
	shares := make([]Share, len(holders))
	for h, id := range holders {
		x := shareX(id)
		for c := range shareChunks {
			poly := coeffs[c*(t-1) : (c+1)*(t-1)]
			y := uint64(0)
			for j := len(poly) - 1; j >= 0; j-- {
				y = fieldAdd(fieldMul(y, x), poly[j])
			}
			shares[h][c] = fieldAdd(fieldMul(y, x), free[c])
		}
	}
	return shares, nil
}

// randomFieldElements fills dst with uniform elements of GF(p): 61 random
// bits, rejecting the single value p.
func randomFieldElements(dst []uint64, rand io.Reader) error {
	var buf [8 * 64]byte
	for len(dst) > 0 {
		n := min(len(dst), len(buf)/8)
		if _, err := io.ReadFull(rand, buf[:8*n]); err != nil {
			return fmt.Errorf("secagg: reading randomness: %w", err)
		}
		for i := range n {
			if v := binary.LittleEndian.Uint64(buf[8*i:]) & fieldPrime; v != fieldPrime {
				dst[0] = v
				dst = dst[1:]
			}
		}
	}
	return nil
}

// heldShare is a share together with the holder it came from.
type heldShare struct {
	holder ClientID
	share  Share
}

// lagrange caches the Lagrange coefficients at 0 for a set of x-coordinates:
// in a full graph every reconstruction uses the same first t holders.
type lagrange map[string][]uint64

func (l lagrange) coefficients(shares []heldShare) []uint64 {
	key := make([]byte, 4*len(shares))
	for i, s := range shares {
		binary.BigEndian.PutUint32(key[4*i:], uint32(s.holder))
	}
	if c, ok := l[string(key)]; ok {
		return c
	}
	c := make([]uint64, len(shares))
	for j, sj := range shares {
		num, den := uint64(1), uint64(1)
		xj := shareX(sj.holder)
		for m, sm := range shares {
			if m != j {
				xm := shareX(sm.holder)
				num = fieldMul(num, xm)
				den = fieldMul(den, fieldSub(xm, xj))
			}
		}
		c[j] = fieldMul(num, fieldInv(den))
	}
	l[string(key)] = c
	return c
}

// combine reconstructs a secret from shares of distinct holders (exactly
// the threshold's number of them). It fails when a chunk does not decode
// to 7 (or, last, 4) bytes, which means the shares were not of one secret.
func (l lagrange) combine(shares []heldShare) ([SecretSize]byte, error) {
	var secret [SecretSize]byte
	coeff := l.coefficients(shares)
	for c := range shareChunks {
		v := uint64(0)
		for j, s := range shares {
			v = fieldAdd(v, fieldMul(coeff[j], s.share[c]))
		}
		width := min(SecretSize-c*chunkBytes, chunkBytes)
		if v>>(8*width) != 0 {
			return secret, ErrReconstruction
		}
		for i := width - 1; i >= 0; i-- {
			secret[c*chunkBytes+i] = byte(v)
			v >>= 8
		}
	}
	return secret, nil
}

// decodeShares rebuilds a secret from shares of which some may be wrong
// (Berlekamp–Welch, chunk by chunk): with r shares and a sharing
// polynomial of degree < t, up to e = ⌊(r−t)/2⌋ wrong shares are located
// exactly. It returns the secret and the holders whose shares are off the
// polynomial, or false when no polynomial of degree < t passes through all
// but e of the shares (more liars, or a dealer whose shares were not of one
// polynomial) or its value at 0 does not decode.
func decodeShares(shares []heldShare, t int) ([SecretSize]byte, []ClientID, bool) {
	var secret [SecretSize]byte
	r := len(shares)
	if r < t {
		return secret, nil, false
	}
	e := (r - t) / 2
	bad := map[ClientID]bool{}
	xs := make([]uint64, r)
	for i, s := range shares {
		xs[i] = shareX(s.holder)
	}
	for c := range shareChunks {
		ys := make([]uint64, r)
		for i, s := range shares {
			ys[i] = s.share[c]
		}
		p, ok := berlekampWelch(xs, ys, t, e)
		if !ok {
			return secret, nil, false
		}
		wrong := 0
		for i := range shares {
			if evalPoly(p, xs[i]) != ys[i] {
				bad[shares[i].holder] = true
				wrong++
			}
		}
		if wrong > e {
			return secret, nil, false
		}
		v := p[0]
		width := min(SecretSize-c*chunkBytes, chunkBytes)
		if v>>(8*width) != 0 {
			return secret, nil, false
		}
		for i := width - 1; i >= 0; i-- {
			secret[c*chunkBytes+i] = byte(v)
			v >>= 8
		}
	}
	return secret, slices.Sorted(maps.Keys(bad)), true
}

// evalPoly is p(x), p's coefficients from the constant term up.
func evalPoly(p []uint64, x uint64) uint64 {
	y := uint64(0)
	for j := len(p) - 1; j >= 0; j-- {
		y = fieldAdd(fieldMul(y, x), p[j])
	}
	return y
}

// berlekampWelch finds P of degree < t with P(x_i) = y_i for all but at
// most e points: it solves y_i·E(x_i) = Q(x_i) for a monic E of degree e
// and Q of degree < e+t, then P = Q / E.
func berlekampWelch(xs, ys []uint64, t, e int) ([]uint64, bool) {
	r, cols := len(xs), 2*e+t
	// Unknowns: E's a_0..a_{e−1}, then Q's b_0..b_{e+t−1}; the last column
	// is the right-hand side −y_i·x_i^e.
	m := make([][]uint64, r)
	for i := range m {
		row := make([]uint64, cols+1)
		pow := uint64(1)
		for j := range e + t {
			if j < e {
				row[j] = fieldMul(ys[i], pow)
			}
			row[e+j] = fieldSub(0, pow)
			pow = fieldMul(pow, xs[i])
		}
		xe := uint64(1)
		for range e {
			xe = fieldMul(xe, xs[i])
		}
		row[cols] = fieldSub(0, fieldMul(ys[i], xe))
		m[i] = row
	}
	// Gaussian elimination to reduced row echelon form.
	pivotCol := make([]int, 0, cols)
	row := 0
	for col := 0; col < cols && row < r; col++ {
		p := -1
		for i := row; i < r; i++ {
			if m[i][col] != 0 {
				p = i
				break
			}
		}
		if p < 0 {
			continue
		}
		m[row], m[p] = m[p], m[row]
		inv := fieldInv(m[row][col])
		for j := col; j <= cols; j++ {
			m[row][j] = fieldMul(m[row][j], inv)
		}
		for i := range r {
			if i != row && m[i][col] != 0 {
				f := m[i][col]
				for j := col; j <= cols; j++ {
					m[i][j] = fieldSub(m[i][j], fieldMul(f, m[row][j]))
				}
			}
		}
		pivotCol = append(pivotCol, col)
		row++
	}
	for i := row; i < r; i++ {
		if m[i][cols] != 0 {
			return nil, false // inconsistent
		}
	}
	sol := make([]uint64, cols) // free unknowns are 0
	for i, col := range pivotCol {
		sol[col] = m[i][cols]
	}
	E := append(slices.Clone(sol[:e]), 1)
	Q := slices.Clone(sol[e:])
	// Long division Q / E (E monic).
	quot := make([]uint64, max(len(Q)-e, 1))
	for d := len(Q) - 1; d >= e; d-- {
		q := Q[d]
		quot[d-e] = q
		if q == 0 {
			continue
		}
		for j := range e + 1 {
			Q[d-e+j] = fieldSub(Q[d-e+j], fieldMul(q, E[j]))
		}
	}
	for _, v := range Q[:e] {
		if v != 0 {
			return nil, false // E does not divide Q
		}
	}
	return quot[:t], len(quot) >= t
}
