package dataset

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// The default data set, MovieLens ml-latest-small (GroupLens), shipped with
// its licence: redistribution is allowed under the same terms, for
// non-commercial use, citing Harper and Konstan 2015.
var (
	//go:embed embedded/ml-latest-small/ratings.csv.zst
	embeddedRatings []byte
	//go:embed embedded/ml-latest-small/movies.csv.zst
	embeddedMovies []byte
	//go:embed embedded/ml-latest-small/README.txt
	embeddedLicense string
)

// EmbeddedName names the embedded data set in specs and summaries.
const EmbeddedName = "ml-latest-small"

// Embedded decodes the embedded MovieLens ml-latest-small ratings.
func Embedded() (*Log, error) {
	dec, err := zstd.NewReader(bytes.NewReader(embeddedRatings), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("embedded data: %w", err)
	}
	defer dec.Close()
	l, err := LoadMovieLens(dec, "ratings.csv")
	if err != nil {
		return nil, fmt.Errorf("embedded data: %w", err)
	}
	l.Name = EmbeddedName
	return l, nil
}

// EmbeddedTitles decodes the embedded data set's movie titles, by movieId
// (its item ids).
func EmbeddedTitles() (map[string]string, error) {
	dec, err := zstd.NewReader(bytes.NewReader(embeddedMovies), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("embedded titles: %w", err)
	}
	defer dec.Close()
	r := csv.NewReader(dec)
	rows, err := r.ReadAll()
	if err != nil || len(rows) == 0 || len(rows[0]) < 2 || rows[0][0] != "movieId" || rows[0][1] != "title" {
		return nil, fmt.Errorf("embedded titles: not a MovieLens movies.csv (%v)", err)
	}
	titles := make(map[string]string, len(rows)-1)
	for _, row := range rows[1:] {
		titles[row[0]] = row[1]
	}
	return titles, nil
}

// EmbeddedLicense is the embedded data set's README: its licence and the
// citation it asks for.
func EmbeddedLicense() string { return embeddedLicense }
