package model

import (
	"math"
	"math/rand/v2"
)

// The ranking metrics of DESIGN.md's evaluation protocol. A person's test item
// is ranked against candidates; rank r (0 = first) gives a hit if r < k and
// an NDCG of 1/log2(r+2) if r < k. A candidate whose score ties the test
// item's is ranked ahead of it, so a model that scores everything alike gets
// no credit.

// FullRank is the rank of the test item among all items the person has not
// interacted with in training (train, ascending). The test item itself is
// always a candidate, even if it also occurs in training.
func FullRank(scores []float32, train []int32, test int32) int {
	st := scores[test]
	rank, next := 0, 0
	for i, s := range scores {
		if next < len(train) && int(train[next]) == i {
			next++
			continue
		}
		if i != int(test) && s >= st {
			rank++
		}
	}
	return rank
}

// SampledRank is the rank of the test item among negatives drawn uniformly
// without replacement from the items the person has not interacted with
// (and not the test item), from rng. If fewer such items exist, all are used.
func SampledRank(scores []float32, train []int32, test int32, negatives int, rng *rand.Rand) int {
	items := len(scores)
	excluded := func(i int) bool {
		if i == int(test) {
			return true
		}
		j, _ := search(train, int32(i))
		return j
	}
	avail := items - 1 - len(train)
	if ti, _ := search(train, test); ti {
		avail++
	}
	st := scores[test]
	rank := 0
	if avail <= negatives {
		for i := range scores {
			if !excluded(i) && scores[i] >= st {
				rank++
			}
		}
		return rank
	}
	seen := make(map[int]struct{}, negatives)
	for len(seen) < negatives {
		i := rng.IntN(items)
		if excluded(i) {
			continue
		}
		if _, dup := seen[i]; dup {
			continue
		}
		seen[i] = struct{}{}
		if scores[i] >= st {
			rank++
		}
	}
	return rank
}

func search(sorted []int32, x int32) (bool, int) {
	lo, hi := 0, len(sorted)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if sorted[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo < len(sorted) && sorted[lo] == x, lo
}

// HitNDCG turns a rank into the hit and NDCG at cutoff k.
func HitNDCG(rank, k int) (hit, ndcg float64) {
	if rank >= k {
		return 0, 0
	}
	return 1, 1 / math.Log2(float64(rank)+2)
}
