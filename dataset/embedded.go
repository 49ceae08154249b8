package dataset

import (
	"bytes"
	_ "embed"
	"fmt"

	"github.com/klauspost/compress/zstd"
)

// The default data set, MovieLens ml-latest-small (GroupLens), shipped with
// its licence: redistribution is allowed under the same terms, for
// non-commercial use, citing Harper and Konstan 2015.
var (
	//go:embed embedded/ml-latest-small/ratings.csv.zst
	embeddedRatings []byte
	//go:embed embedded/ml-latest-small/catalogue.tsv.zst
	embeddedCatalogue []byte
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

// EmbeddedCatalogue is the embedded data set's items as a device reads
// them: one a line, in the order of its dense item ids, each followed by a
// tab and the movie's title (from ml-latest-small's movies.csv; made by
// dataset/internal/mkembed).
func EmbeddedCatalogue() ([]byte, error) {
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("embedded catalogue: %w", err)
	}
	defer dec.Close()
	return dec.DecodeAll(embeddedCatalogue, nil)
}

// EmbeddedLicense is the embedded data set's README: its licence and the
// citation it asks for.
func EmbeddedLicense() string { return embeddedLicense }
