// Command mkembed recreates the embedded default data set: it compresses a
// MovieLens ratings.csv with zstd at the best level.
//
//	go run ./dataset/internal/mkembed ../shared/data/ml-latest-small/ratings.csv dataset/embedded/ml-latest-small/ratings.csv.zst
package main
