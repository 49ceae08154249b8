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
		for j, it := range seq {
			last[it] = j
		}
		lo := len(s.train)
		for it := range last {
			s.train = append(s.train, it)
		}
		mine := s.train[lo:]
		slices.Sort(mine)
		for _, it := range mine {
			s.ages = append(s.ages, int32(len(seq)-1-last[it]))
		}
		s.offsets[u+1] = int64(len(s.train))
	}
	return s
}
