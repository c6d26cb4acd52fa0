package config

import (
	"fmt"
	"os"
	"path/filepath"
)

// Names are the providers a host has beyond the built-ins: the client_id
// formats, placeholders and transforms that plugins and the embedding
// program add. Validation accepts a name when a built-in or Names has it.
type Names interface {
	ClientIDFormats() []string
	Placeholders() []string
	Transforms() []string
}

// Load reads, decodes and validates a config file against the built-ins and
// names (nil: built-ins only). The error, when there is one, is a
// *ValidationError that lists every problem of the file, or a read error.
func Load(path string, names Names) (*File, error) {
	f, err := Decode(path)
	if err != nil {
		return nil, err
	}
	if err := f.Validate(names); err != nil {
		return nil, err
	}
	return f, nil
}

// Decode reads a config file into plain data without validating it. It is
// for a host that must read the plugins section before it knows the names
// to validate against: Validate must be called before the File is used.
// The error is a read error or a *ValidationError for invalid YAML.
func Decode(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	f, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	for i := range f.Plugins {
		p := &f.Plugins[i]
		if p.Path != "" && !filepath.IsAbs(p.Path) {
			p.File = filepath.Join(dir, p.Path)
		}
	}
	return f, nil
}

// Parse decodes a config held in memory; name is used in messages and
// plugin paths are taken as they are written. Like Decode, it does not
// validate.
func Parse(name string, data []byte) (*File, error) {
	f, err := decode(name, data)
	if err != nil {
		return nil, err
	}
	for i := range f.Plugins {
		f.Plugins[i].File = f.Plugins[i].Path
	}
	return f, nil
}
