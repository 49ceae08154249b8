package dataset

import (
	"fmt"
	"math"
	"slices"
)

// builder collects rows in file order and turns them into a Log: dense ids
// in order of first appearance, each person's interactions stably sorted by
// time.
type builder struct {
	name    string
	userIDs interner
	itemIDs interner
	users   []int32
	items   []int32
	times   []int64
	weights []float32
	allOne  bool
}

func newBuilder(name string) *builder {
	return &builder{name: name, userIDs: interner{idx: map[string]int32{}}, itemIDs: interner{idx: map[string]int32{}}, allOne: true}
}

// interner maps original ids to dense ones in order of first appearance.
type interner struct {
	idx map[string]int32
	ids []string
}

func (n *interner) id(s, what string) (int32, error) {
	if i, ok := n.idx[s]; ok {
		return i, nil
	}
	if len(n.ids) >= maxIDs {
		return 0, fmt.Errorf("more than %d distinct %s", maxIDs, what)
	}
	i := int32(len(n.ids))
	n.idx[s] = i
	n.ids = append(n.ids, s)
	return i, nil
}

// maxIDs bounds the distinct people and items (dense ids are int32).
const maxIDs = math.MaxInt32

func (b *builder) add(user, item string, t int64, w float32) error {
	u, err := b.userIDs.id(user, "people")
	if err != nil {
		return err
	}
	i, err := b.itemIDs.id(item, "items")
	if err != nil {
		return err
	}
	b.users = append(b.users, u)
	b.items = append(b.items, i)
	b.times = append(b.times, t)
	b.weights = append(b.weights, w)
	b.allOne = b.allOne && w == 1
	return nil
}

func (b *builder) log() (*Log, error) {
	if len(b.items) == 0 {
		return nil, fmt.Errorf("%s: the file has no interactions", b.name)
	}
	l := &Log{Name: b.name, NumUsers: len(b.userIDs.ids), NumItems: len(b.itemIDs.ids), UserIDs: b.userIDs.ids, ItemIDs: b.itemIDs.ids}
	l.offsets = make([]int64, l.NumUsers+1)
	for _, u := range b.users {
		l.offsets[u+1]++
	}
	for u := 0; u < l.NumUsers; u++ {
		l.offsets[u+1] += l.offsets[u]
	}
	fill := slices.Clone(l.offsets[:l.NumUsers])
	n := len(b.items)
	l.items = make([]int32, n)
	l.times = make([]int64, n)
	if !b.allOne {
		l.weights = make([]float32, n)
	}
	for r, u := range b.users { // counting sort by person keeps file order
		j := fill[u]
		fill[u]++
		l.items[j], l.times[j] = b.items[r], b.times[r]
		if l.weights != nil {
			l.weights[j] = b.weights[r]
		}
	}
	for u := 0; u < l.NumUsers; u++ {
		l.sortByTime(u)
	}
	return l, nil
}

// sortByTime stably sorts person u's interactions by timestamp.
func (l *Log) sortByTime(u int) {
	lo, hi := l.offsets[u], l.offsets[u+1]
	times := l.times[lo:hi]
	if slices.IsSorted(times) {
		return
	}
	idx := make([]int, hi-lo)
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case times[a] < times[b]:
			return -1
		case times[a] > times[b]:
			return 1
		}
		return 0
	})
	items := slices.Clone(l.items[lo:hi])
	ts := slices.Clone(times)
	var ws []float32
	if l.weights != nil {
		ws = slices.Clone(l.weights[lo:hi])
	}
	for j, from := range idx {
		l.items[lo+int64(j)] = items[from]
		l.times[lo+int64(j)] = ts[from]
		if ws != nil {
			l.weights[lo+int64(j)] = ws[from]
		}
	}
}
