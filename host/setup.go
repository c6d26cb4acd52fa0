package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wsplug/wsplug/config"
)

// Setup is a config file made ready to run: decoded, its plugins loaded and
// registered, and everything validated against what they provide.
type Setup struct {
	// File is the decoded, validated config; read it, do not change it.
	File *config.File
	// Registry holds every provider the clients may name: the built-ins,
	// the caller's Go functions, and the plugins'.
	Registry *Registry
	// Plugins are the loaded plugins in file order; Close closes them.
	Plugins []*Plugin
	loader  *Loader
	// use counts the calls that hold the setup's providers, so that Close
	// lets them finish instead of failing them.
	use    useGate
	closed atomic.Bool
}

// LoadConfig reads the config file at path, loads the plugins it lists
// (concurrently) into reg (nil: a new registry with the built-ins; pass one
// to add Go providers first), and validates the file against the result.
// Every problem, the plugins' included, comes back at once in a
// *config.ValidationError with file and line. On error nothing stays
// loaded.
func LoadConfig(
	ctx context.Context,
	path string,
	reg *Registry,
	opts *LoaderOptions,
) (*Setup, error) {
	return loadConfig(ctx, path, reg, opts, nil)
}

// Next loads the config file at path again, for Host.Reload, and shares
// with s what did not change: a plugin whose file, config, capabilities
// and limits are the same is not loaded again but carried over, with its
// instances, their state (a sequence, a snowflake's last time) and its
// counters, and so is the loader with its compilation cache. A plugin that
// changed is loaded anew. reg is as for LoadConfig; opts is used only if s
// has no loader yet. s and the new setup may be closed in either order: a
// shared plugin closes with the last of them.
func (s *Setup) Next(
	ctx context.Context,
	path string,
	reg *Registry,
	opts *LoaderOptions,
) (*Setup, error) {
	return loadConfig(ctx, path, reg, opts, s)
}

func loadConfig(
	ctx context.Context,
	path string,
	reg *Registry,
	opts *LoaderOptions,
	prev *Setup,
) (*Setup, error) {
	f, err := config.Decode(path)
	if err != nil {
		return nil, err
	}
	if reg == nil {
		reg = NewRegistry()
	}
	if prev != nil && reg == prev.Registry {
		return nil, errors.New("reload: the new setup needs a registry of its own " +
			"(the old one still serves the running clients)")
	}
	s := &Setup{File: f, Registry: reg}
	var problems []config.Problem
	if len(f.Plugins) > 0 {
		if prev != nil && prev.loader != nil && holdIfOpen(&prev.loader.holders) {
			s.loader = prev.loader
		} else if s.loader, err = NewLoader(opts); err != nil {
			return nil, err
		}
		problems = s.loadPlugins(ctx, prev)
	}
	if err := f.ValidateWith(reg, problems...); err != nil {
		s.Close(ctx)
		return nil, err
	}
	return s, nil
}

// loadPlugins loads every plugin entry that names a plugin once, in
// parallel, or takes it from prev where it did not change; then it
// registers them in file order.
func (s *Setup) loadPlugins(ctx context.Context, prev *Setup) []config.Problem {
	f := s.File
	loaded := make([]*Plugin, len(f.Plugins))
	errs := make([]error, len(f.Plugins))
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for i, spec := range f.Plugins {
		if spec.Name == "" || spec.Path == "" || seen[spec.Name] {
			continue // Validate says what is wrong with the entry
		}
		seen[spec.Name] = true
		if p := prev.unchanged(spec); p != nil {
			loaded[i] = p
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			loaded[i], errs[i] = s.loader.Load(ctx, spec)
		}()
	}
	wg.Wait()

	var problems []config.Problem
	for i, p := range loaded {
		entry := fmt.Sprintf("plugins[%d]", i)
		if err := errs[i]; err != nil {
			key := entry + ".path"
			var pe *PluginError
			if errors.As(err, &pe) && strings.HasPrefix(pe.Detail, sha256Mismatch) {
				key = entry + ".sha256"
			}
			problems = append(problems, f.Problem(key, err.Error()))
			continue
		}
		if p == nil {
			continue
		}
		if err := s.Registry.AddPlugin(p); err != nil {
			p.unhold(ctx)
			problems = append(problems, f.Problem(entry+".name", err.Error()))
			continue
		}
		s.Plugins = append(s.Plugins, p)
	}
	return problems
}

// unchanged returns s's plugin that spec would load as it is, held once
// more for the caller; nil if there is none (or s is nil, or s is closed).
func (s *Setup) unchanged(spec config.Plugin) *Plugin {
	if s == nil || s.closed.Load() {
		return nil
	}
	p, ok := s.Plugin(spec.Name)
	if !ok || !p.sameSpec(spec) {
		return nil
	}
	file := spec.File
	if file == "" {
		file = spec.Path
	}
	// The file is read last, and only for a plugin whose spec is the same:
	// hashing costs a read of the whole module.
	if sum, err := hashModule(file); err != nil || sum != p.sum {
		return nil
	}
	if !holdIfOpen(&p.holders) {
		return nil // closing
	}
	return p
}

// holdIfOpen counts one holder more, unless the count is down to zero:
// then what it counts is closing, or closed, and must not be revived.
func holdIfOpen(holders *atomic.Int32) bool {
	for {
		n := holders.Load()
		if n == 0 {
			return false
		}
		if holders.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Plugin returns the loaded plugin of that name.
func (s *Setup) Plugin(name string) (*Plugin, bool) {
	for _, p := range s.Plugins {
		if p.name == name {
			return p, true
		}
	}
	return nil, false
}

// Close closes the plugins and the loader. A host moved to another setup
// by Reload no longer starts calls here, but some may still run or wait for
// an instance (a message in a transform, a placeholder being resolved):
// Close waits for the last of them, or for ctx, so that a reload loses no
// message. Close the setup a host runs only after the host.
func (s *Setup) Close(ctx context.Context) error {
	select {
	case <-s.use.retire():
	case <-ctx.Done():
	}
	if s.closed.Swap(true) {
		return nil
	}
	// Plugins stays as it is: Stats and the like may still read it from
	// another goroutine, and a closed plugin answers them.
	var errs []error
	for _, p := range s.Plugins {
		s.Registry.RemovePlugin(p.name)
		errs = append(errs, p.unhold(ctx)) // a plugin Next shared stays open
	}
	if s.loader != nil {
		errs = append(errs, s.loader.unhold(ctx))
	}
	return errors.Join(errs...)
}

// useGate counts the users of a setup. Once retired it lets no one new
// in, and says when the last user has left.
type useGate struct {
	state atomic.Int64 // the count of users, with gateRetired and gateIdle
	mu    sync.Mutex
	idle  chan struct{} // closed when retired and unused
}

const (
	gateRetired = 1 << 62
	gateIdle    = 1 << 61
)

// enter counts one user more; false once the gate is retired.
func (g *useGate) enter() bool {
	for {
		v := g.state.Load()
		if v&gateRetired != 0 {
			return false
		}
		if g.state.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

// leave counts one user less.
func (g *useGate) leave() {
	if g.state.Add(-1) == gateRetired {
		g.markIdle()
	}
}

// retire lets no one new in; the channel is closed when the last user has
// left.
func (g *useGate) retire() <-chan struct{} {
	ch := g.idleChan()
	g.state.Or(gateRetired)
	g.markIdle()
	return ch
}

// markIdle closes the idle channel, once, if the gate is retired and
// unused.
func (g *useGate) markIdle() {
	if g.state.CompareAndSwap(gateRetired, gateRetired|gateIdle) {
		close(g.idleChan())
	}
}

func (g *useGate) idleChan() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.idle == nil {
		g.idle = make(chan struct{})
	}
	return g.idle
}

// held is a setup held by one operation; release lets it go.
type held struct{ g *useGate }

func (h held) release() {
	if h.g != nil {
		h.g.leave()
	}
}

// hold holds s for one operation; false if s is retired.
func (s *Setup) hold() (held, bool) {
	if s.use.enter() {
		return held{&s.use}, true
	}
	return held{}, false
}
