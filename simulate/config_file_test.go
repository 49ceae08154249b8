package simulate

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeTemp(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigFileSetsOnlyGivenKeys(t *testing.T) {
	for name, text := range map[string]string{
		"run.yaml": "rounds: 7\nserver_optimizer: fedavg\nserver_lr: 0.5\nseed: 42\n",
		"run.yml":  "rounds: 7\nserver_optimizer: fedavg\nserver_lr: 0.5\nseed: 42\n",
		"run.toml": "rounds = 7\nserver_optimizer = \"fedavg\"\nserver_lr = 0.5\nseed = 42\n",
	} {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			if err := LoadConfigFile(writeTemp(t, name, text), &cfg); err != nil {
				t.Fatal(err)
			}
			want := DefaultConfig()
			want.Rounds, want.ServerOptimizer, want.ServerLR, want.Seed = 7, "fedavg", 0.5, 42
			if cfg != want {
				t.Errorf("got %+v\nwant %+v", cfg, want)
			}
		})
	}
}

func TestLoadConfigFileEmptyYAMLSetsNothing(t *testing.T) {
	cfg := DefaultConfig()
	if err := LoadConfigFile(writeTemp(t, "empty.yaml", ""), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg != DefaultConfig() {
		t.Errorf("got %+v", cfg)
	}
}

func TestLoadConfigFileErrors(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []string // substrings of the error
	}{
		{"unknown.yaml", "rounds: 3\nround: 4\n", []string{"unknown.yaml", "line 2", `unknown key "round"`}},
		{"unknown.toml", "rounds = 3\nround = 4\n", []string{"unknown.toml", `unknown key "round"`}},
		{"badtype.yaml", "rounds: many\n", []string{"badtype.yaml", "line 1", "many"}},
		{"badtype.toml", "rounds = \"many\"\n", []string{"badtype.toml", "rounds"}},
		{"broken.yaml", "rounds: [3\n", []string{"broken.yaml"}},
		{"broken.toml", "rounds = = 3\n", []string{"broken.toml"}},
		{"run.json", "{}", []string{"run.json", "unknown format"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			err := LoadConfigFile(writeTemp(t, tc.name, tc.text), &cfg)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not mention %q", msg, w)
				}
			}
		})
	}
}

func TestLoadConfigFileMissing(t *testing.T) {
	cfg := DefaultConfig()
	err := LoadConfigFile(filepath.Join(t.TempDir(), "absent.yaml"), &cfg)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
}
