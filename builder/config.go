package builder

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"gopkg.in/yaml.v3"
)

// Config is SRC/terrapack.yaml: the same options as the build flags, which win.
type Config struct {
	Name          string     `yaml:"name"`
	Version       string     `yaml:"version"`
	Compression   string     `yaml:"compression"`
	Level         int        `yaml:"level"`
	DefaultTarget string     `yaml:"default_target"`
	Arch          string     `yaml:"arch"`
	PostInstall   string     `yaml:"post_install"`
	Prefix        stringList `yaml:"prefix"` // one path or a list
	ConfigFiles   stringList `yaml:"config"` // globs of config files
	Keep          stringList `yaml:"keep"`   // globs of data kept on upgrade
	License       string     `yaml:"license"`
	Sign          string     `yaml:"sign"` // signing key; relative to the current folder, ~/ for home
}

// LoadConfig reads src's terrapack.yaml; a missing file gives an empty Config.
func LoadConfig(src string) (*Config, error) {
	p := filepath.Join(src, ConfigFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		// A missing or non-folder source is reported by Build.
		return &Config{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("failed to read %q: %w", p, err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("failed to parse %q: %w", p, err)
	}
	return &c, nil
}

// stringList reads a YAML scalar or sequence of strings.
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{n.Value}
		return nil
	}
	var list []string
	if err := n.Decode(&list); err != nil {
		return err
	}
	*l = list
	return nil
}
