package secagg

import (
	"bytes"
	"cmp"
	"crypto/ecdh"
	"runtime"
	"slices"
)

// The end of the round: rebuilding the secrets and removing the masks.

// neededSecrets lists the secrets the sum needs: the self-mask seeds of the
// survivors (the clients whose masked input is in), and the mask keys of the
// clients that shared keys, then dropped, and have a surviving neighbour
// that masked with them.
func (s *Server) neededSecrets() (seeds, keys []ClientID) {
	for id := range s.clients {
		v := ClientID(id)
		switch p := s.clients[id].progress; {
		case p >= PhaseConsistency:
			seeds = append(seeds, v)
		case p == PhaseMaskedInput && len(s.neighbours(v, PhaseConsistency)) > 0:
			keys = append(keys, v)
		}
	}
	return seeds, keys
}

func (s *Server) endUnmask() (Outcome, error) {
	seeds, keys := s.neededSecrets()
	for _, v := range seeds {
		if n := len(s.clients[v].seedShares); n < s.cfg.Threshold {
			return s.abort(ErrTooFewSurvivors, "after %v %d shares of client %d's self-mask seed, threshold %d", s.phase, n, v, s.cfg.Threshold)
		}
	}
	for _, u := range keys {
		if n := len(s.clients[u].keyShares); n < s.cfg.Threshold {
			return s.abort(ErrTooFewSurvivors, "after %v %d shares of dropped client %d's mask key, threshold %d", s.phase, n, u, s.cfg.Threshold)
		}
	}
	masks := make([]mask, 0, len(seeds))
	for _, v := range seeds {
		seed, err := s.reconstruct(s.clients[v].seedShares)
		if err != nil || seedCommitment(&seed, &s.session, v) != s.clients[v].commitment {
			return s.abort(ErrReconstruction, "self-mask seed of client %d", v)
		}
		key, err := selfMaskKey(&seed, &s.session, v)
		if err != nil {
			return s.abort(err, "self-mask key of client %d", v)
		}
		masks = append(masks, mask{key: key, subtract: true})
	}
	for _, u := range keys {
		pairwise, err := s.droppedMasks(u)
		if err != nil {
			return s.abort(err, "mask key of dropped client %d", u)
		}
		masks = append(masks, pairwise...)
	}
	if err := applyMasks(s.sum, masks, s.cfg.Bits, runtime.GOMAXPROCS(0)); err != nil { // reduces mod 2^m
		return s.abort(err, "unmasking")
	}
	sum := s.sum
	s.phase, s.sum, s.clients, s.coeffs = PhaseDone, nil, nil, nil
	return Outcome{Phase: PhaseDone, Sum: sum, Survivors: seeds}, nil
}

// droppedMasks rebuilds dropped client u's mask private key and returns
// the pairwise masks its surviving neighbours put in their inputs, signed
// to take them out: a survivor w added the mask if u < w.
func (s *Server) droppedMasks(u ClientID) ([]mask, error) {
	secret, err := s.reconstruct(s.clients[u].keyShares)
	if err != nil {
		return nil, err
	}
	priv, err := ecdh.X25519().NewPrivateKey(secret[:])
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(priv.PublicKey().Bytes(), s.clients[u].maskKey[:]) {
		return nil, ErrReconstruction
	}
	var masks []mask
	for _, w := range s.neighbours(u, PhaseConsistency) {
		pub, err := ecdh.X25519().NewPublicKey(s.clients[w].maskKey[:])
		if err != nil {
			return nil, err
		}
		shared, err := priv.ECDH(pub)
		if err != nil {
			return nil, err
		}
		key, err := pairwiseMaskKey(shared, &s.session, u, w)
		if err != nil {
			return nil, err
		}
		masks = append(masks, mask{key: key, subtract: u < w})
	}
	return masks, nil
}

// reconstruct combines the shares of the threshold's holders with the
// smallest ids, so the result does not depend on arrival order.
func (s *Server) reconstruct(shares []heldShare) ([SecretSize]byte, error) {
	sorted := slices.SortedFunc(slices.Values(shares), func(a, b heldShare) int { return cmp.Compare(a.holder, b.holder) })
	return s.coeffs.combine(sorted[:s.cfg.Threshold])
}
