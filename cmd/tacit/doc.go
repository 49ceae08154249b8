// Command tacit is Tacit's one binary: `tacit simulate` (federated
// simulations), `tacit central` (their central twin), `tacit sweep`
// (privacy–utility sweeps), `tacit coordinator` and `tacit agent` (the real
// thing over QUIC), `tacit device` (a person's device: their events,
// consent, recommendations, deletion and ledger), `tacit privacy` (ε and
// calibration) and `tacit data`.
// This package only wires flags and output to the library packages.
package main
