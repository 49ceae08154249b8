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
// Step under its own scheduler; KeepLedger with OpenLedger and a Policy
// (DefaultPolicy, or LoadPolicy from the person's file) to keep the
// device's privacy ledger and check every plan: a device that keeps a
// ledger declines a plan outside its policy, writing why in the ledger, and
// accounts every round at its own δ. Plain, unmasked updates need the
// policy's AllowPlain; an agent without a ledger (a simulation's virtual
// device) takes part in whatever it is asked to. To recommend without
// taking part, QUIC.LatestModel fetches the current model and its config.
package client
