// Package codec holds the linear codecs of updates: shared-range
// stochastic quantization into a ring Z_(2^m) (Quantizer), the randomized
// Hadamard rotation that spreads an update before it (Rotation), the two
// put together as every device of a round uses them (UpdateCodec), and the
// packing of b-bit integers into bytes. It is pure arithmetic: it imports
// no other Tacit package, does no I/O, and reads randomness only from the
// io.Reader it is given. The wire package (proto) puts its output into
// messages; the device agent and the coordinator's round machine use it
// directly.
//
// An application rarely needs it: the coordinator chooses a round's
// UpdateCodec and the agent follows it. Researchers use RequiredModBits,
// RotatedClip and ClipK to size a ring and a range.
//
// Decisions that are hard to undo, and why (the encodings are part of the
// protocol: a device and a coordinator must agree on every bit):
//
//   - Quantized updates are linear so that they compose with secure
//     aggregation: every device of a round shares the range, the ring
//     Z_(2^m) and the rotation seed, all in the plan. Alone, a device's
//     values travel in b bits; under SecAgg, its masked input in m bits.
//   - The grid is symmetric (−(2^(b−1)−1) … 2^(b−1)−1), so the sum of n
//     vectors needs no extra sign bit, and rounding is stochastic with 32
//     random bits a value, so it is unbiased.
//   - The rotation is a Hadamard matrix of order r·2^k, r in {1, 12, 20},
//     so a rotated update has at most a third more values than the model,
//     where a power of two alone could double them. The Walsh–Hadamard-only
//     one it replaced had the same length only where the two transforms
//     coincide (r = 1), so a peer of either kind is refused on the length,
//     never misread.
//   - Packing is little-endian bit by bit with zero padding, and unpacking
//     refuses non-zero padding, so every vector has exactly one encoding.
package codec
