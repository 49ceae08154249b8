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
//  4. Consistency (malicious-server mode only, see below).
//  5. Unmask: the server tells each survivor which of its neighbours
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
// Thresholds. By default a client refuses a threshold that is not a
// strict majority of its neighbourhood (2t > k+1, ErrMinorityThreshold),
// and FindParams and FullGraphParams return such thresholds for
// NoAdversary and SemiHonest. A server that lies about dropouts (tells
// some of a client's neighbours it survived, so they reveal its seed
// shares, and others it dropped, so they reveal its key shares) then
// cannot collect t of both from honest holders, since no client reveals
// both shares of one peer (ErrInconsistentUnmask). With c colluding
// clients in the neighbourhood that needs 2t > k+1+c: FindParams'
// SemiMalicious model (Bell et al.). The HonestServer model (federated-
// compute's published semi-honest values) and ClientOptions.HonestServer
// accept a minority threshold: safe only if the server never lies.
//
// Malicious-server mode (Config.Registry: each device's Ed25519 key,
// registered at enrolment; Bonawitz et al. 2017's active variant as
// adapted to the sparse graph by Bell et al. 2020): advertised keys are
// signed, so the server cannot substitute its own (man in the middle);
// after the masked inputs a consistency phase sends each survivor the
// survivors of its neighbourhood, which it signs; the unmask request must
// repeat that list and carry the neighbours' signed views, and a client
// reveals only with at least t validly signed views (its own included) and
// none that contradicts its own on a client both neighbourhoods contain
// (ErrInconsistentView: a neighbour said to have dropped that signed a
// view, or a view disagreeing on a common client, proves equivocation). On
// the full graph this is Bonawitz et al.'s check that every client saw
// the same survivor set. Threat model: a server that deviates arbitrarily
// and colludes with up to adversaryRate of the clients (SemiMalicious
// parameters), with a registry the server cannot forge: a device that
// pins the enrolment authority's key (ClientOptions.Authority) accepts a
// registry only if the authority endorsed every key in it (Endorse,
// Registry.Endorsements), so the server cannot register keys of its own
// for other clients; the registry is also bound into the session id, so
// clients given different registries fail to agree keys. A device that
// pins no authority trusts the server's registry. It does not hide that a round ran or who took part, and
// the server can still make a round fail.
//
// Semi-honest mode (no Registry): keys are not signed, so a server that
// substitutes public keys (man in the middle) defeats it; it is for a
// server that follows the protocol, with the majority threshold as a
// defence against lies about dropouts alone. Tampered, replayed or
// misrouted shares fail the AEAD in both modes (ErrBadShare) and count as
// missing.
//
// A malicious client that reveals wrong shares is identified: if the first
// t shares of a secret do not rebuild the owner's commitment (seed hash or
// advertised public key), the server decodes all r revealed shares
// (Berlekamp–Welch, up to ⌊(r−t)/2⌋ wrong ones), completes the round and
// names the liars in Outcome.BadShares; beyond that it aborts with a
// *ReconstructionError naming the owner and holders (a lying dealer and too
// many lying holders look alike). It never returns a wrong sum. A client
// can also contribute any vector of Z_(2^m)^d: inputs are not validated
// (no norm bound, no zero-knowledge range proof), so robustness to
// poisoned updates must come from elsewhere (clipping on honest devices,
// DP noise).
//
// What an application uses: FindParams (or FullGraphParams) to size a
// round, Config, NewClient and NewServer with their Step/EndPhase events,
// and the message types to carry them. Errors are typed (errors.Is on the
// Err* values, errors.As on *MessageError and *ShareError).
package secagg
