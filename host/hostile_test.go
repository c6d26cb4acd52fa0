package host

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsplug/wsplug/config"
	"github.com/wsplug/wsplug/host/internal/testplugin"
)

// testLimits are tight enough that a hostile plugin fails fast.
var testLimits = config.Limits{Memory: 4 << 20, Timeout: 300 * time.Millisecond, Instances: 2}

var floodLimits = config.Limits{Memory: 4 << 20, Timeout: 20 * time.Second, Instances: 1}

// recorder is a slog handler that keeps what it is given.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec)
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

func (r *recorder) count(msg string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rec := range r.records {
		if rec.Message == msg {
			n++
		}
	}
	return n
}

func newTestLoader(t testing.TB, logger *slog.Logger) *Loader {
	t.Helper()
	l, err := NewLoader(&LoaderOptions{CacheDir: testCacheDir, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

func load(t testing.TB, l *Loader, name, file string, limits config.Limits, allow ...string) (*Plugin, error) {
	t.Helper()
	return l.Load(context.Background(), config.Plugin{
		Name: name, File: file, Limits: limits, Allow: allow,
	})
}

func hostile(name string) string { return filepath.Join("testdata", "hostile", name+".wasm") }

// checkHealthy makes one call of each kind to the healthy plugin.
func checkHealthy(t *testing.T, r *Registry) {
	t.Helper()
	ctx := context.Background()
	tr, _ := r.Transform("echo_healthy")
	m := &Message{Data: []byte("still here")}
	if a, err := tr.Transform(ctx, m); a != Replace || string(m.Data) != "still here" || err != nil {
		t.Errorf("healthy transform: %v %q %v", a, m.Data, err)
	}
	f, _ := r.ClientIDFormat("healthy_id")
	if id, err := f.NewClientID(ctx); id != "id-1" || err != nil {
		t.Errorf("healthy client id: %q %v", id, err)
	}
	v, err := r.Lookup(nil).Lookup(ctx, "healthy", "")
	if v != "ok" || err != nil {
		t.Errorf("healthy placeholder: %v %v", v, err)
	}
}

func TestHostilePlugins(t *testing.T) {
	goGuest := testplugin.Build(t, "host/testdata/goguest")
	log := &recorder{}
	l := newTestLoader(t, slog.New(log))
	ctx := context.Background()

	healthy, err := load(t, l, "healthy", hostile("healthy"), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer healthy.Close(ctx)
	reg := NewRegistry()
	if err := reg.AddPlugin(healthy); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		file      string
		limits    config.Limits // zero: testLimits
		transform string        // to call when the plugin loads
		input     string
		kind      error  // expected error kind, at load or at the call
		detail    string // expected error text after "plugin[NAME] "; a final * matches any end
	}{
		{name: "infinite loop", file: hostile("loop"), transform: "loop", kind: ErrTimeout,
			detail: "transform[loop] (wsplug_transform): timed out: did not return within 300ms"},
		{name: "memory bomb", file: hostile("grow"), transform: "grow", kind: ErrTrap,
			detail: "transform[grow] (wsplug_transform): trapped: unreachable"},
		{name: "memory asked at start", file: hostile("bigmem"), kind: ErrRefused,
			detail: "load: refused: invalid module: section memory: " +
				"min 65536 pages (4 Gi) over limit of 64 pages (4 Mi)"},
		{name: "go guest out of memory", file: goGuest, transform: "go_oom", kind: ErrTrap,
			detail: `transform[go_oom] (wsplug_transform): trapped: unreachable ` +
				`(stderr: "runtime: out of memory: cannot allocate *`},
		{name: "trap", file: hostile("trap"), transform: "trap", kind: ErrTrap,
			detail: "transform[trap] (wsplug_transform): trapped: unreachable"},
		{name: "out-of-bounds pointer", file: hostile("oob"), transform: "oob", kind: ErrTrap,
			detail: "transform[oob] (wsplug_transform): trapped: output_set: the range " +
				"[0xffffff00, 0x100000300) is outside the plugin's memory of 65536 bytes"},
		{name: "buffer past the end of memory", file: hostile("oobread"), transform: "oobread",
			input: "a payload of some bytes", kind: ErrTrap,
			detail: "transform[oobread] (wsplug_transform): trapped: input_read: the range " +
				"[0xfff8, 0x103f8) is outside the plugin's memory of 65536 bytes"},
		{name: "huge output", file: hostile("huge"), limits: config.Limits{Memory: 64 << 20,
			Timeout: 2 * time.Second, Instances: 1}, transform: "huge", kind: ErrPluginFailed,
			detail: "transform[huge] (wsplug_transform): failed: its output of 20971520 bytes " +
				"is larger than the limit of 16777216"},
		{name: "socket import", file: hostile("import_sock"), kind: ErrRefused,
			detail: "load: refused: it imports wasi_snapshot_preview1.sock_send: " +
				"plugins have no network"},
		{name: "env import", file: hostile("import_env"), kind: ErrRefused,
			detail: "load: refused: it imports env.system: " +
				"plugins import only from wsplug_v1 and wasi_snapshot_preview1"},
		{name: "unknown host function", file: hostile("import_unknown_host"), kind: ErrRefused,
			detail: "load: refused: it imports wsplug_v1.exec, which ABI v1 does not have"},
		{name: "host function and WASI imports of the wrong types", file: hostile("import_signature"),
			kind: ErrRefused, detail: "load: refused: import wsplug_v1.output_set has type (i32) -> (), " +
				"the ABI's is (i32, i32) -> (i32); import wasi_snapshot_preview1.fd_write has type " +
				"(i64) -> (i32), WASI's is (i32, i32, i32, i32) -> (i32)"},
		{name: "imported memory", file: hostile("import_memory"), kind: ErrRefused,
			detail: "load: refused: it imports a memory, env.memory: " +
				"a plugin defines its own memory, tables and globals"},
		{name: "ABI v2 by marker and imports", file: hostile("abi_v2"), kind: ErrRefused,
			detail: "load: refused: it speaks ABI v2 (it imports wsplug_v2.input_read); " +
				"this host speaks v1"},
		{name: "ABI v2 imports under a v1 marker", file: hostile("abi_v2_import"), kind: ErrRefused,
			detail: "load: refused: it speaks ABI v2 (it imports wsplug_v2.input_read); " +
				"this host speaks v1"},
		{name: "no marker", file: hostile("no_marker"), kind: ErrRefused,
			detail: "load: refused: not a wsplug plugin: it does not export wsplug_abi_v1"},
		{name: "no memory export", file: hostile("no_memory"), kind: ErrRefused,
			detail: `load: refused: it does not export its memory as "memory"`},
		{name: "not wasm at all", file: hostile("notwasm"), kind: ErrRefused,
			detail: `load: refused: testdata/hostile/notwasm.wasm: not a WebAssembly module: it does not ` +
				`start with \0asm (it starts with "#!/bin/s")`},
		{name: "truncated module", file: hostile("truncated"), kind: ErrRefused,
			detail: "load: refused: testdata/hostile/truncated.wasm: not a WebAssembly module: " +
				"section 2 of 69 bytes runs past the end of the file"},
		{name: "trap in init", file: hostile("panic_init"), kind: ErrTrap,
			detail: "init (wsplug_init): trapped: unreachable"},
		{name: "slow init", file: hostile("slow_init"), kind: ErrTimeout,
			detail: "init (wsplug_init): timed out: did not return within 5s"},
		// The floods get time: they are about volume, and the race detector
		// makes 100,000 host calls slow.
		{name: "log flood", file: hostile("log_flood"), limits: floodLimits, transform: "log_flood"},
		{name: "stdout flood", file: hostile("stdout_flood"), limits: floodLimits, transform: "stdout_flood"},
		{name: "host function from _initialize", file: hostile("outside_call"), kind: ErrTrap,
			detail: "start: trapped: a host function was called while the module started (from its " +
				"start function or _initialize): host functions work only during a call"},
		{name: "host function from the start section", file: hostile("outside_start"), kind: ErrTrap,
			detail: "start: trapped: a host function was called while the module started (from its " +
				"start function or _initialize): host functions work only during a call"},
		{name: "unknown status", file: hostile("bad_status"), transform: "bad_status", kind: ErrPluginFailed,
			detail: "transform[bad_status] (wsplug_transform): failed: returned unknown status 77"},
		{name: "describe with an unknown kind", file: hostile("bad_describe"), kind: ErrRefused,
			detail: `describe (wsplug_describe): refused: line 1: unknown kind "gadget"; ` +
				`expected client_id, placeholder or transform`},
		{name: "stack overflow", file: hostile("stack_overflow"), transform: "stack_overflow", kind: ErrTrap,
			detail: "transform[stack_overflow] (wsplug_transform): trapped: stack overflow"},
		{name: "long error message", file: hostile("error_status"), transform: "error_status",
			kind: ErrPluginFailed, detail: "transform[error_status] (wsplug_transform): failed: " +
				strings.Repeat("e", 1024) + "… (3976 bytes cut)"},
		{name: "panicking go guest", file: goGuest, transform: "go_panic", kind: ErrPluginFailed,
			detail: "transform[go_panic] (wsplug_transform): failed: panic: " +
				"assignment to entry in nil map"},
		{name: "go guest that exits", file: goGuest, transform: "go_exit", kind: ErrTrap,
			detail: `transform[go_exit] (wsplug_transform): trapped: exited with code 3 (stderr: "giving up")`},
		{name: "hash mismatch", file: "sha256:" + hostile("healthy"), kind: ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limits := tt.limits
			if limits == (config.Limits{}) {
				limits = testLimits
			}
			spec := config.Plugin{Name: "bad", File: tt.file, Limits: limits}
			if f, ok := strings.CutPrefix(tt.file, "sha256:"); ok {
				spec.File, spec.SHA256 = f, strings.Repeat("ab", 32)
			}
			p, err := l.Load(ctx, spec)
			if err == nil {
				defer p.Close(ctx)
				if tt.transform == "" {
					t.Fatal("loaded; want it refused")
				}
				tr := &pluginTransform{p: p, call: "transform[" + tt.transform + "]"}
				tr.index = uint64(indexOf(p.Provides().Transforms, tt.transform))
				_, err = tr.Transform(ctx, &Message{Data: []byte(tt.input + "payload")})
			}
			switch {
			case tt.kind == nil && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.kind != nil && !errors.Is(err, tt.kind):
				t.Fatalf("error %v; want one of kind %v", err, tt.kind)
			case tt.kind != nil && tt.detail != "" && !matches(err.Error(), "plugin[bad] "+tt.detail):
				t.Errorf("error\n got %v\nwant plugin[bad] %s", err, tt.detail)
			}
			var pe *PluginError
			if err != nil && (!errors.As(err, &pe) || pe.Plugin != "bad") {
				t.Errorf("the error does not name the plugin: %#v", err)
			}
			checkHealthy(t, reg)
		})
	}
	if n := log.count("plugin log lines dropped"); n < 2 {
		t.Errorf("the floods should have been reported as dropped lines (%d reports)", n)
	}
}

// matches compares an error text with a wanted one, where a final * in the
// wanted one matches any end.
func matches(got, want string) bool {
	if prefix, ok := strings.CutSuffix(want, "*"); ok {
		return strings.HasPrefix(got, prefix)
	}
	return got == want
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// TestHashPin checks that a right pin loads and a wrong one is refused
// before compiling, naming both digests.
func TestHashPin(t *testing.T) {
	l := newTestLoader(t, nil)
	file := hostile("healthy")
	p, err := load(t, l, "h", file, testLimits)
	if err != nil {
		t.Fatal(err)
	}
	sum := p.SHA256()
	p.Close(context.Background())

	spec := config.Plugin{Name: "h", File: file, SHA256: strings.ToUpper(sum), Limits: testLimits}
	if p, err := l.Load(context.Background(), spec); err != nil {
		t.Errorf("the right pin (in upper case) was refused: %v", err)
	} else {
		p.Close(context.Background())
	}
	spec.SHA256 = strings.Repeat("0", 64)
	_, err = l.Load(context.Background(), spec)
	want := "plugin[h] load: refused: sha256 mismatch: " + file + " hashes to " + sum +
		"; the config pins " + spec.SHA256
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}

	_, err = load(t, l, "m", filepath.Join(t.TempDir(), "missing.wasm"), testLimits)
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "plugin[m] load: open ") {
		t.Errorf("missing file: %v", err)
	}
}
