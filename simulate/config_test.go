package simulate

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"

	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/privacy"
)

// configKeys are the keys of config files and of summary.json's config as
// they were before the shared settings moved to package settings: files
// and summaries written before must keep loading.
var configKeys = []string{
	"data", "rounds", "clients_per_round", "dropout", "seed", "eval_every", "eval_users", "workers",
	"factors", "alpha", "neg_weight", "user_reg", "item_reg", "recency_half_life", "recency_floor",
	"local_epochs", "client_lr",
	"server_optimizer", "server_lr", "server_momentum", "server_beta1", "server_beta2", "server_tau",
	"transport", "http",
	"dp", "noise_multiplier", "clip_norm", "adaptive_clip", "delta", "target_epsilon", "accountant",
	"quant_bits", "rotate", "quant_norm", "down_bits", "secagg", "secagg_adversary", "secagg_dropout", "secagg_threat",
	"als_iterations",
}

func TestConfigKeysAreStable(t *testing.T) {
	c := DefaultConfig()
	c.Data, c.ClientsPerRound, c.Dropout, c.EvalUsers, c.Workers, c.HTTP = "synthetic:users=9,items=9", 3, 0.1, 5, 2, "127.0.0.1:0"
	c.DP, c.NoiseMultiplier, c.AdaptiveClip, c.TargetEpsilon = "central", 1, true, 2
	c.QuantBits, c.Rotate, c.DownBits, c.SecAgg, c.SecAggThreat = 8, true, 8, true, "malicious"
	for _, f := range []struct {
		name   string
		encode func(any) ([]byte, error)
		decode func([]byte, any) error
	}{
		{"summary.json", json.Marshal, json.Unmarshal},
		{"run.yaml", yaml.Marshal, yaml.Unmarshal},
		{"run.toml", func(v any) ([]byte, error) {
			var b bytes.Buffer
			err := toml.NewEncoder(&b).Encode(v)
			return b.Bytes(), err
		}, func(b []byte, v any) error { return toml.Unmarshal(b, v) }},
	} {
		b, err := f.encode(c)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := f.decode(b, &m); err != nil {
			t.Fatal(err)
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range m {
				if !yield(k) {
					return
				}
			}
		})
		if want := slices.Sorted(slices.Values(configKeys)); !slices.Equal(keys, want) {
			t.Errorf("%s keys:\ngot  %v\nwant %v", f.name, keys, want)
		}
		if f.name == "summary.json" {
			continue
		}
		got := DefaultConfig()
		if err := LoadConfigFile(writeTemp(t, f.name, string(b)), &got); err != nil {
			t.Fatal(err)
		}
		if got != c {
			t.Errorf("%s read back:\ngot  %+v\nwant %+v", f.name, got, c)
		}
	}
}

func TestSharedFlagsReachTheRoundMachine(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ClientsPerRound, cfg.Seed = 20, 9
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg.Federated.Bind(fs)
	err := fs.Parse([]string{"--quant-bits", "12", "--rotate", "--quant-norm", "3", "--secagg", "--secagg-adversary", "0.1",
		"--secagg-dropout", "0.2", "--dp", "distributed", "--noise", "1.5", "--clip", "2", "--delta", "1e-6", "--accountant", "pld"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := cfg.roundConfig(1000, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := round.Config{Goal: 20, OverSelection: 1, MinFraction: 1 - 1.5*0.2,
		SelectionTimeout: selectionTimeout, ReportWindow: reportWindow, RetryMin: time.Second, Seed: 9,
		DP:     &round.DPConfig{NoiseMultiplier: 1.5, ClipNorm: 2, Delta: 1e-6, Accountant: privacy.AccountantPLD, Distributed: true},
		Codec:  &round.CodecConfig{Bits: 12, Rotate: true, Norm: 3},
		SecAgg: round.SemiHonestSecAgg(0.1, 0.2, selectionTimeout),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestExampleConfigsLoad(t *testing.T) {
	files, err := filepath.Glob("../examples/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configs: %v", err)
	}
	for _, path := range files {
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			continue // examples/c and the like: programs, not configs
		}
		cfg := DefaultConfig()
		if err := LoadConfigFile(path, &cfg); err != nil {
			t.Error(err)
		} else if err := cfg.Validate(); err != nil {
			t.Errorf("%s: %v", path, err)
		}
	}
}
