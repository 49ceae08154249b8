package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"google.golang.org/protobuf/proto"

	"github.com/tacitfl/tacit/proto/tacitpb"
)

// ALPN is the protocol name negotiated in the TLS handshake.
const ALPN = "tacit/1"

// ProtocolVersion is the message version this build speaks. Version 2
// opens every connection with a Hello (doc.go).
const ProtocolVersion = 2

// DefaultMaxFrame caps one framed message: a 64 MiB model download is
// about 16 million float32 parameters uncompressed.
const DefaultMaxFrame = 64 << 20

// MaxHelloFrame caps the Hello that opens a connection: a version, a token
// and an empty body. It is read before the device is known, so it is small.
const MaxHelloFrame = 1024

// Errors of framing and decoding; test with errors.Is.
var (
	ErrTooLarge           = errors.New("frame larger than the limit")
	ErrTruncated          = errors.New("stream ended inside a frame")
	ErrMalformed          = errors.New("malformed message")
	ErrUnsupportedVersion = errors.New("unsupported protocol version")
)

// CheckVersion accepts exactly ProtocolVersion.
func CheckVersion(v uint32) error {
	if v != ProtocolVersion {
		return fmt.Errorf("%w: %d (this coordinator speaks %d)", ErrUnsupportedVersion, v, ProtocolVersion)
	}
	return nil
}

// AppendFrame appends m, framed, to b.
func AppendFrame(b []byte, m proto.Message) ([]byte, error) {
	start := len(b)
	b = append(b, 0, 0, 0, 0)
	b, err := proto.MarshalOptions{}.MarshalAppend(b, m)
	if err != nil {
		return b[:start], err
	}
	n := len(b) - start - 4
	if uint64(n) > 0xffffffff {
		return b[:start], fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	return b, nil
}

// WriteFrame writes m, framed, to w; a message over max bytes is refused.
func WriteFrame(w io.Writer, m proto.Message, max int) error {
	b, err := AppendFrame(nil, m)
	if err != nil {
		return err
	}
	if len(b)-4 > max {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b)-4, max)
	}
	_, err = w.Write(b)
	return err
}

// ReadFrame reads one framed message from r into m. The length is checked
// against max before anything is allocated for the body.
func ReadFrame(r io.Reader, m proto.Message, max int) error {
	n, err := ReadHeader(r, max)
	if err != nil {
		return err
	}
	return ReadBody(r, n, m)
}

// ReadHeader reads a frame's 4-byte length and checks it against max.
// Reading the header apart lets a server wait for it under a short deadline
// before it commits memory to the body.
func ReadHeader(r io.Reader, max int) (int, error) {
	var hdr [4]byte
	if got, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return 0, fmt.Errorf("%w: %d of 4 header bytes", ErrTruncated, got)
		}
		return 0, err // io.EOF: no frame at all
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if uint64(n) > uint64(max) {
		return 0, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, max)
	}
	return int(n), nil
}

// ReadBody reads the n bytes of a frame's body, as ReadHeader announced
// them, into m.
func ReadBody(r io.Reader, n int, m proto.Message) error {
	// The buffer grows as bytes arrive, not to what the header claims: a
	// peer that announces the limit and sends ten bytes costs ten bytes.
	var buf bytes.Buffer
	if got, err := io.CopyN(&buf, r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: %d of %d body bytes", ErrTruncated, got, n)
		}
		return err
	}
	if err := proto.Unmarshal(buf.Bytes(), m); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return nil
}

// ErrorCodeOf maps the package's errors to wire error codes.
func ErrorCodeOf(err error) tacitpb.ErrorCode {
	switch {
	case errors.Is(err, ErrTooLarge):
		return tacitpb.ErrorCode_ERROR_CODE_TOO_LARGE
	case errors.Is(err, ErrUnsupportedVersion):
		return tacitpb.ErrorCode_ERROR_CODE_UNSUPPORTED_VERSION
	case errors.Is(err, ErrTruncated), errors.Is(err, ErrMalformed), errors.Is(err, ErrBadTensor):
		return tacitpb.ErrorCode_ERROR_CODE_MALFORMED
	}
	return tacitpb.ErrorCode_ERROR_CODE_INTERNAL
}

// NewError is a Response carrying an error.
func NewError(code tacitpb.ErrorCode, msg string) *tacitpb.Response {
	return &tacitpb.Response{Body: &tacitpb.Response_Error{Error: &tacitpb.Error{Code: code, Message: msg}}}
}
