package dataset

import "slices"

// Split is the evaluation split of DESIGN.md: per person, the latest
// interaction is the test item and everything before it is training data.
type Split struct {
	NumUsers int
	NumItems int

	offsets []int64 // len NumUsers+1
	train   []int32 // per person: distinct training items, ascending
	ages    []int32 // aligned with train
	// Test holds each person's test item, or -1 for a person with fewer than
	// two interactions (no training data left, so not evaluated).
	Test []int32
}

// Train returns person u's distinct training items in ascending order. The
// slice aliases the split.
func (s *Split) Train(u int) []int32 { return s.train[s.offsets[u]:s.offsets[u+1]] }

// Ages returns, aligned with Train(u), how many of person u's training
// interactions came after each item's latest one: 0 for the most recent.
// A model may weigh recent interactions more; the ages are known on the
// person's device, like the items.
func (s *Split) Ages(u int) []int32 { return s.ages[s.offsets[u]:s.offsets[u+1]] }

// LeaveLastOut splits l: each person's last interaction in time order (ties
// in file order) is the test item, the distinct items of the earlier ones
// are training data. If the test item also occurs earlier it stays in
// training; the evaluator still ranks it.
func LeaveLastOut(l *Log) *Split {
	s := &Split{NumUsers: l.NumUsers, NumItems: l.NumItems, offsets: make([]int64, l.NumUsers+1), Test: make([]int32, l.NumUsers)}
	s.train = make([]int32, 0, max(0, l.Len()-l.NumUsers))
	s.ages = make([]int32, 0, cap(s.train))
	var last map[int32]int // item → position of its latest training interaction
	for u := 0; u < l.NumUsers; u++ {
		seq := l.Items(u)
		if len(seq) < 2 {
			s.Test[u] = -1
			s.offsets[u+1] = int64(len(s.train))
			continue
		}
		s.Test[u] = seq[len(seq)-1]
		seq = seq[:len(seq)-1]
		if last == nil {
			last = make(map[int32]int)
		}
		clear(last)
		s.train, s.ages = appendPositives(s.train, s.ages, seq, last)
		s.offsets[u+1] = int64(len(s.train))
	}
	return s
}

// Positives are the distinct items of seq, a person's interactions in time
// order, ascending, and aligned with them each item's age: how many
// interactions came after its latest one. They are what a model trains on
// (model.Positives), on a device as in the simulator.
func Positives(seq []int32) (items, ages []int32) {
	return appendPositives(nil, nil, seq, make(map[int32]int, len(seq)))
}

// appendPositives appends seq's positives to items and ages, using last,
// which must be empty, as scratch.
func appendPositives(items, ages, seq []int32, last map[int32]int) ([]int32, []int32) {
	for j, it := range seq {
		last[it] = j
	}
	lo := len(items)
	for it := range last {
		items = append(items, it)
	}
	mine := items[lo:]
	slices.Sort(mine)
	for _, it := range mine {
		ages = append(ages, int32(len(seq)-1-last[it]))
	}
	return items, ages
}
