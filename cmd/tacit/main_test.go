package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/simulate"
)

// tiny is a data set and model small enough that a whole run takes
// milliseconds.
var tiny = []string{"--data", "synthetic:users=50,items=40", "--factors", "4"}

func runTacit(t *testing.T, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	status = run(args, &out, &errOut)
	return status, out.String(), errOut.String()
}

// wantUsageError checks a status of 2 and a one-line message, optionally
// followed by the pointer to --help.
func wantUsageError(t *testing.T, args []string, prefix, problem string) {
	t.Helper()
	status, stdout, stderr := runTacit(t, args...)
	if status != 2 {
		t.Errorf("tacit %s: status %d, want 2", strings.Join(args, " "), status)
	}
	if stdout != "" {
		t.Errorf("tacit %s: printed %q to stdout", strings.Join(args, " "), stdout)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) > 2 || len(lines) == 2 && !strings.HasPrefix(lines[1], "run 'tacit ") {
		t.Errorf("tacit %s: stderr is not one line and a hint:\n%s", strings.Join(args, " "), stderr)
	}
	if want := prefix + ": "; !strings.HasPrefix(lines[0], want) || !strings.Contains(lines[0], problem) {
		t.Errorf("tacit %s: stderr %q, want %q and %q", strings.Join(args, " "), lines[0], want, problem)
	}
}

func TestUsageErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "absent.yaml")
	for _, tc := range []struct {
		args            []string
		prefix, problem string
	}{
		{[]string{"frobnicate"}, "tacit", `unknown command "frobnicate"`},
		{[]string{"help", "frobnicate"}, "tacit help", `unknown command "frobnicate"`},
		{[]string{"simulate", "--nope"}, "tacit simulate", "flag provided but not defined: -nope"},
		{[]string{"simulate", "--rounds", "many"}, "tacit simulate", `invalid value "many" for flag -rounds`},
		{[]string{"simulate", "extra"}, "tacit simulate", `unexpected argument "extra"`},
		{[]string{"simulate", "--rounds", "-1"}, "tacit simulate", "rounds must be positive, got -1"},
		{[]string{"simulate", "--factors", "0"}, "tacit simulate", "factors must be positive, got 0"},
		{[]string{"simulate", "--dropout", "1.5"}, "tacit simulate", "dropout must be in [0, 1), got 1.5"},
		{[]string{"simulate", "--secagg"}, "tacit simulate", "secure aggregation needs quantized updates (--quant-bits)"},
		{[]string{"simulate", "--dp", "distributed", "--quant-bits", "8"}, "tacit simulate", "distributed DP needs --secagg"},
		{[]string{"simulate", "--dp", "distributed", "--accountant", "pld", "--quant-bits", "8", "--secagg"}, "tacit simulate",
			"the PLD accountant does not count a device's own noise share"},
		{[]string{"simulate", "--quant-bits", "30"}, "tacit simulate", "--quant-bits: bad quantizer parameters: 30 bits, want 2..24"},
		{[]string{"simulate", "--config", missing}, "tacit simulate", "absent.yaml"},
		{[]string{"central", "--rounds", "3"}, "tacit central", "flag provided but not defined: -rounds"},
		{[]string{"central", "--iterations", "0"}, "tacit central", "iterations must be positive, got 0"},
		{[]string{"data"}, "tacit data", "missing subcommand"},
		{[]string{"data", "frobnicate"}, "tacit data", `unknown subcommand "frobnicate"`},
	} {
		wantUsageError(t, tc.args, tc.prefix, tc.problem)
	}
}

func TestNoArgumentsListsCommandsAndFails(t *testing.T) {
	status, stdout, stderr := runTacit(t)
	if status != 2 || stdout != "" || !strings.Contains(stderr, "simulate") {
		t.Errorf("status %d, stdout %q, stderr %q", status, stdout, stderr)
	}
}

func TestHelpListsCommands(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"-h"}} {
		status, stdout, stderr := runTacit(t, args...)
		if status != 0 || stderr != "" {
			t.Errorf("tacit %v: status %d, stderr %q", args, status, stderr)
		}
		for _, name := range []string{"simulate", "central", "data", "help"} {
			if !strings.Contains(stdout, "\n  "+name+" ") {
				t.Errorf("tacit %v does not list %s:\n%s", args, name, stdout)
			}
		}
	}
}

func TestCommandHelpShowsFlags(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		want     []string
		wantNots []string
	}{
		{[]string{"help", "simulate"}, []string{"usage: tacit simulate", "-rounds", "-server-optimizer", "-config", "-out", "fedadam"}, nil},
		{[]string{"simulate", "--help"}, []string{"usage: tacit simulate", "-clients-per-round", "(default 200)"}, nil},
		{[]string{"simulate", "-h"}, []string{"usage: tacit simulate"}, nil},
		{[]string{"central", "--help"}, []string{"usage: tacit central", "-iterations", "(default 15)"}, []string{"-rounds", "-server-lr"}},
		{[]string{"coordinator", "--help"}, []string{"usage: tacit coordinator", "-dp string", "-distributed-dp", "-noise", "-privacy-budget", "-quant-norm", "(default 10)", "-secagg-window"}, []string{"-target-epsilon", "-clients-per-round"}},
		{[]string{"help", "data"}, []string{"tacit data license", "tacit data info", "-data"}, nil},
		{[]string{"data", "info", "--help"}, []string{"tacit data info"}, nil},
	} {
		status, stdout, stderr := runTacit(t, tc.args...)
		if status != 0 || stderr != "" {
			t.Errorf("tacit %v: status %d, stderr %q", tc.args, status, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout, w) {
				t.Errorf("tacit %v: help lacks %q:\n%s", tc.args, w, stdout)
			}
		}
		for _, w := range tc.wantNots {
			if strings.Contains(stdout, w) {
				t.Errorf("tacit %v: help has %q", tc.args, w)
			}
		}
	}
}

func TestFlagsOverrideConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.toml")
	if err := os.WriteFile(path, []byte("rounds = 7\nfactors = 8\nclient_lr = 0.5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := simulate.DefaultConfig()
	var ef experimentFlags
	fs := newFlagSet("simulate")
	bindExperiment(fs, &cfg, &ef, false)
	if err := parseExperiment(fs, &cfg, &ef, []string{"--rounds", "3", "--config", path, "--server-lr", "1e-3", "--quiet"}); err != nil {
		t.Fatal(err)
	}
	want := simulate.DefaultConfig()
	want.Rounds, want.Factors, want.ClientLR, want.ServerLR = 3, 8, 0.5, 1e-3
	if cfg != want {
		t.Errorf("got %+v\nwant %+v", cfg, want)
	}
	if !ef.quiet || ef.config != path {
		t.Errorf("experiment flags %+v", ef)
	}
}

func TestConfigFileErrorsAreUsageErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.yaml")
	if err := os.WriteFile(path, []byte("rounds: 3\nround: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantUsageError(t, []string{"simulate", "--config", path}, "tacit simulate", `unknown key "round"`)
}

func TestBadDataIsAUsageError(t *testing.T) {
	absent := filepath.Join(t.TempDir(), "ratings.csv")
	wantUsageError(t, []string{"simulate", "--data", absent}, "tacit simulate", "ratings.csv")
	wantUsageError(t, []string{"data", "info", "--data", absent}, "tacit data", "ratings.csv")
}

func TestCohortLargerThanPopulationIsAUsageError(t *testing.T) {
	args := append([]string{"simulate", "--clients-per-round", "1000", "--rounds", "1"}, tiny...)
	wantUsageError(t, args, "tacit simulate", "exceeds the population")
}

func TestSimulateWritesTableAndOutputs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := append([]string{"simulate", "--rounds", "2", "--eval-every", "1", "--out", dir}, tiny...)
	status, stdout, stderr := runTacit(t, args...)
	if status != 0 || stderr != "" {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	for _, w := range []string{"round", "participants", "NDCG@10", "\n    2 ", "full ranking", "results in " + dir} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	for _, name := range []string{simulate.RoundsFile, simulate.SummaryFile, simulate.PlotFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
}

func TestCentralQuietPrintsOnlyTheResult(t *testing.T) {
	args := append([]string{"central", "--iterations", "2", "--quiet"}, tiny...)
	status, stdout, stderr := runTacit(t, args...)
	if status != 0 || stderr != "" {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	if strings.Contains(stdout, "iteration ") || !strings.Contains(stdout, "2 ALS iterations") {
		t.Errorf("stdout:\n%s", stdout)
	}
}

func TestSimulateTwinComparesWithCentral(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := append([]string{"simulate", "--rounds", "2", "--quiet", "--twin", "--out", dir}, tiny...)
	status, stdout, stderr := runTacit(t, args...)
	if status != 0 || stderr != "" {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	for _, w := range []string{"federated (2 rounds)", "central twin (15 iterations)", "federated / central: HR@10"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "central", simulate.SummaryFile)); err != nil {
		t.Error(err)
	}
}

func TestCoordinatorAndAgentUsageErrors(t *testing.T) {
	dir := t.TempDir()
	wantUsageError(t, []string{"coordinator"}, "tacit coordinator", "--tokens is required")
	wantUsageError(t, []string{"coordinator", "--tokens", filepath.Join(dir, "missing")}, "tacit coordinator", "no such file")
	unkeyed := filepath.Join(dir, "unkeyed")
	if err := os.WriteFile(unkeyed, []byte("0123456789abcdef phone-0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wantUsageError(t, []string{"coordinator", "--tokens", unkeyed, "--secagg-threat", "malicious"}, "tacit coordinator", "1 devices have none, the first phone-0")
	wantUsageError(t, []string{"coordinator", "--tokens", unkeyed, "--secagg-threat", "sideways"}, "tacit coordinator", "SecAgg threat must be")
	wantUsageError(t, []string{"coordinator", "--tokens", "x", "--goal", "-1"}, "tacit coordinator", "goal must be non-negative")
	wantUsageError(t, []string{"coordinator", "--tokens", "x", "--items", "0"}, "tacit coordinator", "items must be in")
	wantUsageError(t, []string{"coordinator", "--tokens", "x", "--distributed-dp", "--quant-bits", "16", "--secagg"}, "tacit coordinator", "differential privacy needs --noise")
	wantUsageError(t, []string{"coordinator", "--tokens", "x", "--dp", "central"}, "tacit coordinator", "differential privacy needs --noise")
	wantUsageError(t, []string{"coordinator", "--tokens", "x", "--noise", "1", "--distributed-dp", "--secagg=false"}, "tacit coordinator", "distributed DP needs --secagg")
	wantUsageError(t, []string{"coordinator", "--tokens", "x", "--noise", "1", "--dp", "distributed", "--accountant", "pld", "--quant-bits", "16", "--secagg"},
		"tacit coordinator", "the PLD accountant does not count a device's own noise share")
	wantUsageError(t, []string{"coordinator", "--tokens", "x", "--dp", "sideways"}, "tacit coordinator", `dp must be central, distributed or empty, got "sideways"`)
	wantUsageError(t, []string{"coordinator", "--tokens", "x", "--noise", "-1"}, "tacit coordinator", "noise multiplier must be non-negative")
	wantUsageError(t, []string{"coordinator", "--tokens", "x", "--quant-bits", "30"}, "tacit coordinator", "--quant-bits: bad quantizer parameters")
	wantUsageError(t, []string{"coordinator", "--tokens", "x", "--quant-bits", "0", "--rotate=false"}, "tacit coordinator", "secure aggregation needs quantized updates (--quant-bits)")
	wantUsageError(t, []string{"coordinator", "--tokens", "x", "--server-optimizer", "sgd"}, "tacit coordinator", "sgd")
	dev := filepath.Join(dir, "device")
	wantUsageError(t, []string{"agent", "--token", "t", "--pin", "00"}, "tacit agent", "--dir is required")
	wantUsageError(t, []string{"agent", "--dir", dev, "--pin", "00"}, "tacit agent", "one of --token-file and --token is required")
	wantUsageError(t, []string{"agent", "--dir", dev, "--token", "t"}, "tacit agent", "--pin is required")
	wantUsageError(t, []string{"agent", "--dir", dev, "--token-file", filepath.Join(dir, "missing"), "--pin", "00"}, "tacit agent", "no such file")
	wantUsageError(t, []string{"agent", "--dir", dev, "--token", "t", "--pin", "zz"}, "tacit agent", "is not a hex SHA-256 fingerprint")
	pin := strings.Repeat("ab", 32)
	wantUsageError(t, []string{"agent", "--dir", dev, "--token", "t", "--pin", pin, "--key-file", filepath.Join(dir, "missing.key")}, "tacit agent", "missing.key")
	wantUsageError(t, []string{"agent", "--dir", dev, "--token", "t", "--pin", pin, "--person", "1"}, "tacit agent", "flag provided but not defined: -person")
	wantUsageError(t, []string{"agent", "--dir", dev, "--token", "t", "--pin", pin, "--charging=maybe"}, "tacit agent", `invalid boolean value "maybe" for -charging`)
	wantUsageError(t, []string{"agent", "--dir", dev, "--token", "t", "--pin", pin, "--page", "0.0.0.0:7090"}, "tacit agent", "loopback address only")
	wantUsageError(t, []string{"agent", "ledger"}, "tacit agent", `unexpected argument "ledger"`)
	os.MkdirAll(dev, 0o700)
	os.WriteFile(filepath.Join(dev, "policy.toml"), []byte("alow_plain = true\n"), 0o600)
	wantUsageError(t, []string{"agent", "--dir", dev, "--token", "t", "--pin", pin}, "tacit agent", `unknown key "alow_plain"`)
	os.WriteFile(filepath.Join(dev, "policy.toml"), []byte("budget = -1\n"), 0o600)
	wantUsageError(t, []string{"agent", "--dir", dev, "--token", "t", "--pin", pin}, "tacit agent", "budget must be finite and non-negative")
}

func TestPrivacyCommand(t *testing.T) {
	status, stdout, stderr := runTacit(t, "privacy", "epsilon", "--q", "0.04", "--noise", "1.5", "--rounds", "2250", "--delta", "1e-5", "--json")
	if status != 0 || stderr != "" {
		t.Fatalf("status %d stderr %q", status, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	var out struct {
		Epsilon, Delta, Order float64
		Accountant            string
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &out); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	if math.Abs(out.Epsilon-7.3291111714386545) > 1e-9 || out.Delta != 1e-5 || out.Order != 3.9 || out.Accountant != "rdp" {
		t.Fatalf("%+v", out)
	}
	status, stdout, _ = runTacit(t, "privacy", "calibrate", "--epsilon", "8", "--q", "0.04", "--rounds", "2250", "--delta", "1e-5", "--json")
	lines = strings.Split(strings.TrimSpace(stdout), "\n")
	var cal struct {
		NoiseMultiplier float64 `json:"noise_multiplier"`
		Epsilon         float64
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &cal); status != 0 || err != nil || cal.Epsilon > 8 || cal.NoiseMultiplier > 1.416015625 || cal.NoiseMultiplier < 1.4 {
		t.Fatalf("status %d, %+v, %v", status, cal, err)
	}
	base := []string{"privacy", "epsilon", "--noise", "1", "--rounds", "10", "--delta", "1e-5", "--q"}
	wantUsageError(t, append(base, "0"), "tacit privacy", "sampling rate q must be in (0, 1]")
	wantUsageError(t, append(base, "1.5"), "tacit privacy", "sampling rate q must be in (0, 1]")
	wantUsageError(t, []string{"privacy", "epsilon", "--q", "0.1", "--noise", "-1", "--rounds", "10", "--delta", "1e-5"}, "tacit privacy", "noise multiplier must be")
	wantUsageError(t, []string{"privacy", "epsilon", "--q", "0.1", "--noise", "1", "--rounds", "0", "--delta", "1e-5"}, "tacit privacy", "rounds must be positive")
	wantUsageError(t, []string{"privacy", "epsilon", "--q", "0.1", "--noise", "1", "--rounds", "5", "--delta", "1"}, "tacit privacy", "delta must be in (0, 1)")
	wantUsageError(t, []string{"privacy", "epsilon", "--q", "0.1", "--noise", "1", "--rounds", "5", "--delta", "1e-5", "--accountant", "moments"}, "tacit privacy", "unknown accountant")
	wantUsageError(t, []string{"privacy", "spend"}, "tacit privacy", "unknown subcommand")
}

func TestSweepNeedsOut(t *testing.T) {
	wantUsageError(t, []string{"sweep", "--epsilons", "1"}, "tacit sweep", "--out is required")
	wantUsageError(t, []string{"sweep", "--out", t.TempDir(), "--epsilons", "1,x"}, "tacit sweep", `--epsilons: "x" is not a positive number`)
}

// TestEnrollWritesSigningKeys: --enroll's tokens file holds each device's
// public signing key, and its key file, readable by its owner only, the
// private half.
func TestEnrollWritesSigningKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokens")
	if err := enroll(path, 2, io.Discard); err != nil {
		t.Fatal(err)
	}
	tokens, err := readTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := everyKey(tokens, path); err != nil {
		t.Fatal(err)
	}
	pub := tokens.SigningKeys()
	for _, id := range tokens.IDs() {
		file := filepath.Join(path+".keys", id+".key")
		st, err := os.Stat(file)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, %v", file, st.Mode(), err)
		}
		k, authority, err := client.ReadSigningKey(file)
		if err != nil || !pub[id].Equal(k.Public()) || authority == nil {
			t.Fatalf("%s: %v, key %x, the tokens file's %x", id, err, k.Public(), pub[id])
		}
	}
}
