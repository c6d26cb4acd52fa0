// Package host runs websocket API clients described by a wsplug config and
// extended by WebAssembly plugins. LoadConfig reads a config and loads its
// plugins; New makes a Host of its clients; Start connects them and keeps
// them connected; Close ends everything it started.
//
//	s, err := host.LoadConfig(ctx, "wsplug.yaml", nil, nil)
//	h, err := host.New(s, nil)
//	err = h.Start(ctx)
//	c, _ := h.Client("ComfyUI")
//	err = c.Send(ctx, `{"type":"hello","id":"{client_id}"}`, nil)
//	...
//	h.Close(ctx)
package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Options configure a Host; nil means the defaults.
type Options struct {
	// Logger receives the host's log lines; nil discards them.
	Logger *slog.Logger
	// OnStateChange, when set, is called on every state change of every
	// client, from the client's own goroutine: it must not block.
	OnStateChange func(StateChange)
	// HTTPClient makes the requests of Client.Call; nil is a client of
	// its own.
	HTTPClient *http.Client
}

// Host owns the clients of one config: their connections, goroutines and
// plugins' use. It is safe for concurrent use.
type Host struct {
	setup   atomic.Pointer[Setup] // replaced by Reload
	opts    Options
	logger  *slog.Logger
	clients []*Client
	byName  map[string]*Client
	http    *http.Client

	// subs are the host's own subscriptions, which see every client's
	// messages, those of clients a reload adds included.
	subs subscriptions
	// runs counts the run loops of every client, those a reload removed
	// included, so that Close waits for the last of them.
	runs sync.WaitGroup
	// reloading serializes reloads.
	reloading sync.Mutex

	mu     sync.Mutex
	closed bool
}

// New makes a Host of every API in the setup; nothing connects before
// Start. The Host does not own the Setup: close it after the Host.
func New(s *Setup, opts *Options) (*Host, error) {
	h := &Host{byName: map[string]*Client{}}
	h.setup.Store(s)
	if opts != nil {
		h.opts = *opts
	}
	h.logger = h.opts.Logger
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	h.http = h.opts.HTTPClient
	if h.http == nil {
		h.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	for i := range s.File.APIs {
		c, err := newClient(h, &s.File.APIs[i], s)
		if err != nil {
			return nil, err
		}
		h.clients = append(h.clients, c)
		h.byName[c.name] = c
	}
	return h, nil
}

// Client returns the client of the API of that name.
func (h *Host) Client(name string) (*Client, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.byName[name]
	return c, ok
}

// Clients returns every client, in config order.
func (h *Host) Clients() []*Client {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*Client(nil), h.clients...)
}

// Start connects every enabled API that has a websocket, concurrently, and
// waits until each is connected or has failed, or ctx ends. A client that
// fails is reported in the error (one line each) and stays off; the others
// run. Clients keep running after ctx ends: Close stops them.
func (h *Host) Start(ctx context.Context) error {
	return enableAll(ctx, h.Clients())
}

// enableAll enables the clients that are enabled in the config and have a
// websocket, concurrently.
func enableAll(ctx context.Context, clients []*Client) error {
	var wg sync.WaitGroup
	errs := make([]error, len(clients))
	for i, c := range clients {
		if !c.api.Enabled || c.ws == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Enable(ctx)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close disables every client (a close frame 1000 on each connection;
// queued sends fail with ErrClientOff), ends every subscription, and waits
// for every goroutine the Host started, or for ctx. A client cannot be
// enabled again after Close.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	clients := h.clients
	h.mu.Unlock()

	var err error
	for _, c := range clients {
		c.retire()
	}
	for _, c := range clients {
		if err = waitRun(ctx, c); err != nil {
			break
		}
	}
	if err == nil {
		// Clients a reload removed may still be saying goodbye.
		done := make(chan struct{})
		go func() {
			h.runs.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	for _, c := range clients {
		c.closeSubscriptions()
	}
	h.subs.closeAll()
	h.http.CloseIdleConnections()
	return err
}

// waitRun waits for the end of c's run, if it has one.
func waitRun(ctx context.Context, c *Client) error {
	c.mu.Lock()
	r := c.run
	c.mu.Unlock()
	return r.wait(ctx)
}

// useSetup returns the setup the host runs, held for one operation;
// release it after. See Setup.Close.
func (h *Host) useSetup() (*Setup, held) {
	for {
		s := h.setup.Load()
		if hd, ok := s.hold(); ok {
			return s, hd
		}
		if h.setup.Load() == s {
			return s, held{} // closed under the host: its plugins say so
		}
	}
}

// State is where a client is in its life.
type State int

// States of a client.
const (
	// StateOff: not running: never started, disabled, or the host closed.
	StateOff State = iota
	// StateConnecting: the first attempt after Start or Enable.
	StateConnecting
	// StateConnected: a connection is open.
	StateConnected
	// StateReconnecting: the connection was lost or an attempt failed, and
	// another attempt is due.
	StateReconnecting
	// StateFailed: the client gave up: no reconnect, or retries used up.
	StateFailed
)

// String names the state as the log and the admin API show it.
func (s State) String() string {
	switch s {
	case StateOff:
		return "off"
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateFailed:
		return "failed"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// StateChange is one transition of a client.
type StateChange struct {
	// API is the client's name.
	API string
	// From and To are the states before and after.
	From, To State
	// Attempt counts the attempts since the last connection, for
	// Connecting and Reconnecting.
	Attempt int
	// Err is why the client is reconnecting or failed.
	Err error
	// Delay is how long the client waits before this attempt.
	Delay time.Duration
	// At is when the change happened.
	At time.Time
}
