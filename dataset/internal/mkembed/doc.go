// Command mkembed recreates the embedded default data set: it compresses a
// MovieLens ratings.csv with zstd at the best level, and writes the
// catalogue a device reads (the items in the data set's order, each with
// its title from movies.csv).
//
//	go run ./dataset/internal/mkembed ../shared/data/ml-latest-small/ratings.csv dataset/embedded/ml-latest-small/ratings.csv.zst
//	go run ./dataset/internal/mkembed catalogue ../shared/data/ml-latest-small/movies.csv dataset/embedded/ml-latest-small/catalogue.tsv.zst
package main
