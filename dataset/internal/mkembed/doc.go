// Command mkembed recreates the embedded default data set: it compresses a
// MovieLens ratings.csv, and its movies.csv (the titles a device shows),
// with zstd at the best level.
//
//	go run ./dataset/internal/mkembed ../shared/data/ml-latest-small/ratings.csv dataset/embedded/ml-latest-small/ratings.csv.zst
//	go run ./dataset/internal/mkembed ../shared/data/ml-latest-small/movies.csv dataset/embedded/ml-latest-small/movies.csv.zst
package main
