package host

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/wsplug/wsplug/config"
)

// Action is what a transform does with a message.
type Action uint8

// Actions of a transform.
const (
	// Pass: the message goes on unchanged.
	Pass Action = iota
	// Replace: Message.Data now holds the new payload.
	Replace
	// Drop: the message goes no further.
	Drop
)

// String names the action.
func (a Action) String() string {
	switch a {
	case Pass:
		return "pass"
	case Replace:
		return "replace"
	case Drop:
		return "drop"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Message is one websocket message on its way through the transforms. A
// connection keeps one and reuses it, so that a plugin's output is copied
// into buffers the Message already has.
type Message struct {
	// Data is the payload. A transform that returns Replace sets it; the
	// bytes may be reused once the call returns, so keep a copy, not Data.
	Data []byte
	// Incoming is true for a message from the server.
	Incoming bool
	// Binary is true for a binary frame.
	Binary bool
	// Client is the client the message belongs to.
	Client *ClientInfo

	bufs [2][]byte
}

// scratch returns a buffer for a new payload that does not share memory
// with the current one, which the transform may still be reading.
func (m *Message) scratch() *[]byte {
	if cap(m.bufs[0]) > 0 && cap(m.Data) > 0 && &m.bufs[0][:1][0] == &m.Data[:1][0] {
		return &m.bufs[1]
	}
	return &m.bufs[0]
}

// Transform changes, drops or passes messages. Built-in, Go and Wasm
// transforms all implement it. On Replace it has set m.Data.
type Transform interface {
	Transform(ctx context.Context, m *Message) (Action, error)
}

// TransformFunc adapts a function to Transform.
type TransformFunc func(ctx context.Context, m *Message) (Action, error)

// Transform calls f.
func (f TransformFunc) Transform(ctx context.Context, m *Message) (Action, error) {
	return f(ctx, m)
}

// PlaceholderSource gives values for {name} and {name:arg}. The value is
// text, a config.Secret, or JSON-shaped data (see config.Lookup).
type PlaceholderSource interface {
	Placeholder(ctx context.Context, name, arg string, c *ClientInfo) (any, error)
}

// PlaceholderFunc adapts a function to PlaceholderSource.
type PlaceholderFunc func(ctx context.Context, name, arg string, c *ClientInfo) (any, error)

// Placeholder calls f.
func (f PlaceholderFunc) Placeholder(
	ctx context.Context,
	name, arg string,
	c *ClientInfo,
) (any, error) {
	return f(ctx, name, arg, c)
}

// Registry is the one table of providers: client_id formats, placeholder
// sources and transforms, whether built in, registered by an embedding
// program, or provided by a plugin. Names are global: a second provider of a
// name is an error that names both. It implements config.Names.
type Registry struct {
	mu           sync.RWMutex
	formats      map[string]entry[config.ClientIDFormat]
	placeholders map[string]entry[PlaceholderSource]
	transforms   map[string]entry[Transform]
}

type entry[T any] struct {
	provider string // "built-in", "go", "plugin[NAME]"
	value    T
}

const (
	providerBuiltin = "built-in"
	providerGo      = "go"
)

// NewRegistry returns a registry with the built-in client_id formats and
// placeholders.
func NewRegistry() *Registry {
	r := &Registry{
		formats:      map[string]entry[config.ClientIDFormat]{},
		placeholders: map[string]entry[PlaceholderSource]{},
		transforms:   map[string]entry[Transform]{},
	}
	for _, name := range config.BuiltinClientIDFormats() {
		f, _ := config.BuiltinClientIDFormat(name)
		r.formats[name] = entry[config.ClientIDFormat]{providerBuiltin, f}
	}
	// The built-in placeholders are resolved by config; they are here so
	// that no provider can take their names.
	for _, name := range config.BuiltinPlaceholders() {
		r.placeholders[name] = entry[PlaceholderSource]{provider: providerBuiltin}
	}
	return r
}

func collision(kind, name, first, second string) error {
	return fmt.Errorf("%s %q is provided by both %s and %s", kind, name, first, second)
}

// RegisterClientIDFormat adds a Go client_id format.
func (r *Registry) RegisterClientIDFormat(name string, f config.ClientIDFormat) error {
	return r.add(providerGo, Provides{ClientIDs: []string{name}},
		func(string) config.ClientIDFormat { return f }, nil, nil)
}

// RegisterPlaceholder adds a Go placeholder source for {name}.
func (r *Registry) RegisterPlaceholder(name string, s PlaceholderSource) error {
	return r.add(providerGo, Provides{Placeholders: []PlaceholderInfo{{Name: name}}},
		nil, func(string) PlaceholderSource { return s }, nil)
}

// RegisterTransform adds a Go transform.
func (r *Registry) RegisterTransform(name string, t Transform) error {
	return r.add(providerGo, Provides{Transforms: []string{name}}, nil, nil,
		func(string) Transform { return t })
}

// AddPlugin adds every provider of a plugin, or none when a name collides.
func (r *Registry) AddPlugin(p *Plugin) error {
	pv := p.Provides()
	return r.add("plugin["+p.name+"]", pv,
		func(name string) config.ClientIDFormat {
			return &pluginClientID{p: p, index: uint64(slices.Index(pv.ClientIDs, name)),
				call: "client_id[" + name + "]"}
		},
		func(name string) PlaceholderSource {
			i := slices.IndexFunc(pv.Placeholders,
				func(pi PlaceholderInfo) bool { return pi.Name == name })
			return &pluginPlaceholder{p: p, index: uint64(i), secret: pv.Placeholders[i].Secret,
				call: "placeholder[" + name + "]"}
		},
		func(name string) Transform {
			return &pluginTransform{p: p, index: uint64(slices.Index(pv.Transforms, name)),
				call: "transform[" + name + "]"}
		})
}

// add registers a provider's names all at once, after checking them all.
func (r *Registry) add(provider string, pv Provides, format func(string) config.ClientIDFormat,
	source func(string) PlaceholderSource, transform func(string) Transform) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, name := range pv.ClientIDs {
		if e, ok := r.formats[name]; ok {
			return collision("client_id format", name, e.provider, provider)
		}
	}
	for _, ph := range pv.Placeholders {
		if e, ok := r.placeholders[ph.Name]; ok {
			return collision("placeholder", ph.Name, e.provider, provider)
		}
	}
	for _, name := range pv.Transforms {
		if e, ok := r.transforms[name]; ok {
			return collision("transform", name, e.provider, provider)
		}
	}
	for _, name := range pv.ClientIDs {
		r.formats[name] = entry[config.ClientIDFormat]{provider, format(name)}
	}
	for _, ph := range pv.Placeholders {
		r.placeholders[ph.Name] = entry[PlaceholderSource]{provider, source(ph.Name)}
	}
	for _, name := range pv.Transforms {
		r.transforms[name] = entry[Transform]{provider, transform(name)}
	}
	return nil
}

// RemovePlugin takes a plugin's providers out, as when it is swapped.
func (r *Registry) RemovePlugin(name string) {
	provider := "plugin[" + name + "]"
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, e := range r.formats {
		if e.provider == provider {
			delete(r.formats, k)
		}
	}
	for k, e := range r.placeholders {
		if e.provider == provider {
			delete(r.placeholders, k)
		}
	}
	for k, e := range r.transforms {
		if e.provider == provider {
			delete(r.transforms, k)
		}
	}
}

// ClientIDFormat returns the client_id format of that name.
func (r *Registry) ClientIDFormat(name string) (config.ClientIDFormat, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.formats[name]
	return e.value, ok
}

// Transform returns the transform of that name.
func (r *Registry) Transform(name string) (Transform, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	e, ok := r.transforms[name]
	return e.value, ok
}

// Provider names who provides a name of a kind ("client_id", "placeholder",
// "transform"): "built-in", "go" or "plugin[NAME]"; "" when nobody does.
func (r *Registry) Provider(kind, name string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	switch kind {
	case "client_id":
		return r.formats[name].provider
	case "placeholder":
		return r.placeholders[name].provider
	case "transform":
		return r.transforms[name].provider
	}
	return ""
}

// Lookup resolves the registry's placeholder sources for one client. The
// built-in placeholders are not among them: chain it after the client's
// config.Values and config.Env.
func (r *Registry) Lookup(c *ClientInfo) config.Lookup {
	return config.LookupFunc(func(ctx context.Context, name, arg string) (any, error) {
		r.mu.RLock()
		e, ok := r.placeholders[name]
		r.mu.RUnlock()
		if !ok || e.value == nil {
			return nil, config.ErrUnknownPlaceholder
		}
		return e.value.Placeholder(ctx, name, arg, c)
	})
}

// ClientIDFormats lists the format names, sorted, for config validation.
func (r *Registry) ClientIDFormats() []string { return sortedKeys(&r.mu, r.formats) }

// Placeholders lists the placeholder names, sorted.
func (r *Registry) Placeholders() []string { return sortedKeys(&r.mu, r.placeholders) }

// Transforms lists the transform names, sorted.
func (r *Registry) Transforms() []string { return sortedKeys(&r.mu, r.transforms) }

func sortedKeys[T any](mu *sync.RWMutex, m map[string]entry[T]) []string {
	mu.RLock()
	defer mu.RUnlock()
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

var _ config.Names = (*Registry)(nil)
