// Package coordinator runs federated rounds: the population, the round
// machine (selection, configuration, reporting, commit), pace steering and,
// around it, the drivers that persist, serve and measure. It never trains.
//
// The round machine (Machine) is a pure state machine in the style of
// etcd-io/raft: it takes events — a device's check-in, a report, a tick of
// the clock — with the time they happen, answers each request directly, and
// hands what the driver must persist and publish (a committed or abandoned
// round) to Ready. It does no I/O, reads no clock and starts no goroutines,
// which is what lets scenario tests script stragglers, dropouts and restarts
// and lets the simulator run it faster than wall time.
//
// Selection is Poisson sampling by a seeded hash: device d takes part in
// round r if H(seed, r, d) < q, with q = Goal·OverSelection / population.
// The cohort of a round is then a function of (seed, round, population),
// not of the order devices arrive in, so a simulation and a deployment over
// the network select the same devices; and each device is sampled
// independently with probability q, the assumption of the privacy
// accountant's amplification by sampling.
package coordinator
