// Package device is the person's side of Tacit as an app embeds it: a
// device's own store of the person's events, their consent per kind of
// event, retention and deletion, recommendations explained by the
// person's own past events, the device's privacy ledger, and its part in
// the coordinator's rounds (package client's Agent, fed from the store).
//
// What an application uses: Open a device in a directory of its own; Record
// events as the person acts; Consent (nothing is used until the person
// consents to a kind); SetConditions as the device's state changes; Join a
// coordinator to take part in rounds, or FetchModel to only download its
// model; Recommend; Summary, Ledger and Export for what the device holds
// and what it gave away; ServePage for the person's own page of all that,
// on loopback; ForgetAll, ForgetKind and ForgetBefore; Close.
//
// Events of a kind without consent are used for nothing, not even to leave
// out of recommendations the items they name: withdrawing consent to
// purchases makes purchased items recommendable again.
//
// # Bindings
//
// Every exported function and method takes and returns only types gomobile
// can bind (strings, numbers, booleans, pointers to this package's structs,
// error): times are milliseconds since 1970, and lists are reached through
// Len and Get methods rather than slices. A C ABI over the same API is in
// device/cabi.
//
// # On disk
//
// A device's directory holds events.db (bbolt: the events, consent,
// retention and the last model; its layout is in store.go, versioned by
// storeFormat), ledger.jsonl (client.Ledger) and, if the person wrote one,
// policy.toml (client.LoadPolicy). Files are mode 0600 and the directory
// 0700. bbolt commits each transaction with fsync, so a killed process
// leaves the store as of its last commit. A deletion (forget, or retention)
// rewrites the whole file (bbolt.Compact) and renames it into place, since
// bbolt reuses freed pages without clearing them: deleted events are gone
// from the file, not just unlinked in it. Blocks the file system freed may
// still hold them until reused; a device that must defeat forensic
// recovery needs an encrypted file system under the directory.
//
// The catalogue, the list of item ids in the order of the model's items,
// is the embedded MovieLens data set's unless Options.Catalogue names a
// file: the coordinator does not yet send one with its model.
package device
