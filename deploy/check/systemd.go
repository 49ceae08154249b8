package check

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Unit is a systemd unit file: each section's settings, by key, in order.
type Unit map[string]map[string][]string

// ParseUnit reads a unit file, without its continuation lines.
func ParseUnit(text string) Unit {
	u := Unit{}
	section := ""
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
			u[section] = map[string][]string{}
		default:
			if k, v, ok := strings.Cut(line, "="); ok && section != "" {
				u[section][k] = append(u[section][k], v)
			}
		}
	}
	return u
}

// Get returns a setting's last value in a section.
func (u Unit) Get(section, key string) string {
	v := u[section][key]
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

// UnitProblems checks a coordinator's systemd unit for what the
// coordinator relies on: --state in its StateDirectory, --tokens, an
// EnvironmentFile for the other flags, SIGHUP on reload, SIGTERM on stop
// with time to drain, a user of its own, and the main hardening settings
// (ProcSubset=pid would hide /proc/stat from the process metrics).
func UnitProblems(text string) []string {
	var problems []string
	report := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	u := ParseUnit(text)
	get := func(k string) string { return u.Get("Service", k) }
	exec := get("ExecStart")
	if !strings.Contains(exec, " coordinator ") {
		report("ExecStart does not run tacit coordinator")
	}
	if dir := get("StateDirectory"); dir == "" || !strings.Contains(exec, "--state /var/lib/"+dir+"/") {
		report("ExecStart needs --state in /var/lib/$StateDirectory/ (StateDirectory=%q)", dir)
	}
	if !strings.Contains(exec, "--tokens ") {
		report("ExecStart needs --tokens")
	}
	if get("EnvironmentFile") == "" || !strings.Contains(exec, "$") {
		report("the flags need an EnvironmentFile, used in ExecStart")
	}
	if r := get("ExecReload"); !strings.Contains(r, "-HUP") || !strings.Contains(r, "$MAINPID") {
		report("ExecReload needs to send SIGHUP to $MAINPID (the tokens file is reread on SIGHUP)")
	}
	if s := get("KillSignal"); s != "SIGTERM" && s != "TERM" {
		report("KillSignal=%s: the coordinator drains on SIGTERM", s)
	}
	stop := get("TimeoutStopSec")
	if _, err := strconv.Atoi(stop); err == nil {
		stop += "s" // systemd's plain number is seconds
	}
	if d, err := time.ParseDuration(stop); err != nil || d < DrainSeconds*time.Second {
		report("TimeoutStopSec=%q: the coordinator drains for up to %d s", get("TimeoutStopSec"), DrainSeconds)
	}
	if get("User") == "" && get("DynamicUser") != "yes" {
		report("the coordinator needs a user of its own (User= or DynamicUser=yes)")
	}
	for k, v := range map[string]string{"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes"} {
		if get(k) != v {
			report("%s=%s wanted", k, v)
		}
	}
	if get("ProcSubset") == "pid" {
		report("ProcSubset=pid hides /proc/stat, which process_start_time_seconds needs")
	}
	return problems
}
