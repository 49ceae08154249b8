// Package aggregate holds what the coordinator does with client updates:
// a streaming weighted mean and the server optimizers. It does no I/O and
// starts no goroutines.
//
// Every update is a flat []float32 over the model's shared parameters: a
// delta, the client's locally trained parameters minus the global ones (a
// negative pseudo-gradient).
//
// Determinism: sums are accumulated in float64 in the order Add is called.
// Callers add in a fixed order (by client index), so the same seed gives the
// same model bit for bit however the work was scheduled.
package aggregate
