package host

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wsplug/wsplug/abi"
	"github.com/wsplug/wsplug/config"
)

// DefaultMaxOutput bounds the output of one plugin call.
const DefaultMaxOutput = 16 << 20

// sha256Mismatch begins the detail of a load refused for its pin.
const sha256Mismatch = "sha256 mismatch"

// maxModuleSize bounds the .wasm files a Loader reads.
const maxModuleSize = 256 << 20

// LoaderOptions configure a Loader; the zero value is ready to use.
type LoaderOptions struct {
	// CacheDir keeps compiled plugins between runs, keyed by their bytes, so
	// that a restart loads them in milliseconds. Empty means wsplug/wazero
	// under os.UserCacheDir.
	CacheDir string
	// NoCache compiles in memory only.
	NoCache bool
	// Logger receives the plugins' log lines, stdout and stderr; nil
	// discards them.
	Logger *slog.Logger
	// MaxOutput bounds one call's output, in bytes; 0 means DefaultMaxOutput.
	MaxOutput int
}

// Loader loads plugins. Its plugins share one compilation cache; each gets a
// runtime of its own, so that each has its own limits.
type Loader struct {
	// holders counts the setups that share the loader (Setup.Next); the
	// last to let go closes it.
	holders   atomic.Int32
	cache     wazero.CompilationCache
	logger    *slog.Logger
	maxOutput int
	// startLimit, when set, bounds every instance's start instead of
	// startTimeout's rule: Inspect waits less than a load.
	startLimit time.Duration
}

// NewLoader makes a Loader. opts may be nil.
func NewLoader(opts *LoaderOptions) (*Loader, error) {
	var o LoaderOptions
	if opts != nil {
		o = *opts
	}
	l := &Loader{logger: o.Logger, maxOutput: o.MaxOutput}
	l.holders.Store(1)
	if l.logger == nil {
		l.logger = slog.New(slog.DiscardHandler)
	}
	if l.maxOutput <= 0 {
		l.maxOutput = DefaultMaxOutput
	}
	if o.NoCache {
		l.cache = wazero.NewCompilationCache()
		return l, nil
	}
	dir := o.CacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("plugin cache: %w (set a cache directory, or none)", err)
		}
		dir = filepath.Join(base, "wsplug", "wazero")
	}
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin cache %s: %w", dir, err)
	}
	l.cache = cache
	return l, nil
}

// Close releases the compilation cache; close the plugins first.
func (l *Loader) Close(ctx context.Context) error {
	return l.cache.Close(ctx)
}

// unhold lets go of one setup's hold; the last closes the loader.
func (l *Loader) unhold(ctx context.Context) error {
	if l.holders.Add(-1) > 0 {
		return nil
	}
	return l.Close(ctx)
}

// unhold lets go of one setup's hold; the last closes the plugin.
func (p *Plugin) unhold(ctx context.Context) error {
	if p.holders.Add(-1) > 0 {
		return nil
	}
	return p.Close(ctx)
}

// sameSpec reports whether spec asks for p as it was loaded: the same
// name, config, capabilities and limits (the file's bytes aside).
func (p *Plugin) sameSpec(spec config.Plugin) bool {
	if spec.Name != p.name || !slices.Equal(spec.Allow, p.allow) || spec.Limits != p.limits {
		return false
	}
	if spec.SHA256 != "" && !strings.EqualFold(spec.SHA256, p.sum) {
		return false // Load says why
	}
	cfg, err := json.Marshal(spec.Config)
	return err == nil && bytes.Equal(cfg, p.configJSON)
}

// hashModule is the hex sha256 of the module file at path.
func hashModule(path string) (string, error) {
	data, err := readModule(path)
	if err != nil {
		return "", err
	}
	return sha256Hex(data), nil
}

// sha256Hex is the digest a config's sha256 pins: hex, lowercase.
func sha256Hex(data []byte) string {
	digest := sha256.Sum256(data)
	return hex.EncodeToString(digest[:])
}

// Plugin is a loaded Wasm plugin: a compiled module and a pool of its
// instances. Its providers (Provides) are safe for concurrent use.
type Plugin struct {
	name      string
	file      string
	sum       string
	size      int
	runtime   wazero.Runtime
	compiled  wazero.CompiledModule
	pool      *pool
	provides  Provides
	caps      capabilities
	timeout   time.Duration
	maxOutput int
	log       *pluginLog
	// startLimit is the Loader's.
	startLimit time.Duration

	configJSON []byte
	deniedOnce sync.Once
	// limits and allow are the spec's, so that a reload can tell whether
	// the plugin changed (Setup.Next).
	limits config.Limits
	allow  []string
	// holders counts the setups that hold the plugin (Setup.Next shares
	// an unchanged one); the last to let go closes it.
	holders atomic.Int32

	calls    atomic.Int64
	failures atomic.Int64
	// Timed calls (one in sampleEvery) and their time, in nanoseconds.
	sampled, sampledNanos atomic.Int64
}

type capabilities struct {
	clock, random, secrets bool
}

// Provides is what a plugin describes itself as providing, in its order.
type Provides struct {
	// ClientIDs are client_id_format names.
	ClientIDs []string
	// Placeholders are placeholder names, used as {name} or {name:arg}.
	Placeholders []PlaceholderInfo
	// Transforms are names for a websocket's transforms lists.
	Transforms []string
}

// PlaceholderInfo is one placeholder a plugin provides.
type PlaceholderInfo struct {
	// Name is what the config writes between the braces.
	Name string
	// Secret: the plugin marked its values secret, so the host redacts
	// them wherever it shows what they resolved into.
	Secret bool
}

// startTimeout bounds a new instance's start (its start section,
// _initialize and wsplug_init): ten calls' worth, and at least five
// seconds, since a Go guest's runtime starts there and a busy machine
// slows it.
func (p *Plugin) startTimeout() time.Duration {
	if p.startLimit > 0 {
		return p.startLimit
	}
	return max(10*p.timeout, 5*time.Second)
}

// Name is the plugin's name from the config.
func (p *Plugin) Name() string { return p.name }

// SHA256 is the hex digest of the module's bytes.
func (p *Plugin) SHA256() string { return p.sum }

// Provides lists what the plugin provides.
func (p *Plugin) Provides() Provides { return p.provides }

// error is the failure of a call, naming the export it ran.
func (p *Plugin) error(call string, kind error, detail string) *PluginError {
	return &PluginError{Plugin: p.name, Call: call, Export: exportOf(call),
		Kind: kind, Detail: detail}
}

// Load reads, checks, compiles and starts the plugin spec describes: the
// sha256 pin before compiling, the imports before instantiating, then one
// instance's init and describe. Failures are *PluginError naming the plugin.
func (l *Loader) Load(ctx context.Context, spec config.Plugin) (*Plugin, error) {
	file := spec.File
	if file == "" {
		file = spec.Path
	}
	refuse := func(format string, args ...any) error {
		return &PluginError{Plugin: spec.Name, Call: "load", Kind: ErrRefused,
			Detail: fmt.Sprintf(format, args...)}
	}
	data, err := readModule(file)
	if err != nil {
		return nil, &PluginError{Plugin: spec.Name, Call: "load", Kind: err}
	}
	sum := sha256Hex(data)
	if spec.SHA256 != "" && !strings.EqualFold(spec.SHA256, sum) {
		return nil, refuse("%s: %s hashes to %s; the config pins %s",
			sha256Mismatch, file, sum, spec.SHA256)
	}
	mod, err := readWasm(data)
	if err != nil {
		return nil, refuse("%s: %v", file, err)
	}
	if v := versionProblem(mod); v != "" {
		return nil, refuse("%s", v)
	}
	if problems := importProblems(mod.Imports); len(problems) > 0 {
		return nil, refuse("%s", strings.Join(problems, "; "))
	}

	p := &Plugin{
		name: spec.Name, file: file, sum: sum, size: len(data),
		timeout: spec.Limits.Timeout, maxOutput: l.maxOutput, startLimit: l.startLimit,
		log:    newPluginLog(l.logger, spec.Name),
		limits: spec.Limits, allow: slices.Clone(spec.Allow),
	}
	p.holders.Store(1)
	for _, c := range spec.Allow {
		switch c {
		case config.CapClock:
			p.caps.clock = true
		case config.CapRandom:
			p.caps.random = true
		case config.CapSecrets:
			p.caps.secrets = true
		}
	}
	if p.configJSON, err = json.Marshal(spec.Config); err != nil {
		return nil, refuse("config: %v", err)
	}
	if err := p.compile(ctx, l, data, spec.Limits); err != nil {
		return nil, err
	}
	p.pool = newPool(max(spec.Limits.Instances, 1), p.newInstance)
	if err := p.describe(ctx); err != nil {
		p.Close(ctx)
		return nil, err
	}
	return p, nil
}

func readModule(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxModuleSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxModuleSize {
		return nil, fmt.Errorf("%s is larger than %s", file, config.FormatSize(maxModuleSize))
	}
	return data, nil
}

// compile makes the plugin's runtime and compiles its module.
func (p *Plugin) compile(ctx context.Context, l *Loader, data []byte, limits config.Limits) error {
	p.runtime = wazero.NewRuntimeWithConfig(ctx, runtimeConfig(l.cache, limits))
	fail := func(kind error, detail string) error {
		_ = p.runtime.Close(ctx)
		return p.error("load", kind, detail)
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.runtime); err != nil {
		return fail(err, "")
	}
	if err := instantiateHostModule(ctx, p.runtime); err != nil {
		return fail(err, "")
	}
	// A cache miss compiles the functions on every core: a Go guest's
	// thousands of functions take a second or more on one.
	compiled, err := p.runtime.CompileModule(
		experimental.WithCompilationWorkers(ctx, runtime.GOMAXPROCS(0)), data)
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fail(ctxErr, "while compiling")
	}
	if err != nil {
		return fail(ErrRefused, "invalid module: "+strings.TrimPrefix(err.Error(), "invalid "))
	}
	if problems := exportProblems(compiled); len(problems) > 0 {
		return fail(ErrRefused, strings.Join(problems, "; "))
	}
	p.compiled = compiled
	return nil
}

const wasmPageSize = 64 << 10

// runtimeConfig is the runtime of a plugin with these limits: its memory
// ceiling, and the termination checks a time limit needs.
func runtimeConfig(cache wazero.CompilationCache, limits config.Limits) wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithMemoryLimitPages(uint32(max(limits.Memory/wasmPageSize, 1))).
		WithCloseOnContextDone(limits.Timeout > 0).
		WithDebugInfoEnabled(false) // DWARF costs load time; traps still name functions
}

// describe starts the first instance, asks it what the plugin provides, and
// keeps it in the pool.
func (p *Plugin) describe(ctx context.Context) error {
	in, err := p.pool.get(ctx)
	if err != nil {
		return err
	}
	defer p.pool.put(in)
	status, err := in.call(ctx, "describe", in.fnDescribe, nil)
	if err == nil && (status != abi.StatusOK || in.tooLarge > 0) {
		err = p.error("describe", ErrPluginFailed, resultProblem(status, in))
	}
	if err != nil {
		return err
	}
	provides, err := parseDescribe(string(in.out))
	if err != nil {
		return p.error("describe", ErrRefused, err.Error())
	}
	for _, need := range []struct {
		has    bool
		export string
		kind   string
	}{
		{len(provides.ClientIDs) > 0 && in.fnClientID == nil, abi.ExportClientID, abi.KindClientID},
		{len(provides.Placeholders) > 0 && in.fnPlaceholder == nil, abi.ExportPlaceholder, abi.KindPlaceholder},
		{len(provides.Transforms) > 0 && in.fnTransform == nil, abi.ExportTransform, abi.KindTransform},
	} {
		if need.has {
			return p.error("describe", ErrRefused,
				fmt.Sprintf("it describes a %s but does not export %s", need.kind, need.export))
		}
	}
	p.provides = provides
	return nil
}

// parseDescribe reads the describe output: one "kind name [flags]" a line.
func parseDescribe(text string) (Provides, error) {
	var out Provides
	seen := map[string]bool{}
	for i, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields := strings.Split(line, " ")
		if len(fields) < 2 {
			return out, fmt.Errorf("line %d %q: expected a kind and a name", i+1, line)
		}
		kind, name, flags := fields[0], fields[1], fields[2:]
		if !validName(name) {
			return out, fmt.Errorf("line %d: %q is not a name (letters, digits, '_', '.', '-')",
				i+1, name)
		}
		if seen[kind+" "+name] {
			return out, fmt.Errorf("line %d: %s %s is described twice", i+1, kind, name)
		}
		seen[kind+" "+name] = true
		secret := false
		for _, f := range flags {
			if f != abi.FlagSecret || kind != abi.KindPlaceholder {
				return out, fmt.Errorf("line %d: unknown flag %q for a %s", i+1, f, kind)
			}
			secret = true
		}
		switch kind {
		case abi.KindClientID:
			out.ClientIDs = append(out.ClientIDs, name)
		case abi.KindPlaceholder:
			out.Placeholders = append(out.Placeholders, PlaceholderInfo{Name: name, Secret: secret})
		case abi.KindTransform:
			out.Transforms = append(out.Transforms, name)
		default:
			return out, fmt.Errorf("line %d: unknown kind %q; expected %s, %s or %s", i+1, kind,
				abi.KindClientID, abi.KindPlaceholder, abi.KindTransform)
		}
	}
	if len(out.ClientIDs)+len(out.Placeholders)+len(out.Transforms) == 0 {
		return out, errors.New("it provides nothing")
	}
	return out, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

// Close closes the plugin: idle instances at once, busy ones as their calls
// end, then the runtime, and reports the log lines it dropped. If ctx ends
// first, the calls still running are cut short. Calls after Close fail with
// ErrClosed.
func (p *Plugin) Close(ctx context.Context) error {
	if p.pool != nil {
		select {
		case <-p.pool.close():
		case <-ctx.Done():
		}
	}
	err := p.runtime.Close(context.Background())
	p.log.flush()
	return err
}

// PluginStats are a plugin's counters. Every count only grows while the
// Plugin exists, so an exporter can publish them as counters as they are.
// They belong to this Plugin: a reload through Setup.Next that carries an
// unchanged plugin over keeps its counts, but a plugin loaded again (one
// that changed, or any plugin LoadConfig loads) is a new Plugin whose
// counts start at zero, while the old one's stay with it.
type PluginStats struct {
	// Name is the plugin's name from the config.
	Name string
	// Calls counts the calls into the plugin; Failures those that failed:
	// an error or a bad result from the guest, a trap, a timeout, or no
	// instance to run on.
	Calls, Failures int64
	// TimedCalls counts the calls whose time was measured, one in 16 of
	// each instance's calls, since reading the clock can cost more than a
	// short call; TimedCallTime is the time they took, all together.
	// TimedCallTime / TimedCalls is the mean latency, and the two are a
	// summary's sum and count.
	TimedCalls    int64
	TimedCallTime time.Duration
	// Instances exist now; Idle of them wait for a call.
	Instances, Idle int
}

// Stats returns the plugin's counters.
func (p *Plugin) Stats() PluginStats {
	live, idle := p.pool.stats()
	return PluginStats{
		Name: p.name, Calls: p.calls.Load(), Failures: p.failures.Load(),
		TimedCalls: p.sampled.Load(), TimedCallTime: time.Duration(p.sampledNanos.Load()),
		Instances: live, Idle: idle,
	}
}

// cryptoRand is crypto/rand as an io.Reader value for wazero.
type cryptoRand struct{}

func (cryptoRand) Read(b []byte) (int, error) { return rand.Read(b) }
