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
func LoadConfig(ctx context.Context, path string, reg *Registry, opts *LoaderOptions) (*Setup, error) {
	f, err := config.Decode(path)
	if err != nil {
		return nil, err
	}
	if reg == nil {
		reg = NewRegistry()
	}
	s := &Setup{File: f, Registry: reg}
	var problems []config.Problem
	if len(f.Plugins) > 0 {
		if s.loader, err = NewLoader(opts); err != nil {
			return nil, err
		}
		problems = s.loadPlugins(ctx)
	}
	if err := f.ValidateWith(reg, problems...); err != nil {
		s.Close(ctx)
		return nil, err
	}
	return s, nil
}

// loadPlugins loads every plugin entry that names a plugin once, in
// parallel, then registers them in file order.
func (s *Setup) loadPlugins(ctx context.Context) []config.Problem {
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
			if pe := (*PluginError)(nil); errors.As(err, &pe) && strings.HasPrefix(pe.Detail, sha256Mismatch) {
				key = entry + ".sha256"
			}
			problems = append(problems, f.Problem(key, err.Error()))
			continue
		}
		if p == nil {
			continue
		}
		if err := s.Registry.AddPlugin(p); err != nil {
			p.Close(ctx)
			problems = append(problems, f.Problem(entry+".name", err.Error()))
			continue
		}
		s.Plugins = append(s.Plugins, p)
	}
	return problems
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
		errs = append(errs, p.Close(ctx))
	}
	if s.loader != nil {
		errs = append(errs, s.loader.Close(ctx))
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
