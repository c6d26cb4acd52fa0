package host

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wsplug/wsplug/abi"
)

const wasiModule = "wasi_snapshot_preview1"

// wasiAllowed are the WASI functions a plugin may import: what C and Go
// toolchains link in. The filesystem ones are harmless, as no directory is
// mounted; sockets are not on the list.
var wasiAllowed = map[string]bool{}

func init() {
	for _, name := range []string{
		"args_get", "args_sizes_get", "environ_get", "environ_sizes_get",
		"clock_res_get", "clock_time_get", "random_get", "poll_oneoff", "sched_yield", "proc_exit",
		"fd_advise", "fd_allocate", "fd_close", "fd_datasync", "fd_fdstat_get",
		"fd_fdstat_set_flags", "fd_fdstat_set_rights", "fd_filestat_get", "fd_filestat_set_size",
		"fd_filestat_set_times", "fd_pread", "fd_prestat_get", "fd_prestat_dir_name", "fd_pwrite",
		"fd_read", "fd_readdir", "fd_renumber", "fd_seek", "fd_sync", "fd_tell", "fd_write",
		"path_create_directory", "path_filestat_get", "path_filestat_set_times", "path_link",
		"path_open", "path_readlink", "path_remove_directory", "path_rename", "path_symlink",
		"path_unlink_file",
	} {
		wasiAllowed[name] = true
	}
}

var (
	importVersion = regexp.MustCompile(`^wsplug_v(\d+)$`)
	markerVersion = regexp.MustCompile(`^` + abi.ExportMarkerPrefix + `(\d+)$`)
)

// speaks is the ABI version a module speaks, as digits, and what says so:
// a wsplug_vN import of another version than this host's decides first,
// then the marker export, this host's own before any other. The version is
// "" when the module has neither.
func speaks(m *wasmModule) (version, by string) {
	for _, imp := range m.Imports {
		if v := otherVersion(imp); v != "" {
			return v, "it imports " + imp.String()
		}
	}
	for _, e := range m.Exports {
		v := markerVersion.FindStringSubmatch(e.Name)
		if v == nil || e.Kind != importFunc {
			continue
		}
		if e.Name == abi.ExportMarker {
			return v[1], "it exports " + e.Name
		}
		if version == "" {
			version, by = v[1], "it exports "+e.Name
		}
	}
	return version, by
}

// spokenVersion is the version speaks finds.
func spokenVersion(m *wasmModule) string {
	v, _ := speaks(m)
	return v
}

// otherVersion is the version of an import from wsplug_vN, as digits, when
// N is not this host's version; otherwise "".
func otherVersion(imp wasmImport) string {
	v := importVersion.FindStringSubmatch(imp.Module)
	if v == nil || v[1] == strconv.Itoa(abi.Version) {
		return ""
	}
	return v[1]
}

// versionProblem says which ABI version a module speaks when it is not
// this host's, from its imports or its marker export, or that it has no
// marker.
func versionProblem(m *wasmModule) string {
	switch v, by := speaks(m); v {
	case strconv.Itoa(abi.Version):
		return ""
	case "":
		return fmt.Sprintf("not a wsplug plugin: it does not export %s", abi.ExportMarker)
	default:
		return fmt.Sprintf("it speaks ABI v%s (%s); this host speaks v%d", v, by, abi.Version)
	}
}

// importProblems lists every import the sandbox does not give.
func importProblems(imports []wasmImport) []string {
	var out []string
	for _, imp := range imports {
		switch {
		case imp.Kind != importFunc:
			out = append(out, fmt.Sprintf("it imports a %s, %s: a plugin defines its own memory, "+
				"tables and globals", imp.Kind, imp))
		case imp.Module == abi.ImportModule:
			want, ok := hostFuncType(imp.Name)
			switch {
			case !ok:
				out = append(out, fmt.Sprintf("it imports %s, which ABI v%d does not have",
					imp, abi.Version))
			case imp.Type != nil && !want.equal(*imp.Type):
				out = append(out, fmt.Sprintf("import %s has type %s, the ABI's is %s",
					imp, imp.Type, want))
			}
		case imp.Module == wasiModule:
			switch {
			case len(imp.Name) > 5 && imp.Name[:5] == "sock_":
				out = append(out, fmt.Sprintf("it imports %s: plugins have no network", imp))
			case !wasiAllowed[imp.Name]:
				out = append(out, fmt.Sprintf("it imports %s, which is not a WASI function "+
					"plugins may use", imp))
			case imp.Type != nil:
				if want, ok := wasiTypes()[imp.Name]; ok && !want.equal(*imp.Type) {
					out = append(out, fmt.Sprintf("import %s has type %s, WASI's is %s",
						imp, imp.Type, want))
				}
			}
		default:
			out = append(out, fmt.Sprintf("it imports %s: plugins import only from %s and %s",
				imp, abi.ImportModule, wasiModule))
		}
	}
	return out
}

// wasiTypes are the signatures of the WASI functions wazero provides, read
// once from its host module, so that a wrong one is refused before
// instantiating instead of failing there as a link error.
var wasiTypes = sync.OnceValue(func() map[string]funcType {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	out := map[string]funcType{}
	compiled, err := wasi_snapshot_preview1.NewBuilder(rt).Compile(ctx)
	if err != nil {
		return out // instantiating will check the types
	}
	for name, def := range compiled.ExportedFunctions() {
		out[name] = funcType{Params: def.ParamTypes(), Results: def.ResultTypes()}
	}
	return out
})

func (t funcType) equal(u funcType) bool {
	return slices.Equal(t.Params, u.Params) && slices.Equal(t.Results, u.Results)
}

// exportSignatures are the ABI's function exports: params, then results.
var exportSignatures = map[string][2][]api.ValueType{
	abi.ExportMarker:      {nil, nil},
	abi.ExportInitialize:  {nil, nil},
	abi.ExportInit:        {nil, {api.ValueTypeI32}},
	abi.ExportDescribe:    {nil, {api.ValueTypeI32}},
	abi.ExportClientID:    {{api.ValueTypeI32}, {api.ValueTypeI32}},
	abi.ExportPlaceholder: {{api.ValueTypeI32}, {api.ValueTypeI32}},
	abi.ExportTransform:   {{api.ValueTypeI32, api.ValueTypeI32}, {api.ValueTypeI32}},
}

// exportProblems lists what is missing or wrong in a module's exports.
func exportProblems(c wazero.CompiledModule) []string {
	var out []string
	if _, ok := c.ExportedMemories()[abi.ExportMemory]; !ok {
		out = append(out, fmt.Sprintf("it does not export its memory as %q", abi.ExportMemory))
	}
	fns := c.ExportedFunctions()
	if _, ok := fns[abi.ExportDescribe]; !ok {
		out = append(out, fmt.Sprintf("it does not export %s", abi.ExportDescribe))
	}
	names := make([]string, 0, len(exportSignatures))
	for name := range exportSignatures {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		def, ok := fns[name]
		if !ok {
			continue
		}
		want := exportSignatures[name]
		if !slices.Equal(def.ParamTypes(), want[0]) || !slices.Equal(def.ResultTypes(), want[1]) {
			out = append(out, fmt.Sprintf("its export %s has the signature %s; ABI v%d says %s",
				name, signature(def.ParamTypes(), def.ResultTypes()), abi.Version,
				signature(want[0], want[1])))
		}
	}
	return out
}

func signature(params, results []api.ValueType) string {
	names := func(ts []api.ValueType) string {
		s := "("
		for i, t := range ts {
			if i > 0 {
				s += ", "
			}
			s += api.ValueTypeName(t)
		}
		return s + ")"
	}
	return names(params) + " -> " + names(results)
}
