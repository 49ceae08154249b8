package model

import (
	"container/heap"
)

// Score writes into dst (len Items) the score b_i + q_i·u of every item for
// the person with vector u.
func (m *MF) Score(u []float32, dst []float32) {
	k := m.Factors
	q, b := m.ItemFactors(), m.Biases()
	for i := range dst[:m.Items] {
		row := q[i*k : i*k+k : i*k+k]
		s := b[i]
		for f, v := range row {
			s += v * u[f]
		}
		dst[i] = s
	}
}

// Scored is an item and its score.
type Scored struct {
	Item  int32
	Score float32
}

// TopK returns the n highest-scoring items not in exclude (ascending item
// ids, e.g. the person's own history), best first; ties go to the lower item
// id so the result is deterministic.
func TopK(scores []float32, exclude []int32, n int) []Scored {
	if n <= 0 {
		return nil
	}
	h := make(minHeap, 0, n)
	next := 0
	for i, s := range scores {
		if next < len(exclude) && int(exclude[next]) == i {
			next++
			continue
		}
		c := Scored{Item: int32(i), Score: s}
		if len(h) < n {
			heap.Push(&h, c)
		} else if better(c, h[0]) {
			h[0] = c
			heap.Fix(&h, 0)
		}
	}
	out := make([]Scored, len(h))
	for i := len(out) - 1; i >= 0; i-- {
		out[i] = heap.Pop(&h).(Scored)
	}
	return out
}

func better(a, b Scored) bool {
	return a.Score > b.Score || (a.Score == b.Score && a.Item < b.Item)
}

// minHeap keeps the worst of the current top n at the root.
type minHeap []Scored

func (h minHeap) Len() int           { return len(h) }
func (h minHeap) Less(i, j int) bool { return better(h[j], h[i]) }
func (h minHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *minHeap) Push(x any)        { *h = append(*h, x.(Scored)) }
func (h *minHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
