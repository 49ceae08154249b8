// Package secagg is secure aggregation for Tacit's rounds: the server
// learns the sum, mod 2^m, of the clients' integer vectors (quantized,
// noised model updates) and nothing more about any one of them. It is
// SecAgg (Bonawitz et al. 2017) over the sparse random neighbour graph of
// SecAgg+ (Bell et al. 2020), so a client's work grows with log n rather
// than n.
//
// The package is protocol only: a Client and a Server that take messages
// and return messages, with no I/O, clock or goroutine. A driver carries
// the messages (and checks that each one's sender is the authenticated
// device it came from) and calls Server.EndPhase at each phase's deadline.
// Randomness comes from an injected io.Reader (crypto/rand in production),
// so a seeded run is reproducible bit for bit.
//
// # Protocol
//
// The server picks a Config (round id, n, degree k and threshold t, e.g.
// from FindParams, bit width m, length d, and a random graph seed) and sends
// it with the plan. The seed relabels a (k, n) Harary graph (graph.go); a
// client's neighbourhood is its k neighbours and itself, and t counts
// shares over those k+1.
//
//  1. AdvertiseKeys: each client sends two fresh X25519 public keys, one
//     for pairwise masks, one for share encryption. The server forwards to
//     each client those of its neighbours.
//  2. ShareKeys: each client draws a 32-byte self-mask seed and splits it
//     and its mask private key t-of-(k+1) with Shamir over GF(p),
//     p = 2^61 − 1, among its neighbours and itself (it keeps its own
//     shares). A neighbour's two shares are sealed with AES-256-GCM under
//     an HKDF-SHA256 key from the share-key ECDH, with the round, sender
//     and recipient bound into the key and the associated data. The client
//     also sends a hash commitment to its seed.
//  3. MaskedInput: each client sends x + PRG(seed) + Σ ± PRG(pairwise key)
//     mod 2^m over exactly the neighbours whose shares were delivered to it
//     (those that completed ShareKeys), adding the masks shared with smaller
//     ids and subtracting those shared with larger ones. PRG is AES-256-CTR
//     keyed by a whole 32-byte HKDF output whose info binds the purpose, the
//     round (a digest of the whole Config, so also d and m) and both ids;
//     from a zero IV, an element takes w = ⌈m/8⌉ bytes of keystream (one
//     for m <= 8, two for m <= 16, three for m <= 24, else four) and
//     element i is the low m bits of the little-endian integer in bytes
//     w·i to w·i+w−1.
//  4. Unmask: the server tells each survivor which of its neighbours
//     survived and which dropped; the client reveals its share of each
//     survivor's seed or of each dropped one's mask key, never both for one
//     client. The server rebuilds every needed secret from t shares, checks
//     it against the seed commitment or the advertised public key, removes
//     the masks and returns the exact sum of the survivors' inputs.
//
// Clients dropping in any phase are recovered while every secret that will
// be needed keeps t holders. As soon as one cannot, EndPhase aborts with
// ErrTooFewSurvivors: no more shares are asked for and no sum is returned.
// Invalid messages are rejected with typed errors (MessageError,
// ShareError) without disturbing the rest of the round.
//
// # Threat model
//
// Semi-honest (honest-but-curious) server and clients: all follow the
// protocol, up to the adversary rate given to FindParams of the clients
// pool their views with the server, and up to the dropout rate drop out.
// With FindParams' parameters, except with probability 2^-40 over the
// random graph, no neighbourhood holds t colluders (so no honest client's
// secrets can be rebuilt without an honest holder revealing a share), and
// the honest survivors stay connected through pairwise masks, so the
// server learns nothing about honest inputs beyond their sum; a round fails
// for lack of survivors with probability below 2^-20. With the full graph
// (plain SecAgg, FullGraphParams: what a cohort too small for a sparse
// graph uses) the same holds for fewer than t colluding clients.
// Clients check what they can: a client stops when fewer than t of its
// neighbourhood are left to share with, or when the server names fewer
// than t survivors in it (Bonawitz et al.'s |U3| >= t check, per
// neighbourhood).
//
// A malicious server can do more:
//   - Lie about dropouts: tell some neighbours of a client that it survived
//     and others that it dropped, collect t shares of both its secrets and
//     unmask its input. No client reveals both shares of one peer, whatever
//     and however often it is asked (ErrInconsistentUnmask), but only a
//     threshold above (neighbourhood + colluders)/2, which FindParams'
//     SemiMalicious model chooses after Bell et al., makes two disjoint
//     sets of t honest holders impossible. The consistency round of
//     Bonawitz et al.'s actively secure variant (signed survivor lists) is
//     not implemented.
//   - Substitute public keys (man in the middle): keys are not signed by a
//     device identity; the variants secure against a malicious server
//     assume such a PKI, which this package does not provide.
//   - Tamper with, replay or misroute shares: the AEAD rejects them
//     (ErrBadShare) and they count as missing.
//
// A malicious client can make the round fail (shares that rebuild a wrong
// secret make the server abort with ErrReconstruction, never return a wrong
// sum) or contribute any vector of Z_(2^m)^d: inputs are not validated
// (no norm bound, no zero-knowledge range proof), so robustness to
// poisoned updates must come from elsewhere (clipping on honest devices,
// DP noise).
//
// What an application uses: FindParams (or FullGraphParams) to size a
// round, Config, NewClient and NewServer with their Step/EndPhase events,
// and the message types to carry them. Errors are typed (errors.Is on the
// Err* values, errors.As on *MessageError and *ShareError).
package secagg
