// Package client is the device side of Tacit: what runs on a person's device
// (an app embedding it, `tacit agent`, or a virtual device in `tacit
// simulate`). It trains on data only the device holds and returns only an
// update of the shared parameters; the person's own vector and events stay
// here. It decides nothing for the coordinator.
//
// The simulator calls the same functions a real device does; only the
// transport and the clock differ.
//
// What an application uses: NewAgent with the device's Data, a Coordinator
// (a *QUIC for a real one) and a Workspace (NewWorkspace), then Run, or
// Step under its own scheduler; KeepLedger with OpenLedger to keep the
// device's privacy ledger and budget.
package client
