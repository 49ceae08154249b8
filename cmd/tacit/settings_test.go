package main

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/settings"
	"github.com/tacitfl/tacit/simulate"
)

// simulateFlags is tacit simulate's flag set, writing into cfg.
func simulateFlags(cfg *simulate.Config, ef *experimentFlags) *flag.FlagSet {
	fs := newFlagSet("simulate")
	bindExperiment(fs, cfg, ef, false)
	return fs
}

// sharedFlags is settings.Federated's flags with the defaults s.
func sharedFlags(s settings.Federated) *flag.FlagSet {
	fs := newFlagSet("shared")
	s.Bind(fs)
	return fs
}

// TestSharedFlagsAreDefinedOnce checks that tacit coordinator, simulate and
// sweep define every shared setting's flag as settings.Federated does: the
// same usage text and default (the coordinator's Deployed, simulate's
// Defaults: no command overrides a shared default beyond that), and
// that the only other flags the coordinator and simulate both have are the
// ones that mean something different in each.
func TestSharedFlagsAreDefinedOnce(t *testing.T) {
	cfg := simulate.DefaultConfig()
	commands := map[string]*flag.FlagSet{
		"coordinator": newCoordinatorFlags().flagSet(),
		"simulate":    simulateFlags(&cfg, &experimentFlags{}),
	}
	defaults := map[string]*flag.FlagSet{"coordinator": sharedFlags(settings.Deployed()), "simulate": sharedFlags(settings.Defaults())}
	shared := defaults["simulate"]
	for name, fs := range commands {
		defaults[name].VisitAll(func(want *flag.Flag) {
			got := fs.Lookup(want.Name)
			switch {
			case got == nil:
				t.Errorf("tacit %s has no --%s", name, want.Name)
			case got.Usage != want.Usage || got.DefValue != want.DefValue:
				t.Errorf("tacit %s --%s: %q (default %q), want %q (default %q)", name, want.Name, got.Usage, got.DefValue, want.Usage, want.DefValue)
			}
		})
	}
	// --seed seeds more in a simulation (dropouts, evaluation, noise) than in
	// the coordinator; --http is the coordinator's operator endpoint, and
	// off by default in a simulation.
	perCommand := []string{"http", "seed"}
	var both []string
	commands["coordinator"].VisitAll(func(f *flag.Flag) {
		if commands["simulate"].Lookup(f.Name) != nil && shared.Lookup(f.Name) == nil {
			both = append(both, f.Name)
		}
	})
	if !slices.Equal(both, perCommand) {
		t.Errorf("flags of both commands outside settings.Federated: %v, want %v", both, perCommand)
	}
}

// helpFlagSets are each command's flags, as its --help prints them.
func helpFlagSets() map[string]*flag.FlagSet {
	sets := map[string]*flag.FlagSet{"coordinator": newCoordinatorFlags().flagSet()}
	for _, name := range []string{"simulate", "central", "sweep"} {
		cfg := simulate.DefaultConfig()
		fs := newFlagSet(name)
		bindExperiment(fs, &cfg, &experimentFlags{}, name == "central")
		sets[name] = fs
	}
	return sets
}

func TestHelpListsEveryFlagWithItsDefault(t *testing.T) {
	for name, fs := range helpFlagSets() {
		status, stdout, stderr := runTacit(t, name, "--help")
		if status != 0 || stderr != "" {
			t.Fatalf("tacit %s --help: status %d, stderr %q", name, status, stderr)
		}
		fs.VisitAll(func(f *flag.Flag) {
			_, entry, ok := strings.Cut(stdout, "\n  -"+f.Name+" ")
			if !ok {
				_, entry, ok = strings.Cut(stdout, "\n  -"+f.Name+"\n")
			}
			if !ok {
				t.Errorf("tacit %s --help does not list --%s", name, f.Name)
				return
			}
			entry, _, _ = strings.Cut(entry, "\n  -")
			if _, usage := flag.UnquoteUsage(f); !strings.Contains(strings.Join(strings.Fields(entry), " "), strings.Join(strings.Fields(usage), " ")) {
				t.Errorf("tacit %s --help: --%s lacks its usage %q:\n%s", name, f.Name, usage, entry)
			}
			if slices.Contains([]string{"", "0", "false", "0s"}, f.DefValue) {
				return
			}
			if !strings.Contains(entry, "(default "+f.DefValue+")") && !strings.Contains(entry, "(default "+strconv.Quote(f.DefValue)+")") {
				t.Errorf("tacit %s --help: --%s lacks its default %s:\n%s", name, f.Name, f.DefValue, entry)
			}
		})
	}
	_, stdout, _ := runTacit(t, "sweep", "--help")
	if !strings.Contains(stdout, "-epsilons string") || !strings.Contains(stdout, `(default "1,2,4,8")`) {
		t.Errorf("tacit sweep --help lacks --epsilons:\n%s", stdout)
	}
}

// configKeyOf is, for each setting flag of tacit simulate, arguments and
// the config-file keys and values that mean the same.
var configKeyOf = map[string]struct {
	args []string
	keys [][2]string // key, value as TOML and YAML both read it
}{
	"data":              {[]string{"--data", "synthetic:users=9,items=9"}, [][2]string{{"data", `"synthetic:users=9,items=9"`}}},
	"seed":              {[]string{"--seed", "5"}, [][2]string{{"seed", "5"}}},
	"eval-every":        {[]string{"--eval-every", "3"}, [][2]string{{"eval_every", "3"}}},
	"eval-users":        {[]string{"--eval-users", "30"}, [][2]string{{"eval_users", "30"}}},
	"workers":           {[]string{"--workers", "2"}, [][2]string{{"workers", "2"}}},
	"rounds":            {[]string{"--rounds", "7"}, [][2]string{{"rounds", "7"}}},
	"transport":         {[]string{"--transport", "quic"}, [][2]string{{"transport", `"quic"`}}},
	"http":              {[]string{"--http", "127.0.0.1:0"}, [][2]string{{"http", `"127.0.0.1:0"`}}},
	"clients-per-round": {[]string{"--clients-per-round", "11"}, [][2]string{{"clients_per_round", "11"}}},
	"dropout":           {[]string{"--dropout", "0.3"}, [][2]string{{"dropout", "0.3"}}},
	"target-epsilon":    {[]string{"--target-epsilon", "2"}, [][2]string{{"target_epsilon", "2"}}},
	"factors":           {[]string{"--factors", "8"}, [][2]string{{"factors", "8"}}},
	"alpha":             {[]string{"--alpha", "2"}, [][2]string{{"alpha", "2"}}},
	"neg-weight":        {[]string{"--neg-weight", "0.5"}, [][2]string{{"neg_weight", "0.5"}}},
	"user-reg":          {[]string{"--user-reg", "3"}, [][2]string{{"user_reg", "3"}}},
	"item-reg":          {[]string{"--item-reg", "4"}, [][2]string{{"item_reg", "4"}}},
	"recency-half-life": {[]string{"--recency-half-life", "5"}, [][2]string{{"recency_half_life", "5"}}},
	"recency-floor":     {[]string{"--recency-floor", "0.2"}, [][2]string{{"recency_floor", "0.2"}}},
	"local-epochs":      {[]string{"--local-epochs", "2"}, [][2]string{{"local_epochs", "2"}}},
	"client-lr":         {[]string{"--client-lr", "0.3"}, [][2]string{{"client_lr", "0.3"}}},
	"server-optimizer":  {[]string{"--server-optimizer", "fedyogi"}, [][2]string{{"server_optimizer", `"fedyogi"`}}},
	"server-lr":         {[]string{"--server-lr", "0.02"}, [][2]string{{"server_lr", "0.02"}}},
	"server-momentum":   {[]string{"--server-momentum", "0.8"}, [][2]string{{"server_momentum", "0.8"}}},
	"server-beta1":      {[]string{"--server-beta1", "0.7"}, [][2]string{{"server_beta1", "0.7"}}},
	"server-beta2":      {[]string{"--server-beta2", "0.95"}, [][2]string{{"server_beta2", "0.95"}}},
	"server-tau":        {[]string{"--server-tau", "0.01"}, [][2]string{{"server_tau", "0.01"}}},
	"dp":                {[]string{"--dp", "central"}, [][2]string{{"dp", `"central"`}}},
	"noise":             {[]string{"--noise", "1.5"}, [][2]string{{"noise_multiplier", "1.5"}}},
	"clip":              {[]string{"--clip", "adaptive"}, [][2]string{{"adaptive_clip", "true"}, {"clip_norm", "0.1"}}},
	"delta":             {[]string{"--delta", "1e-6"}, [][2]string{{"delta", "1e-6"}}},
	"accountant":        {[]string{"--accountant", "pld"}, [][2]string{{"accountant", `"pld"`}}},
	"quant-bits":        {[]string{"--quant-bits", "12"}, [][2]string{{"quant_bits", "12"}}},
	"rotate":            {[]string{"--rotate"}, [][2]string{{"rotate", "true"}}},
	"quant-norm":        {[]string{"--quant-norm", "3"}, [][2]string{{"quant_norm", "3"}}},
	"down-bits":         {[]string{"--down-bits", "8"}, [][2]string{{"down_bits", "8"}}},
	"secagg":            {[]string{"--secagg"}, [][2]string{{"secagg", "true"}}},
	"secagg-adversary":  {[]string{"--secagg-adversary", "0.1"}, [][2]string{{"secagg_adversary", "0.1"}}},
	"secagg-dropout":    {[]string{"--secagg-dropout", "0.2"}, [][2]string{{"secagg_dropout", "0.2"}}},
	"secagg-threat":     {[]string{"--secagg-threat", "malicious"}, [][2]string{{"secagg_threat", `"malicious"`}}},
}

func TestConfigFileKeyAndFlagSetTheSameField(t *testing.T) {
	parse := func(args ...string) simulate.Config {
		t.Helper()
		cfg := simulate.DefaultConfig()
		var ef experimentFlags
		if err := parseExperiment(simulateFlags(&cfg, &ef), &cfg, &ef, args); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return cfg
	}
	cfg := simulate.DefaultConfig()
	simulateFlags(&cfg, &experimentFlags{}).VisitAll(func(f *flag.Flag) {
		if _, ok := configKeyOf[f.Name]; !ok && !slices.Contains([]string{"config", "out", "quiet", "twin"}, f.Name) {
			t.Errorf("--%s has no config-file key in this test", f.Name)
		}
	})
	dir := t.TempDir()
	for name, c := range configKeyOf {
		byFlag := parse(c.args...)
		if byFlag == simulate.DefaultConfig() {
			t.Errorf("%v changes nothing", c.args)
		}
		for _, format := range []struct{ ext, sep string }{{".toml", " = "}, {".yaml", ": "}} {
			var text strings.Builder
			for _, kv := range c.keys {
				text.WriteString(kv[0] + format.sep + kv[1] + "\n")
			}
			path := filepath.Join(dir, name+format.ext)
			if err := os.WriteFile(path, []byte(text.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			if byFile := parse("--config", path); byFile != byFlag {
				t.Errorf("%v and %s %q differ:\n%+v\n%+v", c.args, format.ext, text.String(), byFlag, byFile)
			}
		}
	}
}

func TestCoordinatorFlagsReachTheRoundMachine(t *testing.T) {
	o := newCoordinatorFlags()
	got, err := o.parse([]string{"--tokens", "t",
		"--goal", "30", "--over-selection", "1", "--min-fraction", "0.6", "--selection-timeout", "10s",
		"--report-window", "1m", "--retry-min", "2s", "--seed", "7",
		"--dp", "distributed", "--noise", "1.2", "--clip", "2", "--delta", "1e-6", "--accountant", "rdp", "--privacy-budget", "4",
		"--quant-bits", "16", "--rotate", "--quant-norm", "5", "--down-bits", "8",
		"--secagg", "--secagg-adversary", "0.1", "--secagg-dropout", "0.2", "--secagg-window", "45s"})
	if err != nil {
		t.Fatal(err)
	}
	want := round.Config{Goal: 30, OverSelection: 1, MinFraction: 0.6, SelectionTimeout: 10 * time.Second,
		ReportWindow: time.Minute, RetryMin: 2 * time.Second, Seed: 7,
		DP:     &round.DPConfig{NoiseMultiplier: 1.2, ClipNorm: 2, Delta: 1e-6, Accountant: "rdp", Budget: 4, Distributed: true},
		Codec:  &round.CodecConfig{Bits: 16, Rotate: true, Norm: 5},
		SecAgg: round.SemiHonestSecAgg(0.1, 0.2, 45*time.Second),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if o.shared.DownBits != 8 {
		t.Errorf("--down-bits 8: %d", o.shared.DownBits)
	}
	// Over-selection, which differential privacy refuses, without it.
	if got, err := newCoordinatorFlags().parse([]string{"--tokens", "t", "--over-selection", "1.5"}); err != nil || got.OverSelection != 1.5 {
		t.Errorf("--over-selection 1.5: %v, %v", got.OverSelection, err)
	}
}

// TestCoordinatorPrivacyFlags checks the coordinator's flags from before
// --dp: a positive --noise alone is central DP, --distributed-dp is --dp
// distributed.
func TestCoordinatorPrivacyFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want *round.DPConfig
	}{
		{nil, nil},
		{[]string{"--noise", "0"}, nil},
		{[]string{"--noise", "1.5"}, &round.DPConfig{NoiseMultiplier: 1.5, ClipNorm: 1, Delta: 1e-5, Accountant: "rdp"}},
		{[]string{"--noise", "1", "--clip", "3", "--delta", "1e-6", "--privacy-budget", "8", "--accountant", "pld"},
			&round.DPConfig{NoiseMultiplier: 1, ClipNorm: 3, Delta: 1e-6, Budget: 8, Accountant: "pld"}},
		{[]string{"--noise", "1", "--distributed-dp", "--quant-bits", "16", "--secagg"},
			&round.DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5, Accountant: "rdp", Distributed: true}},
		{[]string{"--dp", "central", "--noise", "2"}, &round.DPConfig{NoiseMultiplier: 2, ClipNorm: 1, Delta: 1e-5, Accountant: "rdp"}},
	} {
		rc, err := newCoordinatorFlags().parse(append([]string{"--tokens", "t"}, tc.args...))
		if err != nil {
			t.Errorf("%v: %v", tc.args, err)
		} else if !reflect.DeepEqual(rc.DP, tc.want) {
			t.Errorf("%v: DP %+v, want %+v", tc.args, rc.DP, tc.want)
		}
	}
}

func TestSimulateFlagsReachTheRoundMachine(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := append([]string{"simulate", "--rounds", "1", "--quiet", "--out", dir,
		"--dp", "central", "--noise", "0.7", "--clip", "2", "--delta", "1e-6", "--accountant", "pld", "--quant-bits", "12"}, tiny...)
	if status, _, stderr := runTacit(t, args...); status != 0 {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	b, err := os.ReadFile(filepath.Join(dir, simulate.SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	var s simulate.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	// The summary's privacy figures are the round machine's own, and its
	// uplink is the size of an update in the machine's codec.
	params := s.Items * (4 + 1)
	if p := s.Privacy; p == nil || p.Delta != 1e-6 || s.NoiseMultiplier != 0.7 || s.ClipNorm != 2 ||
		p.Accountant != "pld" || s.UplinkBytesPerUpdate != (params*12+7)/8 {
		t.Errorf("summary: privacy %+v, noise %v, clip %v, uplink %d bytes for %d parameters",
			p, s.NoiseMultiplier, s.ClipNorm, s.UplinkBytesPerUpdate, params)
	}
}

// TestCoordinatorIsSecureByDefault: a coordinator given no codec or SecAgg
// flags runs SecAgg over 16-bit rotated updates; a simulation does not.
func TestCoordinatorIsSecureByDefault(t *testing.T) {
	rc, err := newCoordinatorFlags().parse([]string{"--tokens", "t"})
	if err != nil {
		t.Fatal(err)
	}
	if rc.SecAgg == nil || rc.Codec == nil || rc.Codec.Bits != 16 || !rc.Codec.Rotate {
		t.Fatalf("default coordinator: SecAgg %+v, codec %+v", rc.SecAgg, rc.Codec)
	}
	plain, err := newCoordinatorFlags().parse([]string{"--tokens", "t", "--secagg=false", "--quant-bits", "0", "--rotate=false"})
	if err != nil || plain.SecAgg != nil || plain.Codec != nil {
		t.Fatalf("opting out: SecAgg %+v, codec %+v, %v", plain.SecAgg, plain.Codec, err)
	}
	if cfg := simulate.DefaultConfig(); cfg.SecAgg || cfg.QuantBits != 0 {
		t.Fatalf("simulate's defaults changed: %+v", cfg.Federated)
	}
}
