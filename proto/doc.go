// Package proto is Tacit's wire protocol: the message schema (tacit.proto,
// generated into tacitpb), framing and size limits on QUIC streams, version
// checks, the tensor wire encoding, and the conversions between wire
// messages and domain types. It holds no business logic, and no protocol
// logic imports it: the codecs are in package codec, the round machine in
// coordinator/round, and proto imports them to convert their types, never
// the other way (TestLayering in the module's root holds this).
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
//     (codec.AppendPacked), optionally zstd. The receiver states the length and
//     width it expects and the decoder checks them, and caps decompression
//     at that size, before allocating.
//   - Updates travel in the linear codecs of package codec, whose
//     decisions are written there; proto only carries their output.
//   - SecAgg messages (secagg.go) never carry their sender: the coordinator
//     takes it from the authenticated connection. Masked inputs are sent
//     uncompressed: they look uniformly random.
package proto
