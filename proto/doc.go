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
//   - Authentication is per connection (since protocol version 2): a
//     connection's first stream carries a Request with the version, the
//     device's token and a Hello body, in at most MaxHelloFrame bytes, and
//     is answered HelloAck; later streams act for that device and need no
//     token (the coordinator ignores one). So the coordinator knows who
//     speaks before it reads more than a kilobyte or commits a request
//     slot, and the token crosses the wire once a connection, not once a
//     request. Version 1 sent the token in every Request; a version 1
//     device is refused with ERROR_CODE_UNSUPPORTED_VERSION rather than a
//     puzzling UNAUTHENTICATED, which is why the version moved.
//   - Each message is framed as a 4-byte big-endian length and that many
//     bytes of protobuf. The length is checked against a cap before any
//     buffer is allocated; the cap is configurable (DefaultMaxFrame). The
//     header is read apart (ReadHeader), so a server can bound the wait for
//     it before committing anything to the body.
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
