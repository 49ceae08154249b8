// Package dataset reads and makes interaction logs: loaders for MovieLens
// ratings.csv and u.data and for a generic user,item,timestamp[,weight] CSV,
// the leave-last-out split of the evaluation protocol, seeded synthetic
// populations, and the embedded default data set. It never trains.
//
// Every input is hostile: lines are capped at MaxLineBytes before they are
// held, a malformed row is a *ParseError naming the file and line, and ids
// are remapped to dense int32s in order of first appearance.
//
// A Log keeps interactions grouped by person in flat arrays with offsets, so
// a million synthetic people cost about 4 bytes per interaction (synthetic
// logs carry no timestamps: their order is their time).
//
// The embedded data set is MovieLens ml-latest-small, shipped under its
// licence (embedded/ml-latest-small/README.txt: non-commercial use, cite
// Harper and Konstan 2015) as zstd-compressed ratings.csv (2.4 MB → 0.65 MB),
// made reproducibly by internal/mkembed.
//
// What an application uses: Open (a spec: a file, synthetic:..., or "" for
// the embedded data), or a loader on a reader (LoadMovieLens, LoadUData,
// LoadCSV); Synthetic with SyntheticConfig; LeaveLastOut for the
// evaluation's split.
package dataset
