package round

import "fmt"

// RejectCode says why the machine refused a request.
type RejectCode int

const (
	NotEnrolled   RejectCode = iota + 1
	WrongRound               // a round that has not started
	Late                     // a round that has ended, or past the deadline
	NotSelected              // the device was not accepted in this round
	Duplicate                // the device already reported in this round
	BadUpdate                // wrong dimension, non-finite or out-of-range values
	SecAggRefused            // the round's secure aggregation refused the message
)

// rejections is the one table of what a code stands for: the text of its
// errors, its value of the metric label result, and the name of its wire
// code in tacit.proto's ErrorCode (a name, so that the machine need not
// import the wire package; proto.RejectionCode resolves it).
var rejections = [...]struct{ text, label, wire string }{
	NotEnrolled:   {"not enrolled", "not_enrolled", "ERROR_CODE_UNAUTHENTICATED"},
	WrongRound:    {"wrong round", "wrong_round", "ERROR_CODE_WRONG_ROUND"},
	Late:          {"late", "late", "ERROR_CODE_LATE"},
	NotSelected:   {"not selected", "not_selected", "ERROR_CODE_NOT_SELECTED"},
	Duplicate:     {"duplicate", "duplicate", "ERROR_CODE_DUPLICATE"},
	BadUpdate:     {"bad update", "bad_update", "ERROR_CODE_BAD_UPDATE"},
	SecAggRefused: {"refused by secure aggregation", "secagg_refused", "ERROR_CODE_SECAGG"},
}

// RejectCodes lists every code.
func RejectCodes() []RejectCode {
	codes := make([]RejectCode, 0, len(rejections)-1)
	for c := NotEnrolled; int(c) < len(rejections); c++ {
		codes = append(codes, c)
	}
	return codes
}

func (c RejectCode) entry() (text, label, wire string) {
	if c < NotEnrolled || int(c) >= len(rejections) {
		return fmt.Sprintf("reject code %d", int(c)), "unknown", ""
	}
	e := rejections[c]
	return e.text, e.label, e.wire
}

func (c RejectCode) String() string { text, _, _ := c.entry(); return text }

// Label is the code as a value of a metric's result label.
func (c RejectCode) Label() string { _, label, _ := c.entry(); return label }

// WireName is the name of the code's ErrorCode in tacit.proto; "" for a
// code outside the table.
func (c RejectCode) WireName() string { _, _, wire := c.entry(); return wire }

// Rejection is a refused request: the machine's state did not change.
type Rejection struct {
	Code   RejectCode
	Reason string
}

func (r *Rejection) Error() string { return r.Code.String() + ": " + r.Reason }

func reject(code RejectCode, format string, args ...any) *Rejection {
	return &Rejection{Code: code, Reason: fmt.Sprintf(format, args...)}
}
