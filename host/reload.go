package host

import (
	"context"
	"errors"
	"fmt"
	"reflect"
)

// Reload moves the host to a new setup (a config file loaded again, with its
// plugins). An API whose settings are the same keeps its client and its
// connection, and its messages go through the new setup's transforms from
// the next one on: a plugin that changed is swapped under it, and calls
// already in the old plugin finish there. An API that changed, appeared or
// went away has its old client disabled and a new one started.
//
// If the new setup cannot serve the clients it would keep (a transform no
// longer provided), Reload returns an error and changes nothing. The caller
// closes the old setup afterwards; its plugins close once their calls end.
func (h *Host) Reload(ctx context.Context, s *Setup) error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return ErrClientOff
	}
	old := h.byName
	h.mu.Unlock()

	type kept struct {
		c *Client
		b *boundTransforms
	}
	var (
		keep        []kept
		start, stop []*Client
		clients     []*Client
		byName      = map[string]*Client{}
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
	for name, c := range old {
		if byName[name] != c {
			stop = append(stop, c)
		}
	}

	h.setup.Store(s)
	for _, k := range keep {
		if k.b != nil {
			k.c.transforms.Store(k.b)
		}
	}
	h.mu.Lock()
	h.clients, h.byName = clients, byName
	h.mu.Unlock()
	h.logger.Info("config reloaded", "kept", len(keep), "started", len(start), "stopped", len(stop))

	errs := []error{disableAll(ctx, stop)}
	errs = append(errs, enableAll(ctx, start))
	return errors.Join(errs...)
}

// Stats are the host's counters, as plain data for whatever exports them.
type Stats struct {
	Clients []ClientStats
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
