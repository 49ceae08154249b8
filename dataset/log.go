package dataset

// Log is an interaction log with dense ids: people are 0..NumUsers-1 and items
// 0..NumItems-1. Each person's interactions are kept in time order (ties in
// the order they were read), which is what the leave-last-out split needs.
//
// The storage is one flat array per column indexed by per-person offsets, so
// a million synthetic people cost a few bytes per interaction, not a slice
// header each.
type Log struct {
	Name     string
	NumUsers int
	NumItems int
	// UserIDs and ItemIDs hold the original ids from the source, indexed by
	// dense id; nil for synthetic data.
	UserIDs []string
	ItemIDs []string

	offsets []int64   // len NumUsers+1; person u owns [offsets[u], offsets[u+1])
	items   []int32   // item per interaction
	times   []int64   // timestamp per interaction; nil when the source has none
	weights []float32 // weight per interaction; nil when every weight is 1
}

// Len is the number of interactions.
func (l *Log) Len() int { return len(l.items) }

// Items returns person u's items in time order. The slice aliases the log.
func (l *Log) Items(u int) []int32 { return l.items[l.offsets[u]:l.offsets[u+1]] }

// Times returns person u's timestamps, aligned with Items, or nil if the log
// has no timestamps.
func (l *Log) Times(u int) []int64 {
	if l.times == nil {
		return nil
	}
	return l.times[l.offsets[u]:l.offsets[u+1]]
}

// Weights returns person u's weights, aligned with Items, or nil if every
// weight is 1.
func (l *Log) Weights(u int) []float32 {
	if l.weights == nil {
		return nil
	}
	return l.weights[l.offsets[u]:l.offsets[u+1]]
}
