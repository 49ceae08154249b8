// Package proto is Tacit's wire protocol: the message schema (tacit.proto,
// generated into tacitpb), framing and size limits on QUIC streams, version
// checks, and the tensor codec. It holds no business logic.
//
// Decisions that are hard to undo, and why:
//
//   - ALPN "tacit/1" names the protocol family in the TLS handshake, so a
//     peer that speaks something else fails before any byte of ours. The
//     protocol_version field inside every Request versions the messages;
//     fields are only added, and anything an old peer would misread takes a
//     new version, which old coordinators refuse with a typed error.
//   - One Request and one Response per bidirectional QUIC stream: streams
//     are cheap, a lost or slow exchange never blocks another, and a
//     malformed one costs only its stream.
//   - Each message is framed as a 4-byte big-endian length and that many
//     bytes of protobuf. The length is checked against a cap before any
//     buffer is allocated; the cap is configurable (DefaultMaxFrame).
//   - Tensors travel as bytes: little-endian float32, or (DTYPE_UINT)
//     unsigned integers of a stated width packed little-endian bit by bit
//     (AppendPacked), optionally zstd. The receiver states the length and
//     width it expects and the decoder checks them, and caps decompression
//     at that size, before allocating.
//   - Quantized updates (UpdateCodec) are linear so that they compose with
//     secure aggregation: every device of a round shares the range, the
//     ring Z_(2^m) and the rotation seed, all in the plan. Alone, a device's
//     values travel in b bits; under SecAgg, its masked input in m bits.
//   - The rotation (Rotation) is a Hadamard matrix of order r·2^k, r in
//     {1, 12, 20}, so a rotated update has at most a third more values than
//     the model, where a power of two alone could double them. Its
//     definition is part of the protocol; the Walsh–Hadamard-only one it
//     replaced had the same length only where the two transforms coincide
//     (r = 1), so a peer of either kind is refused on the length, never
//     misread.
//   - SecAgg messages (secagg.go) never carry their sender: the coordinator
//     takes it from the authenticated connection. Masked inputs are sent
//     uncompressed: they look uniformly random.
package proto
