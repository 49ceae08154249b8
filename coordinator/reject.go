package coordinator

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

var rejectNames = map[RejectCode]string{
	NotEnrolled: "not enrolled", WrongRound: "wrong round", Late: "late",
	NotSelected: "not selected", Duplicate: "duplicate", BadUpdate: "bad update", SecAggRefused: "refused by secure aggregation",
}

func (c RejectCode) String() string { return rejectNames[c] }

// Rejection is a refused request: the machine's state did not change.
type Rejection struct {
	Code   RejectCode
	Reason string
}

func (r *Rejection) Error() string { return r.Code.String() + ": " + r.Reason }

func reject(code RejectCode, format string, args ...any) *Rejection {
	return &Rejection{Code: code, Reason: fmt.Sprintf(format, args...)}
}
