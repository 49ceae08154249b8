package secagg

import (
	"bytes"
	"cmp"
	"crypto/ecdh"
	"errors"
	"maps"
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
	bad := map[ClientID]bool{}
	for _, v := range seeds {
		seed, err := s.reconstruct(s.clients[v].seedShares)
		if err != nil || seedCommitment(&seed, &s.session, v) != s.clients[v].commitment {
			var liars []ClientID
			var ok bool
			seed, liars, ok = decodeShares(s.clients[v].seedShares, s.cfg.Threshold)
			if !ok || seedCommitment(&seed, &s.session, v) != s.clients[v].commitment {
				return s.abortReconstruction(v, true)
			}
			for _, h := range liars {
				bad[h] = true
			}
		}
		key, err := selfMaskKey(&seed, &s.session, v)
		if err != nil {
			return s.abort(err, "self-mask key of client %d", v)
		}
		masks = append(masks, mask{key: key, subtract: true})
	}
	for _, u := range keys {
		pairwise, liars, err := s.droppedMasks(u)
		if errors.Is(err, ErrReconstruction) {
			return s.abortReconstruction(u, false)
		}
		if err != nil {
			return s.abort(err, "mask key of dropped client %d", u)
		}
		for _, h := range liars {
			bad[h] = true
		}
		masks = append(masks, pairwise...)
	}
	if err := applyMasks(s.sum, masks, s.cfg.Bits, runtime.GOMAXPROCS(0)); err != nil { // reduces mod 2^m
		return s.abort(err, "unmasking")
	}
	sum := s.sum
	s.phase, s.sum, s.clients, s.coeffs = PhaseDone, nil, nil, nil
	return Outcome{Phase: PhaseDone, Sum: sum, Survivors: seeds, BadShares: slices.Sorted(maps.Keys(bad))}, nil
}

// abortReconstruction aborts with a *ReconstructionError for owner's seed
// or mask key.
func (s *Server) abortReconstruction(owner ClientID, seed bool) (Outcome, error) {
	shares := s.clients[owner].keyShares
	if seed {
		shares = s.clients[owner].seedShares
	}
	e := &ReconstructionError{Owner: owner, Seed: seed}
	for _, h := range shares {
		e.Holders = append(e.Holders, h.holder)
	}
	slices.Sort(e.Holders)
	s.err = e
	s.phase, s.sum, s.clients, s.coeffs = PhaseAborted, nil, nil, nil
	return Outcome{Phase: PhaseAborted}, e
}

// droppedMasks rebuilds dropped client u's mask private key (locating
// wrong shares, the liars, if the first t do not rebuild the advertised
// public key) and returns the pairwise masks its surviving neighbours put
// in their inputs, signed to take them out: a survivor w added the mask if
// u < w.
func (s *Server) droppedMasks(u ClientID) ([]mask, []ClientID, error) {
	matches := func(secret [SecretSize]byte) *ecdh.PrivateKey {
		priv, err := ecdh.X25519().NewPrivateKey(secret[:])
		if err != nil || !bytes.Equal(priv.PublicKey().Bytes(), s.clients[u].maskKey[:]) {
			return nil
		}
		return priv
	}
	var liars []ClientID
	secret, err := s.reconstruct(s.clients[u].keyShares)
	priv := matches(secret)
	if err != nil || priv == nil {
		var ok bool
		secret, liars, ok = decodeShares(s.clients[u].keyShares, s.cfg.Threshold)
		if priv = matches(secret); !ok || priv == nil {
			return nil, nil, ErrReconstruction
		}
	}
	var masks []mask
	for _, w := range s.neighbours(u, PhaseConsistency) {
		pub, err := ecdh.X25519().NewPublicKey(s.clients[w].maskKey[:])
		if err != nil {
			return nil, nil, err
		}
		shared, err := priv.ECDH(pub)
		if err != nil {
			return nil, nil, err
		}
		key, err := pairwiseMaskKey(shared, &s.session, u, w)
		if err != nil {
			return nil, nil, err
		}
		masks = append(masks, mask{key: key, subtract: u < w})
	}
	return masks, liars, nil
}

// reconstruct combines the shares of the threshold's holders with the
// smallest ids, so the result does not depend on arrival order.
func (s *Server) reconstruct(shares []heldShare) ([SecretSize]byte, error) {
	sorted := slices.SortedFunc(slices.Values(shares), func(a, b heldShare) int { return cmp.Compare(a.holder, b.holder) })
	return s.coeffs.combine(sorted[:s.cfg.Threshold])
}
