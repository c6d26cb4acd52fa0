package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wsplug/wsplug/abi"
	"github.com/wsplug/wsplug/config"
)

// Report is what Inspect finds out about a module.
type Report struct {
	// File is the path as given to Inspect.
	File string
	// Size is the module's size in bytes.
	Size int
	// SHA256 is the hex digest a config pins the module with.
	SHA256 string
	// ABI is the version the module speaks, as "v1", or "" when it has no
	// marker.
	ABI string
	// Imports are "module.name (kind)"; Exports the exported functions.
	Imports []string
	Exports []string // sorted
	// Provides is what the module describes itself as providing; empty
	// when it has Problems, as it is only started to be asked when it has
	// none.
	Provides Provides
	// Problems say why the host would refuse the module; none means it
	// loads (with default limits, no config and no capabilities).
	Problems []string
}

// Inspect reads a module and reports what the host would make of it,
// listing every problem rather than stopping at the first. The error is for
// a file that cannot be read.
func Inspect(ctx context.Context, file string) (*Report, error) {
	data, err := readModule(file)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	r := &Report{File: file, Size: len(data), SHA256: hex.EncodeToString(sum[:])}
	mod, err := readWasm(data)
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
		return r, nil
	}
	imports := mod.Imports
	for _, imp := range imports {
		r.Imports = append(r.Imports, fmt.Sprintf("%s (%s)", imp, imp.Kind))
	}
	// A module of another version is refused for that alone: its imports
	// and exports are of that version, not wrong.
	version := versionProblem(imports, nil)
	if version != "" {
		r.Problems = append(r.Problems, version)
	}
	for _, imp := range imports {
		if version == "" || !importVersion.MatchString(imp.Module) {
			r.Problems = append(r.Problems, importProblems([]wasmImport{imp})...)
		}
	}

	// The loader below compiles again; with the same cache and runtime
	// settings it finds this compilation instead.
	l, err := NewLoader(&LoaderOptions{NoCache: true})
	if err != nil {
		return nil, err
	}
	defer l.Close(ctx)
	limits := config.Limits{Memory: config.DefaultPluginMemory, Timeout: 5 * time.Second, Instances: 1}
	rt := wazero.NewRuntimeWithConfig(ctx, runtimeConfig(l.cache, limits))
	defer rt.Close(ctx)
	compiled, err := rt.CompileModule(ctx, data)
	if err != nil {
		r.Problems = append(r.Problems, "invalid module: "+strings.TrimPrefix(err.Error(), "invalid "))
		return r, nil
	}
	fns := compiled.ExportedFunctions()
	for name := range fns {
		r.Exports = append(r.Exports, name)
		if m := markerVersion.FindStringSubmatch(name); m != nil && (r.ABI == "" || name == abi.ExportMarker) {
			r.ABI = "v" + m[1]
		}
	}
	slices.Sort(r.Exports)
	if v := versionProblem(nil, fns); v != "" && version == "" {
		r.Problems = append(r.Problems, v)
	}
	r.Problems = append(r.Problems, exportProblems(compiled)...)
	if len(r.Problems) > 0 {
		return r, nil
	}

	p, err := l.Load(ctx, config.Plugin{Name: "inspect", File: file, Limits: limits})
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
		return r, nil
	}
	defer p.Close(ctx)
	r.Provides = p.Provides()
	return r, nil
}
