// Command cabi is the C ABI of package device: the same device, for a
// program in C or any language that calls C. Build it with
//
//	go build -buildmode=c-shared -o libtacitdevice.so ./device/cabi
//
// which also writes libtacitdevice.h, the header to compile against; `make
// c-example` builds it into out/c and runs examples/c/device.c over it.
//
// The API and its rules of ownership are documented in the C comment of
// the cgo preamble below, which cgo copies into the header. (Since Go
// 1.26 cgo no longer copies the comments of //export functions into the
// header, so the comments on the functions here are for Go readers.)
package main

/*
#include <stdint.h>
#include <stdlib.h>

// Tacit device: the C API of package device (github.com/tacitfl/tacit/device),
// a person's device as a library: their events, their consent per kind of
// event, retention and deletion, recommendations explained by their own
// past events, the device's privacy ledger, and its part in a Tacit
// coordinator's rounds.
//
// RULES
//
// Handles. tacit_device_open returns a handle, a positive int64_t, or 0 on
// failure; every other tacit_device_ call takes it. A handle is a number,
// not a pointer: no Go memory is ever handed to C. Handles are never
// reused; a handle that tacit_device_open did not return, or that was
// closed, makes a call fail with an error ("tacit: no open device with
// handle N"): it never crashes. Calls are safe from any thread, at once;
// closing a handle while another thread uses it makes that call fail
// cleanly.
//
// Errors. Every call that can fail takes `char **errOut` last. The call
// first sets *errOut to NULL, and on failure to a message; errOut may be
// NULL if the caller does not want the message. A failed call returns 0
// (a handle), -1 (an int or int64_t) or NULL (a string).
//
// Ownership. Every char * the library returns, results and *errOut alike,
// is allocated with malloc, belongs to the caller, and must be freed with
// tacit_free (free works too); a caller that reuses its errOut variable
// frees the message first. Strings passed in (tacit_str, a const
// char *) are only read during the call and stay the caller's; NULL reads
// as "" except where an argument is required (dir, addr, token, pin).
// Strings in and out are UTF-8 and NUL-terminated.
//
// Times are milliseconds since 1970, UTC. Booleans are int: 0 is false,
// anything else true. Records and lists come back as JSON, as package
// device's MarshalJSON methods write them.
//
// The library starts the Go runtime when it loads; the runtime, and the
// goroutines of a device that joined a coordinator, run until the process
// ends. Close every device before exiting: committed events are safe
// either way, but close also stops the device's agent and its store.
//
// CALLS
//
// tacit_device_open(dir, catalogue, errOut) -> handle, 0 on failure.
//   Opens the device kept in directory dir, making it (mode 0700) if need
//   be. catalogue: a file of item ids, one a line, in the order of the
//   model's items; NULL or "" is the embedded MovieLens catalogue.
// tacit_device_close(h, errOut) -> 0, -1. Leaves rounds, closes the store
//   and ends the handle, even if closing failed.
// tacit_device_record(h, kind, item, unixMs, weight, errOut) -> 0, -1.
//   Keeps one event: kind (lower-case letters, digits, - and _, starting
//   with a letter: "view", "click", "purchase", "rating", ...) on item at
//   unixMs, with weight (0 means 1). Refuses a bad event, or one older
//   than its kind's retention.
// tacit_device_consent(h, kind, grant, errOut) -> 0, -1. Grants or
//   withdraws consent to use events of kind; noted in the ledger. Nothing
//   is used without consent: a new device has none.
// tacit_device_consented(h, kind, errOut) -> 1 consented, 0 not, -1.
// tacit_device_set_retention(h, kind, days, errOut) -> 0, -1. Keeps events
//   of kind for days days (1 to 36500), deleting at once those it expires.
// tacit_device_forget_all(h, errOut) -> events deleted, -1.
// tacit_device_forget_kind(h, kind, errOut) -> events deleted, -1.
// tacit_device_forget_before(h, unixMs, errOut) -> events deleted, -1.
//   Each deletes events for good (they are gone from the file) and notes
//   it in the ledger.
// tacit_device_recommend(h, n, explain, errOut) -> JSON, NULL. The n (1 to
//   1000) items the device's model scores highest, from events of
//   consented kinds: {"model_version", "recommendations": [{"item",
//   "score", with explain "base" and "because": [{"item", "kind",
//   "time_unix_ms", "weight"}]}]}. Fails before the device has a model
//   ("device: no model yet: ...").
// tacit_device_ledger(h, errOut) -> JSON, NULL. The privacy ledger:
//   {"epsilon" (null once unbounded), "delta", "budget", "entries":
//   [{"time_unix_ms", "kind" (round, declined, unknown, consent, forget),
//   "round", "model_version", "reason", ..., "epsilon"}]}.
// tacit_device_summary(h, errOut) -> JSON, NULL. {"events", "max_events",
//   "model_version" (-1: none), "kinds": [{"kind", "events", "consented",
//   "oldest_unix_ms", "retention_days", "not_in_catalogue"}]}.
// tacit_device_export(h, errOut) -> JSON, NULL. Everything the device holds
//   about the person: events, consent, retention, policy, summary, ledger.
// tacit_device_set_conditions(h, charging, unmetered, idle, errOut) -> 0,
//   -1. The device's state; its agent checks in only while its policy's
//   conditions hold, and a device starts with none of them.
// tacit_device_join(h, addr, token, pin, keyfile, errOut) -> 0, -1. Takes
//   part in the rounds of the coordinator at addr (host:port, UDP) in the
//   background, with the enrolment token, the hex SHA-256 pin of the
//   coordinator's certificate and, unless NULL or "", the file of the
//   device's signing key; until leave or close.
// tacit_device_leave(h, errOut) -> 0, -1. Stops taking part, and waits.
// tacit_device_fetch_model(h, addr, token, pin, errOut) -> 0, -1. Downloads
//   the coordinator's current model, for recommend, without taking part in
//   a round.
// tacit_device_status(h, errOut) -> JSON, NULL. {"running", "waiting" (why
//   the agent does not check in now, or ""), "last_error"}.
// tacit_free(p). Frees a string the library returned; NULL is allowed.
typedef const char *tacit_str;
*/
import "C"

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/tacitfl/tacit/device"
)

// A c-shared library needs a main; it is never run.
func main() {}

// devices is the handle table. runtime/cgo.Handle would do the numbering,
// but its Value and Delete panic on a handle that is not live, and a C
// caller's stale or mistyped handle must be an error, not a crash: so the
// table is a map, under a lock, with numbers that are never reused.
var devices = struct {
	sync.Mutex
	last int64
	m    map[int64]*device.Device
}{m: map[int64]*device.Device{}}

func register(d *device.Device) int64 {
	devices.Lock()
	defer devices.Unlock()
	devices.last++
	devices.m[devices.last] = d
	return devices.last
}

func lookup(h C.int64_t) (*device.Device, error) {
	devices.Lock()
	defer devices.Unlock()
	if d := devices.m[int64(h)]; d != nil {
		return d, nil
	}
	return nil, fmt.Errorf("tacit: no open device with handle %d", int64(h))
}

// unregister takes a handle out of the table, so that no later call finds it.
func unregister(h C.int64_t) (*device.Device, error) {
	devices.Lock()
	defer devices.Unlock()
	d := devices.m[int64(h)]
	if d == nil {
		return nil, fmt.Errorf("tacit: no open device with handle %d", int64(h))
	}
	delete(devices.m, int64(h))
	return d, nil
}

// start clears *errOut, as every call does first.
func start(errOut **C.char) {
	if errOut != nil {
		*errOut = nil
	}
}

// setErr leaves err's message in *errOut, for the caller to free.
func setErr(errOut **C.char, err error) {
	if errOut == nil {
		return
	}
	if *errOut != nil { // only this call can have set it
		C.free(unsafe.Pointer(*errOut))
	}
	*errOut = C.CString(err.Error())
}

// recovered, deferred by every exported function, turns a panic into an
// error: a Go panic that reached C would end the caller's process. onPanic
// sets the call's failure result.
func recovered(errOut **C.char, onPanic func()) {
	if r := recover(); r != nil {
		onPanic()
		setErr(errOut, fmt.Errorf("tacit: internal error: %v", r))
	}
}

// need is a required string argument, or an error naming it if it is NULL.
func need(p C.tacit_str, name string) (string, error) {
	if p == nil {
		return "", fmt.Errorf("tacit: %s is NULL", name)
	}
	return C.GoString(p), nil
}

// status is an int-returning call's result: 0, or -1 with err in *errOut.
func status(errOut **C.char, err error) C.int {
	if err != nil {
		setErr(errOut, err)
		return -1
	}
	return 0
}

// count is a count-returning call's result: n, or -1 with err in *errOut.
func count(errOut **C.char, n int, err error) C.int64_t {
	if err != nil {
		setErr(errOut, err)
		return -1
	}
	return C.int64_t(n)
}

// text is a string-returning call's result: s, malloc'ed, or NULL with err
// in *errOut.
func text(errOut **C.char, s string, err error) *C.char {
	if err != nil {
		setErr(errOut, err)
		return nil
	}
	return C.CString(s)
}

// marshal is v as JSON, for text.
func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// tacit_device_open opens the device kept in the directory dir, making it
// if need be. catalogue names a file of item ids, one a line, in the order
// of the model's items; NULL or "" is the embedded MovieLens catalogue.
// Returns a handle, or 0 on failure.
//
//export tacit_device_open
func tacit_device_open(dir, catalogue C.tacit_str, errOut **C.char) (h C.int64_t) {
	start(errOut)
	defer recovered(errOut, func() { h = 0 })
	path, err := need(dir, "dir")
	if err != nil {
		setErr(errOut, err)
		return 0
	}
	if path == "" {
		setErr(errOut, errors.New("tacit: dir is empty"))
		return 0
	}
	var opts device.Options
	if catalogue != nil {
		opts.Catalogue = C.GoString(catalogue)
	}
	d, err := device.Open(path, &opts)
	if err != nil {
		setErr(errOut, err)
		return 0
	}
	return C.int64_t(register(d))
}

// tacit_device_close stops the device taking part in rounds, closes its
// store and ends the handle, which no call accepts after this, even if
// closing failed. Returns 0, or -1 on failure.
//
//export tacit_device_close
func tacit_device_close(h C.int64_t, errOut **C.char) (rc C.int) {
	start(errOut)
	defer recovered(errOut, func() { rc = -1 })
	d, err := unregister(h)
	if err == nil {
		err = d.Close()
	}
	return status(errOut, err)
}

// tacit_device_record keeps one event: kind (lower-case letters, digits,
// - and _, such as "view", "click", "purchase", "rating") on item at
// unix_ms, with weight (0: 1). Returns 0, or -1 on failure (a bad event, or
// one older than its kind's retention).
//
//export tacit_device_record
func tacit_device_record(h C.int64_t, kind, item C.tacit_str, unixMs C.int64_t, weight C.double, errOut **C.char) (rc C.int) {
	start(errOut)
	defer recovered(errOut, func() { rc = -1 })
	d, err := lookup(h)
	if err == nil {
		err = d.Record(&device.Event{Kind: C.GoString(kind), Item: C.GoString(item), UnixMillis: int64(unixMs), Weight: float64(weight)})
	}
	return status(errOut, err)
}

// tacit_device_consent grants (grant != 0) or withdraws (grant == 0) the
// person's consent to use events of kind, and notes it in the ledger.
// Returns 0, or -1 on failure.
//
//export tacit_device_consent
func tacit_device_consent(h C.int64_t, kind C.tacit_str, grant C.int, errOut **C.char) (rc C.int) {
	start(errOut)
	defer recovered(errOut, func() { rc = -1 })
	d, err := lookup(h)
	if err == nil {
		err = d.Consent(C.GoString(kind), grant != 0)
	}
	return status(errOut, err)
}

// tacit_device_consented returns 1 if the person consents to the use of
// kind's events, 0 if not, -1 on failure.
//
//export tacit_device_consented
func tacit_device_consented(h C.int64_t, kind C.tacit_str, errOut **C.char) (rc C.int) {
	start(errOut)
	defer recovered(errOut, func() { rc = -1 })
	d, err := lookup(h)
	if err != nil {
		return status(errOut, err)
	}
	if d.Consented(C.GoString(kind)) {
		return 1
	}
	return 0
}

// tacit_device_set_retention keeps events of kind for days days (1 to
// 36500) and deletes at once those it makes expire. Returns 0, or -1 on
// failure.
//
//export tacit_device_set_retention
func tacit_device_set_retention(h C.int64_t, kind C.tacit_str, days C.int, errOut **C.char) (rc C.int) {
	start(errOut)
	defer recovered(errOut, func() { rc = -1 })
	d, err := lookup(h)
	if err == nil {
		err = d.SetRetention(C.GoString(kind), int(days))
	}
	return status(errOut, err)
}

// tacit_device_forget_all deletes every event, for good, and notes it in
// the ledger. Returns how many it deleted, or -1 on failure.
//
//export tacit_device_forget_all
func tacit_device_forget_all(h C.int64_t, errOut **C.char) (n C.int64_t) {
	start(errOut)
	defer recovered(errOut, func() { n = -1 })
	d, err := lookup(h)
	if err != nil {
		return count(errOut, 0, err)
	}
	deleted, err := d.ForgetAll()
	return count(errOut, deleted, err)
}

// tacit_device_forget_kind deletes every event of kind, for good. Returns
// how many, or -1 on failure.
//
//export tacit_device_forget_kind
func tacit_device_forget_kind(h C.int64_t, kind C.tacit_str, errOut **C.char) (n C.int64_t) {
	start(errOut)
	defer recovered(errOut, func() { n = -1 })
	d, err := lookup(h)
	if err != nil {
		return count(errOut, 0, err)
	}
	deleted, err := d.ForgetKind(C.GoString(kind))
	return count(errOut, deleted, err)
}

// tacit_device_forget_before deletes every event before unix_ms, for good.
// Returns how many, or -1 on failure.
//
//export tacit_device_forget_before
func tacit_device_forget_before(h C.int64_t, unixMs C.int64_t, errOut **C.char) (n C.int64_t) {
	start(errOut)
	defer recovered(errOut, func() { n = -1 })
	d, err := lookup(h)
	if err != nil {
		return count(errOut, 0, err)
	}
	deleted, err := d.ForgetBefore(int64(unixMs))
	return count(errOut, deleted, err)
}

// tacit_device_recommend returns the n (1 to 1000) items the device's model
// scores highest for the person, as JSON: {"model_version": V,
// "recommendations": [{"item", "score", and with explain != 0 "base" and
// "because": [{"item", "kind", "time_unix_ms", "weight"}]}]}. NULL on
// failure, such as before the device has a model.
//
//export tacit_device_recommend
func tacit_device_recommend(h C.int64_t, n C.int, explain C.int, errOut **C.char) (s *C.char) {
	start(errOut)
	defer recovered(errOut, func() { s = nil })
	d, err := lookup(h)
	if err != nil {
		return text(errOut, "", err)
	}
	r, err := d.Recommend(int(n), explain != 0)
	if err != nil {
		return text(errOut, "", err)
	}
	js, err := r.JSON()
	return text(errOut, js, err)
}

// tacit_device_ledger returns the device's privacy ledger as JSON:
// {"epsilon", "delta", "budget", "entries": [{"time_unix_ms", "kind", ...}]},
// epsilon null once unbounded. NULL on failure.
//
//export tacit_device_ledger
func tacit_device_ledger(h C.int64_t, errOut **C.char) (s *C.char) {
	start(errOut)
	defer recovered(errOut, func() { s = nil })
	d, err := lookup(h)
	if err != nil {
		return text(errOut, "", err)
	}
	js, err := marshal(d.Ledger())
	return text(errOut, js, err)
}

// tacit_device_summary returns what the device keeps, as JSON: {"events",
// "max_events", "model_version", "kinds": [{"kind", "events", "consented",
// "oldest_unix_ms", "retention_days", "not_in_catalogue"}]}. NULL on
// failure.
//
//export tacit_device_summary
func tacit_device_summary(h C.int64_t, errOut **C.char) (s *C.char) {
	start(errOut)
	defer recovered(errOut, func() { s = nil })
	d, err := lookup(h)
	if err != nil {
		return text(errOut, "", err)
	}
	sum, err := d.Summary()
	if err != nil {
		return text(errOut, "", err)
	}
	js, err := marshal(sum)
	return text(errOut, js, err)
}

// tacit_device_export returns everything the device holds about the
// person, as indented JSON: events, consent, retention, policy, summary and
// ledger. NULL on failure.
//
//export tacit_device_export
func tacit_device_export(h C.int64_t, errOut **C.char) (s *C.char) {
	start(errOut)
	defer recovered(errOut, func() { s = nil })
	d, err := lookup(h)
	if err != nil {
		return text(errOut, "", err)
	}
	js, err := d.Export()
	return text(errOut, js, err)
}

// tacit_device_set_conditions tells the device its state: on external
// power, on an unmetered network, idle. Returns 0, or -1 on failure.
//
//export tacit_device_set_conditions
func tacit_device_set_conditions(h C.int64_t, charging, unmetered, idle C.int, errOut **C.char) (rc C.int) {
	start(errOut)
	defer recovered(errOut, func() { rc = -1 })
	d, err := lookup(h)
	if err == nil {
		d.SetConditions(charging != 0, unmetered != 0, idle != 0)
	}
	return status(errOut, err)
}

// connection is the device.Connection of C strings; keyfile may be NULL.
func connection(addr, token, pin, keyfile C.tacit_str) (*device.Connection, error) {
	c := &device.Connection{KeyFile: C.GoString(keyfile)}
	var err error
	if c.Address, err = need(addr, "addr"); err != nil {
		return nil, err
	}
	if c.Token, err = need(token, "token"); err != nil {
		return nil, err
	}
	if c.Pin, err = need(pin, "pin"); err != nil {
		return nil, err
	}
	return c, nil
}

// tacit_device_join starts taking part in the rounds of the coordinator at
// addr (host:port, UDP), with the enrolment token, the SHA-256 pin of the
// coordinator's certificate and, if not NULL or "", the file of the
// device's signing key; in the background, until tacit_device_leave or
// tacit_device_close. Returns 0, or -1 on failure; a failure of the
// running agent is in tacit_device_status.
//
//export tacit_device_join
func tacit_device_join(h C.int64_t, addr, token, pin, keyfile C.tacit_str, errOut **C.char) (rc C.int) {
	start(errOut)
	defer recovered(errOut, func() { rc = -1 })
	d, err := lookup(h)
	if err != nil {
		return status(errOut, err)
	}
	c, err := connection(addr, token, pin, keyfile)
	if err == nil {
		err = d.Join(c)
	}
	return status(errOut, err)
}

// tacit_device_leave stops taking part in rounds and waits for the agent to
// stop. Returns 0, or -1 on failure (a bad handle).
//
//export tacit_device_leave
func tacit_device_leave(h C.int64_t, errOut **C.char) (rc C.int) {
	start(errOut)
	defer recovered(errOut, func() { rc = -1 })
	d, err := lookup(h)
	if err == nil {
		d.Leave()
	}
	return status(errOut, err)
}

// tacit_device_fetch_model downloads the coordinator's current model
// without taking part in a round (Device.FetchModel). Returns 0, or -1 on
// failure.
//
//export tacit_device_fetch_model
func tacit_device_fetch_model(h C.int64_t, addr, token, pin C.tacit_str, errOut **C.char) (rc C.int) {
	start(errOut)
	defer recovered(errOut, func() { rc = -1 })
	d, err := lookup(h)
	if err != nil {
		return status(errOut, err)
	}
	c, err := connection(addr, token, pin, nil)
	if err == nil {
		err = d.FetchModel(c)
	}
	return status(errOut, err)
}

// tacit_device_status returns what the device's agent is doing, as JSON:
// {"running": bool, "waiting": why it does not check in now, or "",
// "last_error": the failure it stopped on, or ""}. NULL on failure.
//
//export tacit_device_status
func tacit_device_status(h C.int64_t, errOut **C.char) (s *C.char) {
	start(errOut)
	defer recovered(errOut, func() { s = nil })
	d, err := lookup(h)
	if err != nil {
		return text(errOut, "", err)
	}
	st := d.Status()
	js, err := marshal(struct {
		Running   bool   `json:"running"`
		Waiting   string `json:"waiting"`
		LastError string `json:"last_error"`
	}{st.Running, st.Waiting, st.LastError})
	return text(errOut, js, err)
}

// tacit_free frees a string the library returned (a result or an *err).
// NULL is allowed.
//
//export tacit_free
func tacit_free(p *C.char) {
	C.free(unsafe.Pointer(p))
}
