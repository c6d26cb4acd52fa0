package host

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"

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
	// ABI is the version the module speaks, as "v1": the one its imports
	// name when that is not this host's, else the one its marker export
	// names; "" when it has no marker.
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

// inspectLimit bounds the start and each call of the instance Inspect makes:
// a plugin whose init is slow is reported as such, not waited for.
const inspectLimit = 2 * time.Second

// Inspect reads a module and reports what the host would make of it,
// listing every problem rather than stopping at the first. The error is for
// a file that cannot be read.
func Inspect(ctx context.Context, file string) (*Report, error) {
	data, err := readModule(file)
	if err != nil {
		return nil, err
	}
	r := &Report{File: file, Size: len(data), SHA256: sha256Hex(data)}
	mod, err := readWasm(data)
	if err != nil {
		r.Problems = append(r.Problems, err.Error())
		return r, nil
	}
	for _, imp := range mod.Imports {
		r.Imports = append(r.Imports, fmt.Sprintf("%s (%s)", imp, imp.Kind))
	}
	for _, e := range mod.Exports {
		if e.Kind == importFunc {
			r.Exports = append(r.Exports, e.Name)
		}
	}
	slices.Sort(r.Exports)
	if v := spokenVersion(mod); v != "" {
		r.ABI = "v" + v
	}
	// A module of another version is refused for that alone: its imports
	// and exports are of that version, not wrong.
	version := versionProblem(mod)
	if version != "" {
		r.Problems = append(r.Problems, version)
	}
	for _, imp := range mod.Imports {
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
	l.startLimit = inspectLimit
	defer l.Close(ctx)
	limits := config.Limits{Memory: config.DefaultPluginMemory, Timeout: inspectLimit, Instances: 1}
	rt := wazero.NewRuntimeWithConfig(ctx, runtimeConfig(l.cache, limits))
	defer rt.Close(ctx)
	compiled, err := rt.CompileModule(ctx, data)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "invalid ")
		r.Problems = append(r.Problems, "invalid module: "+msg)
		return r, nil
	}
	r.Problems = append(r.Problems, exportProblems(compiled)...)
	if len(r.Problems) > 0 {
		return r, nil
	}

	p, err := l.Load(ctx, config.Plugin{Name: "inspect", File: file, Limits: limits})
	var pe *PluginError
	switch {
	case errors.As(err, &pe) && pe.Kind == ErrTimeout && (pe.Call == "start" || pe.Call == "init"):
		r.Problems = append(r.Problems,
			fmt.Sprintf("init did not finish within %s (inspect waits no longer)", inspectLimit))
		return r, nil
	case err != nil:
		r.Problems = append(r.Problems, err.Error())
		return r, nil
	}
	defer p.Close(ctx)
	r.Provides = p.Provides()
	return r, nil
}
