package host

import (
	"context"
	"fmt"
	"reflect"
)

// Reload moves the host to a new setup (a config file loaded again, with its
// plugins). An API whose settings are the same keeps its client and its
// connection, and its messages go through the new setup's transforms from
// the next one on: a plugin that changed is swapped under it. An API that
// changed, appeared or went away has its old client stopped (a close frame
// 1000) and a new one started.
//
// Reload is all or nothing, and it does not wait for connections: it checks
// that the new setup can serve every client first (a transform no longer
// provided, say), and if not returns an error and changes nothing. Then it
// swaps, and cannot fail after that: the new clients connect in the
// background, as after Start, and their states show how that goes
// (Options.OnStateChange, Client.State); a new client of a changed API
// dials once its old one has closed. ctx only lets a caller give up before
// the swap.
//
// The caller closes the old setup afterwards (Setup.Close): it waits for
// the calls already in, or waiting for, its plugins, which finish there.
func (h *Host) Reload(ctx context.Context, s *Setup) error {
	h.reloading.Lock()
	defer h.reloading.Unlock()
	h.mu.Lock()
	closed, old := h.closed, h.byName
	h.mu.Unlock()
	if closed {
		return fmt.Errorf("reload: %w", ErrClientOff)
	}

	type kept struct {
		c *Client
		b *boundTransforms
	}
	var (
		keep    []kept
		start   []*Client
		clients []*Client
		byName  = map[string]*Client{}
	)
	for i := range s.File.APIs {
		a := &s.File.APIs[i]
		if c, ok := old[a.Name]; ok && reflect.DeepEqual(*c.api, *a) {
			var b *boundTransforms
			if c.ws != nil {
				var err error
				if b, err = c.lookupTransforms(s); err != nil {
					return fmt.Errorf("reload: %w", err)
				}
			}
			keep = append(keep, kept{c, b})
			clients = append(clients, c)
			byName[a.Name] = c
			continue
		}
		c, err := newClient(h, a, s)
		if err != nil {
			return fmt.Errorf("reload: %w", err)
		}
		start = append(start, c)
		clients = append(clients, c)
		byName[a.Name] = c
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("reload: %w", err)
	}

	// The swap. A client that goes is retired with the host's lock held,
	// so that a Close that comes now finds every client either in the new
	// list or retired.
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return fmt.Errorf("reload: %w", ErrClientOff)
	}
	prev := h.setup.Swap(s)
	for _, k := range keep {
		if k.b != nil {
			k.c.transforms.Store(k.b)
		}
	}
	h.clients, h.byName = clients, byName
	ending := map[string]<-chan struct{}{}
	stopped := 0
	for name, c := range old {
		if byName[name] == c {
			continue
		}
		stopped++
		if r := c.retire(); r != nil {
			ending[name] = r.done
		}
		c.closeSubscriptions()
	}
	h.mu.Unlock()

	for _, c := range start {
		if c.api.Enabled && c.ws != nil {
			c.begin(ending[c.name]) // fails only if Close came first
		}
	}
	var carried, loaded []string
	for _, p := range s.Plugins {
		if q, ok := prev.Plugin(p.name); ok && q == p {
			carried = append(carried, p.name)
		} else {
			loaded = append(loaded, p.name)
		}
	}
	h.logger.Info("config reloaded", "kept", len(keep), "started", len(start), "stopped", stopped,
		"plugins_kept", carried, "plugins_loaded", loaded)
	return nil
}

// Stats are the host's counters, as plain data for whatever exports them:
// the host knows nothing of Prometheus or any other format.
type Stats struct {
	// Clients are those of the host's clients now, in config order.
	Clients []ClientStats
	// Plugins are those of the plugins of the setup the host runs now (see
	// Reload); a plugin replaced by a reload is no longer among them.
	Plugins []PluginStats
}

// Stats returns the counters of every client and plugin.
func (h *Host) Stats() Stats {
	var st Stats
	for _, c := range h.Clients() {
		st.Clients = append(st.Clients, c.Stats())
	}
	for _, p := range h.setup.Load().Plugins {
		st.Plugins = append(st.Plugins, p.Stats())
	}
	return st
}

// Setup returns the setup the host runs now.
func (h *Host) Setup() *Setup { return h.setup.Load() }
