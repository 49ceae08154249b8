// Package aggregate holds what the coordinator does with client updates:
// a streaming weighted mean and the server optimizers. It does no I/O and
// starts no goroutines.
//
// Every update is a flat []float32 over the model's shared parameters: a
// delta, the client's locally trained parameters minus the global ones (a
// negative pseudo-gradient).
//
// Determinism: Mean sums fixed-point values exactly in 128-bit integers, so
// the result does not depend on the order updates arrive in: a simulation
// and a real deployment over the network that aggregate the same updates get
// the same model bit for bit. (Float sums would differ in the last bits with
// the order.)
//
// What an application uses: Mean (NewMean, Add, Mean or Sum) for
// aggregation, and NewOptimizer with OptimizerConfig for the server step;
// OptimizerState is what a checkpoint keeps.
package aggregate
