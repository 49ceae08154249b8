package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tacitfl/tacit/device"
)

// deviceDir is a fresh device directory and a five-item catalogue.
func deviceDir(t *testing.T) (dir, catalogue string) {
	t.Helper()
	tmp := t.TempDir()
	catalogue = filepath.Join(tmp, "catalogue.txt")
	if err := os.WriteFile(catalogue, []byte("a\nb\nc\nd\ne\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(tmp, "device"), catalogue
}

// runDevice runs `tacit device --dir dir --catalogue catalogue args...`
// and wants it to succeed.
func runDeviceOK(t *testing.T, dir, catalogue string, args ...string) string {
	t.Helper()
	all := append([]string{"device", "--dir", dir, "--catalogue", catalogue}, args...)
	status, stdout, stderr := runTacit(t, all...)
	if status != 0 || stderr != "" {
		t.Fatalf("tacit %s: status %d, stderr %q", strings.Join(all, " "), status, stderr)
	}
	return stdout
}

func decodeJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%q: %v", s, err)
	}
}

// summaryJSON is what `tacit device status --json` prints.
type summaryJSON struct {
	Events       int   `json:"events"`
	ModelVersion int64 `json:"model_version"`
	Kinds        []struct {
		Kind          string `json:"kind"`
		Events        int    `json:"events"`
		Consented     bool   `json:"consented"`
		Oldest        int64  `json:"oldest_unix_ms"`
		RetentionDays int    `json:"retention_days"`
	} `json:"kinds"`
}

func status(t *testing.T, dir, catalogue string) summaryJSON {
	t.Helper()
	var s summaryJSON
	decodeJSON(t, runDeviceOK(t, dir, catalogue, "status", "--json"), &s)
	return s
}

// TestDeviceSubcommands: every subcommand's happy path, readable and as
// JSON, against one device.
func TestDeviceSubcommands(t *testing.T) {
	dir, cat := deviceDir(t)
	now := time.Now().UTC()
	day := func(d int) string { return now.AddDate(0, 0, d).Format(time.RFC3339) }

	out := runDeviceOK(t, dir, cat, "record", "--kind", "view", "--item", "a", "--time", day(-3))
	if !strings.Contains(out, "recorded view a at ") || !strings.Contains(out, "consent --kind view --grant") {
		t.Errorf("record:\n%s", out)
	}
	var ev struct {
		Kind, Item string
		Time       int64   `json:"time_unix_ms"`
		Weight     float64 `json:"weight"`
	}
	decodeJSON(t, runDeviceOK(t, dir, cat, "record", "--kind", "click", "--item", "b", "--weight", "2", "--json"), &ev)
	if ev.Kind != "click" || ev.Item != "b" || ev.Weight != 2 || time.Since(time.UnixMilli(ev.Time)) > time.Minute {
		t.Errorf("record --json: %+v", ev)
	}

	// An import: a header, RFC 3339 and Unix seconds, a row naming its
	// kind, a blank line, CRLF, and one row past the default retention.
	csv := filepath.Join(t.TempDir(), "history.csv")
	rows := "item,timestamp,kind\r\nc," + day(-2) + "\r\n\nd," + strconv.FormatInt(now.AddDate(0, 0, -1).Unix(), 10) + ",purchase\nb," + day(-400) + "\n"
	if err := os.WriteFile(csv, []byte(rows), 0o600); err != nil {
		t.Fatal(err)
	}
	var counts struct {
		Imported int `json:"imported"`
		Skipped  int `json:"skipped_past_retention"`
	}
	decodeJSON(t, runDeviceOK(t, dir, cat, "import", csv, "--json"), &counts)
	if counts.Imported != 2 || counts.Skipped != 1 {
		t.Errorf("import: %+v, want 2 imported and 1 skipped", counts)
	}
	if s := status(t, dir, cat); s.Events != 4 || s.ModelVersion != -1 {
		t.Errorf("status after import: %+v", s)
	}

	out = runDeviceOK(t, dir, cat, "retention", "--kind", "view", "--days", "3000")
	if !strings.Contains(out, "view events are kept 3000 days; 0 older ones deleted") {
		t.Errorf("retention:\n%s", out)
	}
	out = runDeviceOK(t, dir, cat, "import", "--kind", "rating", csv)
	if !strings.Contains(out, "imported 2 events from "+csv+"; 1 skipped") {
		t.Errorf("import, readable:\n%s", out)
	}
	var ret struct {
		Kind    string `json:"kind"`
		Days    int    `json:"retention_days"`
		Deleted int    `json:"deleted"`
	}
	decodeJSON(t, runDeviceOK(t, dir, cat, "retention", "--kind", "rating", "--days", "1", "--json"), &ret)
	if ret.Kind != "rating" || ret.Days != 1 || ret.Deleted != 1 {
		t.Errorf("retention --json: %+v, want the rating of two days ago deleted", ret)
	}

	out = runDeviceOK(t, dir, cat, "consent", "--kind", "view", "--grant")
	if !strings.Contains(out, "granted consent to use view events") {
		t.Errorf("consent:\n%s", out)
	}
	var c struct {
		Kind      string `json:"kind"`
		Consented bool   `json:"consented"`
	}
	decodeJSON(t, runDeviceOK(t, dir, cat, "consent", "--kind", "click", "--withdraw", "--json"), &c)
	if c.Kind != "click" || c.Consented {
		t.Errorf("consent --json: %+v", c)
	}

	s := status(t, dir, cat)
	kinds := map[string]int{}
	for _, k := range s.Kinds {
		kinds[k.Kind] = k.Events
		if k.Kind == "view" && (!k.Consented || k.RetentionDays != 3000 || k.Oldest == 0) {
			t.Errorf("status: view %+v", k)
		}
	}
	if s.Events != 5 || kinds["view"] != 2 || kinds["click"] != 1 || kinds["purchase"] != 2 || kinds["rating"] != 0 {
		t.Errorf("status: %+v", s)
	}
	out = runDeviceOK(t, dir, cat, "status")
	for _, w := range []string{"events  5", "model   none yet", "kind ", "view      2       granted  3000 days"} {
		if !strings.Contains(out, w) {
			t.Errorf("status lacks %q:\n%s", w, out)
		}
	}

	out = runDeviceOK(t, dir, cat, "ledger")
	for _, w := range []string{"consent", "granted consent to use view events", "withdrew consent to use click events", "0 rounds, 0 bytes sent, 0 declined; ε = 0"} {
		if !strings.Contains(out, w) {
			t.Errorf("ledger lacks %q:\n%s", w, out)
		}
	}
	var l struct {
		Epsilon *float64 `json:"epsilon"`
		Entries []struct {
			Kind   string `json:"kind"`
			Reason string `json:"reason"`
		} `json:"entries"`
	}
	decodeJSON(t, runDeviceOK(t, dir, cat, "ledger", "--json"), &l)
	if l.Epsilon == nil || *l.Epsilon != 0 || len(l.Entries) != 2 || l.Entries[0].Kind != "consent" {
		t.Errorf("ledger --json: %+v", l)
	}

	var export struct {
		Summary summaryJSON     `json:"summary"`
		Consent map[string]bool `json:"consent"`
		Events  []struct {
			Item string `json:"item"`
		} `json:"events"`
	}
	decodeJSON(t, runDeviceOK(t, dir, cat, "export"), &export)
	if export.Summary.Events != 5 || len(export.Events) != 5 || !export.Consent["view"] {
		t.Errorf("export: %+v", export)
	}

	code, stdout, stderr := runTacit(t, "device", "--dir", dir, "--catalogue", cat, "recommend", "--n", "3")
	if code != 1 || stdout != "" || !strings.HasPrefix(stderr, "tacit device: recommend: no model yet") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("recommend without a model: status %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	var forgot struct {
		Deleted int `json:"deleted"`
	}
	decodeJSON(t, runDeviceOK(t, dir, cat, "forget", "--kind", "click", "--json"), &forgot)
	if forgot.Deleted != 1 {
		t.Errorf("forget --kind click: %+v", forgot)
	}
	decodeJSON(t, runDeviceOK(t, dir, cat, "forget", "--before", now.AddDate(0, 0, -2).Add(time.Hour).Format(time.RFC3339), "--json"), &forgot)
	if forgot.Deleted != 2 {
		t.Errorf("forget --before two days ago: %+v, want the views of three days ago and the one of two days ago", forgot)
	}
	out = runDeviceOK(t, dir, cat, "forget", "--all")
	if !strings.Contains(out, "deleted 2 events for good") {
		t.Errorf("forget --all:\n%s", out)
	}
	if s := status(t, dir, cat); s.Events != 0 {
		t.Errorf("after forget --all: %+v", s)
	}
}

// TestDeviceUsageErrors: what the person gets wrong is one line and
// status 2, and leaves the device as it was.
func TestDeviceUsageErrors(t *testing.T) {
	dir, cat := deviceDir(t)
	d := func(args ...string) []string {
		return append([]string{"device", "--dir", dir, "--catalogue", cat}, args...)
	}
	for _, tc := range []struct {
		args    []string
		problem string
	}{
		{[]string{"device"}, "missing subcommand: record, import"},
		{[]string{"device", "--dir", dir}, "missing subcommand"},
		{[]string{"device", "--nope"}, "flag provided but not defined: -nope"},
		{d("frobnicate"), `unknown subcommand "frobnicate"`},
		{[]string{"device", "status"}, "--dir is required"},
		{[]string{"device", "record", "--item", "a"}, "--dir is required"},
		{d("record", "--kind", "View", "--item", "a"), `record: bad kind "View"`},
		{d("record", "--item", "a", "--time", "yesterday"), `record: --time: time "yesterday" is not RFC 3339`},
		{d("record", "--kind", "view"), "record: --item is required"},
		{d("record", "--item", "a", "--time", "2999-01-01"), "record: bad event: the time 2999-01-01T00:00:00Z is in the future"},
		{d("record", "--item", "a", "--time", "2001-01-01"), "record: the event is older than its kind's retention (365 days for view)"},
		{d("record", "--item", "a", "--weight", "-1"), "record: bad event: weight must be in"},
		{d("record", "--item", "a", "extra"), `record: unexpected argument "extra"`},
		{d("consent", "--kind", "view", "--grant", "--withdraw"), "consent: give exactly one of --grant and --withdraw"},
		{d("consent", "--kind", "view"), "consent: give exactly one of --grant and --withdraw"},
		{d("consent", "--grant"), "consent: --kind is required"},
		{d("consent", "--kind", "Bad Kind", "--grant"), `consent: bad kind "Bad Kind"`},
		{d("retention", "--kind", "view", "--days", "0"), "retention: --days must be 1 to 36500, got 0"},
		{d("retention", "--kind", "view!", "--days", "3"), `retention: bad kind "view!"`},
		{d("recommend", "--n", "0"), "recommend: --n must be 1 to 1000, got 0"},
		{d("forget"), "forget: give exactly one of --all, --kind and --before"},
		{d("forget", "--all", "--kind", "view"), "forget: give exactly one of --all, --kind and --before"},
		{d("forget", "--before", "last week"), `forget: --before: time "last week" is not RFC 3339`},
		{d("forget", "--kind", "VIEW"), `forget: bad kind "VIEW"`},
		{d("export", "--pretty"), "export: flag provided but not defined: -pretty"},
		{d("import"), "import: missing FILE"},
		{d("import", filepath.Join(dir, "absent.csv")), "import: open " + filepath.Join(dir, "absent.csv")},
		{d("fetch-model", "--token", "t"), "fetch-model: --pin is required"},
		{d("fetch-model", "--pin", "00"), "fetch-model: one of --token-file and --token is required"},
		{d("fetch-model", "--token", "t", "--pin", "zz"), "is not a hex SHA-256 fingerprint"},
	} {
		wantUsageError(t, tc.args, "tacit device", tc.problem)
	}
}

// TestDeviceInUse: a directory another process holds open is named, not
// waited for.
func TestDeviceInUse(t *testing.T) {
	dir, cat := deviceDir(t)
	d, err := device.Open(dir, &device.Options{Catalogue: cat})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	wantUsageError(t, []string{"device", "--dir", dir, "--catalogue", cat, "status"}, "tacit device", "is in use by another process (a running tacit agent?)")
	other, _ := deviceDir(t)
	os.MkdirAll(other, 0o700)
	os.WriteFile(filepath.Join(other, "policy.toml"), []byte("min_cohort = -1\n"), 0o600)
	wantUsageError(t, []string{"device", "--dir", other, "status"}, "tacit device", "policy: min_cohort -1 is negative")
}

// TestDeviceImportIsAllOrNothing: a history with a bad row names its line
// and keeps nothing; the file's size and line length are bounded.
func TestDeviceImportIsAllOrNothing(t *testing.T) {
	dir, cat := deviceDir(t)
	runDeviceOK(t, dir, cat, "record", "--item", "a")
	good := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	tmp := t.TempDir()
	for _, tc := range []struct {
		name, rows, problem string
	}{
		{"time", "item,timestamp\nb," + good + "\nc,tuesday\n", `bad-time.csv:3: time "tuesday" is not RFC 3339`},
		{"kind", "b," + good + "\nc," + good + ",Purchase\n", `bad-kind.csv:2: bad kind "Purchase"`},
		{"fields", "b," + good + ",view,extra\n", "bad-fields.csv:1: 4 fields, want item,timestamp[,kind]"},
		{"item", "b," + good + "\n\n," + good + "\n", "bad-item.csv:3: bad event: item must be 1 to 256 bytes"},
		{"future", "b,2999-01-01T00:00:00Z\n", "bad-future.csv:1: bad event: the time 2999-01-01T00:00:00Z is in the future"},
		{"quote", "b," + good + "\n\"c," + good + "\n", `bad-quote.csv:2: extraneous or missing " in quoted-field`},
		{"long", "b," + good + "\n" + strings.Repeat("x", 5000) + "," + good + "\n", "bad-long.csv:2: a line longer than 4096 bytes"},
	} {
		path := filepath.Join(tmp, "bad-"+tc.name+".csv")
		if err := os.WriteFile(path, []byte(tc.rows), 0o600); err != nil {
			t.Fatal(err)
		}
		wantUsageError(t, []string{"device", "--dir", dir, "--catalogue", cat, "import", path}, "tacit device", "import: "+filepath.Join(tmp, tc.problem))
		if s := status(t, dir, cat); s.Events != 1 {
			t.Fatalf("%s: a bad import kept %d events, want the 1 recorded before", tc.name, s.Events-1)
		}
	}
	big := filepath.Join(tmp, "big.csv")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxImportBytes + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	wantUsageError(t, []string{"device", "--dir", dir, "--catalogue", cat, "import", big}, "tacit device", "more than the 64 MiB an import takes")
}

func TestDeviceHelp(t *testing.T) {
	for _, args := range [][]string{{"device", "--help"}, {"help", "device"}, {"device", "--dir", "x", "record", "--help"}, {"device", "help"}} {
		code, stdout, stderr := runTacit(t, args...)
		if code != 0 || stderr != "" {
			t.Errorf("tacit %v: status %d, stderr %q", args, code, stderr)
		}
		for _, name := range deviceOrder {
			if !strings.Contains(stdout, "\n  "+name+" ") && !strings.Contains(stdout, "\n  "+name+"\n") {
				t.Errorf("tacit %v does not describe %s", args, name)
			}
		}
		for _, w := range []string{"usage: tacit device --dir DIR", "-catalogue", "policy.toml", "import flags:", "-explain"} {
			if !strings.Contains(stdout, w) {
				t.Errorf("tacit %v: help lacks %q", args, w)
			}
		}
	}
	code, stdout, _ := runTacit(t, "agent", "--help")
	for _, w := range []string{"usage: tacit agent --dir DIR", "policy.toml", "-charging", "(default true)", "-key-file"} {
		if !strings.Contains(stdout, w) || code != 0 {
			t.Errorf("agent help lacks %q", w)
		}
	}
	for _, w := range []string{"-person", "-ledger", "-allow-plain", "-budget", "-policy"} {
		if strings.Contains(stdout, w) {
			t.Errorf("agent help still has %q", w)
		}
	}
}

// syncBuffer is a buffer a command writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor waits until re matches what b holds, and returns the match.
func waitFor(t *testing.T, b *syncBuffer, re string, what string) []string {
	t.Helper()
	r := regexp.MustCompile(re)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := r.FindStringSubmatch(b.String()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after a minute:\n%s", what, b.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAgentTakesPartAndRecommends: `tacit device fetch-model` downloads a
// real coordinator's model on loopback, and `tacit agent` takes the device
// into its round, keeps the model, and leaves on SIGINT; `tacit device
// recommend` then recommends with it and explains.
func TestAgentTakesPartAndRecommends(t *testing.T) {
	dir, cat := deviceDir(t)
	tmp := t.TempDir()
	tokens := filepath.Join(tmp, "tokens.txt")
	// A cohort of one cannot aggregate securely: this device opts in to
	// plain rounds, as a person may in policy.toml, and to one round a
	// day, so that it keeps the initial model (seed 1).
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policy.toml"), []byte("allow_plain = true\nmax_rounds_per_day = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hour := func(h int) string { return time.Now().Add(time.Duration(-h) * time.Hour).UTC().Format(time.RFC3339) }
	for i, item := range []string{"a", "b", "c"} {
		runDeviceOK(t, dir, cat, "record", "--item", item, "--time", hour(3-i))
	}
	runDeviceOK(t, dir, cat, "consent", "--kind", "view", "--grant")

	var coordOut, agentOut, agentErr syncBuffer
	coordDone, agentDone := make(chan int, 1), make(chan int, 1)
	go func() {
		coordDone <- run([]string{"coordinator", "--tokens", tokens, "--enroll", "1", "--state", filepath.Join(tmp, "c.ckpt"),
			"--listen", "127.0.0.1:0", "--http", "", "--items", "5", "--factors", "4",
			"--secagg=false", "--quant-bits", "0", "--rotate=false", "--selection-timeout", "5s"}, &coordOut, &syncBuffer{})
	}()
	addr := waitFor(t, &coordOut, `devices connect to (\S+)\n`, "coordinator address")[1]
	pin := waitFor(t, &coordOut, `--pin\): ([0-9a-f]+)\n`, "certificate fingerprint")[1]
	b, err := os.ReadFile(tokens)
	if err != nil {
		t.Fatal(err)
	}
	token := regexp.MustCompile(`(?m)^(\S+) device-0`).FindStringSubmatch(string(b))[1]
	tokenFile := filepath.Join(tmp, "token")
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	// fetch-model: the model alone, without a round.
	out := runDeviceOK(t, dir, cat, "fetch-model", "--coordinator", addr, "--token-file", tokenFile, "--pin", pin)
	if out != "model version 0 from "+addr+"\n" {
		t.Errorf("fetch-model: %q", out)
	}
	var fetched struct {
		Version *int64 `json:"model_version"`
	}
	decodeJSON(t, runDeviceOK(t, dir, cat, "fetch-model", "--coordinator", addr, "--token", token, "--pin", pin, "--json"), &fetched)
	if fetched.Version == nil || *fetched.Version != 0 {
		t.Errorf("fetch-model --json: %+v", fetched)
	}
	if out := runDeviceOK(t, dir, cat, "recommend", "--n", "1"); !strings.HasPrefix(out, "recommended by model version 0") {
		t.Errorf("recommend after fetch-model:\n%s", out)
	}

	go func() {
		agentDone <- run([]string{"agent", "--dir", dir, "--catalogue", cat, "--coordinator", addr, "--token-file", tokenFile, "--pin", pin,
			"--key-file", filepath.Join(tokens+".keys", "device-0.key")}, &agentOut, &agentErr)
	}()
	waitFor(t, &agentOut, `round 1: trained on model version 0, sent \d+ bytes`, "round")
	// One SIGINT stops both, as Ctrl-C would.
	if err := syscall.Kill(os.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	for name, done := range map[string]chan int{"agent": agentDone, "coordinator": coordDone} {
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("%s: status %d; agent's stderr %q", name, code, agentErr.String())
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s did not stop on SIGINT", name)
		}
	}
	out = agentOut.String()
	for _, w := range []string{"3 events, 3 of them of consented kinds", "the person's page: http://127.0.0.1:", "left the coordinator's rounds"} {
		if !strings.Contains(out, w) {
			t.Errorf("agent's output lacks %q:\n%s", w, out)
		}
	}

	out = runDeviceOK(t, dir, cat, "recommend", "--n", "2", "--explain")
	if !strings.Contains(out, "recommended by model version 0") || strings.Count(out, ". ") < 2 || !strings.Contains(out, "because you viewed ") {
		t.Errorf("recommend --explain:\n%s", out)
	}
	var recs struct {
		Version int64 `json:"model_version"`
		List    []struct {
			Item    string  `json:"item"`
			Score   float64 `json:"score"`
			Because []struct {
				Item string `json:"item"`
				Kind string `json:"kind"`
			} `json:"because"`
		} `json:"recommendations"`
	}
	decodeJSON(t, runDeviceOK(t, dir, cat, "recommend", "--n", "2", "--json"), &recs)
	if recs.Version != 0 || len(recs.List) != 2 || recs.List[0].Item != "d" && recs.List[0].Item != "e" {
		t.Errorf("recommend --json: %+v, want d and e, the items not yet viewed", recs)
	}
	out = runDeviceOK(t, dir, cat, "ledger")
	if !regexp.MustCompile(`round\s+1\s+0\s`).MatchString(out) || !strings.Contains(out, "1 rounds, ") {
		t.Errorf("ledger after a round:\n%s", out)
	}
	if s := status(t, dir, cat); s.ModelVersion != 0 {
		t.Errorf("status: model version %d, want 0", s.ModelVersion)
	}
}

// TestExportPersonFeedsImport: a person's history from the embedded data
// set, as `tacit device import` reads it.
func TestExportPersonFeedsImport(t *testing.T) {
	csv := filepath.Join(t.TempDir(), "person-1.csv")
	code, stdout, stderr := runTacit(t, "data", "export-person", "--person", "1", "--out", csv)
	if code != 0 || stderr != "" || !strings.Contains(stdout, "wrote 232 rating events of person 1 of ml-latest-small") {
		t.Fatalf("status %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	b, err := os.ReadFile(csv)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 233 || lines[0] != "item,timestamp,kind" || lines[1] != "804,2000-07-30T18:08:19Z,rating" {
		t.Fatalf("%d lines, starting %q", len(lines), lines[:2])
	}
	dir := filepath.Join(t.TempDir(), "device")
	for _, args := range [][]string{{"retention", "--kind", "rating", "--days", "36500"}, {"import", csv}} {
		if code, _, stderr := runTacit(t, append([]string{"device", "--dir", dir}, args...)...); code != 0 {
			t.Fatalf("%v: %s", args, stderr)
		}
	}
	_, stdout, _ = runTacit(t, "device", "--dir", dir, "status", "--json")
	var s summaryJSON
	decodeJSON(t, stdout, &s)
	if s.Events != 232 {
		t.Fatalf("%d events imported, want 232", s.Events)
	}
	wantUsageError(t, []string{"data", "export-person"}, "tacit data", "--person is required")
	wantUsageError(t, []string{"data", "export-person", "--person", "nobody"}, "tacit data", `no person "nobody" in ml-latest-small`)
	wantUsageError(t, []string{"data", "export-person", "--person", "1", "--data", "synthetic:users=5,items=50"}, "tacit data", `no person "1"`)
}
