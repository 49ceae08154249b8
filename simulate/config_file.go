package simulate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"
)

// LoadConfigFile sets the fields of into that the file at path sets, leaving
// the others as they are. The format follows the name: .yaml or .yml for
// YAML, .toml for TOML; keys are the tags of Config. A key Config does not
// have is an error naming it, so a typo cannot silently leave a default.
func LoadConfigFile(path string, into *Config) error {
	var decode func(*os.File, *Config) error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		decode = decodeYAML
	case ".toml":
		decode = decodeTOML
	default:
		return fmt.Errorf("config file %s: unknown format, want a .yaml, .yml or .toml name", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := decode(f, into); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

func decodeYAML(f *os.File, into *Config) error {
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	err := dec.Decode(into)
	if errors.Is(err, io.EOF) { // an empty file sets nothing
		return nil
	}
	var te *yaml.TypeError
	if errors.As(err, &te) {
		return errors.New(yamlProblems(te.Errors))
	}
	return err
}

// yamlProblems joins yaml.v3's per-line messages on one line and words its
// "field x not found in type simulate.Config" as an unknown key.
func yamlProblems(lines []string) string {
	for i, l := range lines {
		if before, after, ok := strings.Cut(l, "field "); ok {
			if key, _, ok := strings.Cut(after, " not found in type "); ok {
				lines[i] = fmt.Sprintf("%sunknown key %q", before, key)
			}
		}
	}
	return strings.Join(lines, "; ")
}

func decodeTOML(f *os.File, into *Config) error {
	md, err := toml.NewDecoder(f).Decode(into)
	if err != nil {
		return err
	}
	var unknown []string
	for _, k := range md.Undecoded() {
		unknown = append(unknown, fmt.Sprintf("unknown key %q", k.String()))
	}
	if len(unknown) > 0 {
		return errors.New(strings.Join(unknown, "; "))
	}
	return nil
}
