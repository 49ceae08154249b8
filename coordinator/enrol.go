package coordinator

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// Enrolment: a tokens file has one device a line, "TOKEN DEVICE-ID",
// blank lines and #-comments allowed. The token is the device's secret; the
// id is how the coordinator knows it (in logs, selection, its ledger).

// maxTokensLine bounds one line of a tokens file.
const maxTokensLine = 4096

// ReadTokens parses a tokens file into token → device id. Duplicate tokens
// or ids, and malformed lines, are errors naming the line.
func ReadTokens(r io.Reader, name string) (map[string]string, error) {
	tokens := map[string]string{}
	ids := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxTokensLine)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) != 2 {
			return nil, fmt.Errorf("%s:%d: want \"TOKEN DEVICE-ID\", got %d fields", name, line, len(f))
		}
		if len(f[0]) < 16 {
			return nil, fmt.Errorf("%s:%d: token shorter than 16 characters", name, line)
		}
		if _, dup := tokens[f[0]]; dup {
			return nil, fmt.Errorf("%s:%d: token repeated", name, line)
		}
		if ids[f[1]] {
			return nil, fmt.Errorf("%s:%d: device id %q repeated", name, line, f[1])
		}
		tokens[f[0]], ids[f[1]] = f[1], true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("%s: no devices enrolled", name)
	}
	return tokens, nil
}

// NewTokens writes a tokens file enrolling devices with ids prefix0 ..
// prefix(n-1) and random 128-bit tokens.
func NewTokens(w io.Writer, n int, prefix string) error {
	fmt.Fprintf(w, "# Tacit enrolment tokens: TOKEN DEVICE-ID. Keep this file secret.\n")
	for i := range n {
		var b [16]byte
		rand.Read(b[:])
		if _, err := fmt.Fprintf(w, "%s %s%d\n", hex.EncodeToString(b[:]), prefix, i); err != nil {
			return err
		}
	}
	return nil
}
