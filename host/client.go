package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/wsplug/wsplug/config"
)

// Errors of a client, for errors.Is.
var (
	// ErrClientOff: the client is not running (never enabled, disabled, or
	// the host closed); a Send gets it at once, and queued sends get it
	// when the client is disabled.
	ErrClientOff = errors.New("client is off")
	// ErrRetriesExhausted: the client gave up reconnecting; queued sends
	// get it.
	ErrRetriesExhausted = errors.New("retries exhausted")
	// ErrQueueFull: the outgoing queue holds send_queue messages already.
	ErrQueueFull = errors.New("send queue full")
	// ErrConnectionLost: the connection died while the message was being
	// written; it may or may not have reached the server.
	ErrConnectionLost = errors.New("connection lost")
	// ErrNoWebsocket: the API has no websocket section.
	ErrNoWebsocket = errors.New("no websocket section")
)

// Client is one API's websocket client: it dials, keeps the connection
// alive, reconnects, queues what is sent while it reconnects, runs the
// transforms, and hands what arrives to its subscribers. Safe for
// concurrent use.
type Client struct {
	host *Host
	name string
	api  *config.API
	ws   *config.Websocket // nil when the API has none
	plan *config.Plan
	log  *slog.Logger
	// transforms are the bound outgoing and incoming transforms; a reload
	// that swaps a plugin replaces them while messages flow.
	transforms atomic.Pointer[boundTransforms]
	// lastURL is the redacted URL of the last dial, for people.
	lastURL atomic.Pointer[string]

	// info is what plugins see of the client; replaced, never changed.
	info atomic.Pointer[ClientInfo]

	mu      sync.Mutex
	state   State
	changed chan struct{} // closed and replaced on every state change
	lastErr error
	// run is the running loop, nil when the client is off. A run stays
	// here until its last state change is out, so that the next run's
	// changes come after it.
	run *runHandle
	// retired: the host closed, or a reload removed the client; it never
	// runs again.
	retired   bool
	clientID  string        // made once, kept across reconnects and toggles
	resolved  bool          // the connection values were resolved once
	overrides config.Values // run-time values that win over the config's
	override  struct{ token, sessionID, channel, version bool }
	captured  string // session id read from an inbound message
	// madeSession is the session id made for session_id_required when
	// nothing else gives one; like the client id it is made once.
	madeSession string
	// resolveMu makes one resolution at a time, so that two first uses
	// (a Call and a Start, say) make one client id between them.
	resolveMu sync.Mutex

	queue sendQueue
	subs  subscriptions
	stats clientCounters
}

type boundTransform struct {
	name string
	t    Transform
}

func newClient(h *Host, api *config.API, s *Setup) (*Client, error) {
	c := &Client{
		host: h, name: api.Name, api: api, ws: api.Websocket,
		log:     h.logger.With("api", api.Name),
		changed: make(chan struct{}),
	}
	c.info.Store(&ClientInfo{API: api.Name, Values: &config.Values{}, Auth: api.Auth})
	if c.ws == nil {
		return c, nil
	}
	plan, err := config.NewPlan(api)
	if err != nil {
		return nil, err
	}
	c.plan = plan
	b, err := c.lookupTransforms(s)
	if err != nil {
		return nil, err
	}
	c.transforms.Store(b)
	c.queue.init(c.ws.SendQueue)
	return c, nil
}

// boundTransforms are a client's transforms, looked up once per setup, and
// the setup they come from: a message holds it while it runs through them,
// so that a reload cannot close their plugins under the message.
type boundTransforms struct {
	setup              *Setup
	outgoing, incoming []boundTransform
}

// lookupTransforms finds the client's transforms in the setup's registry.
func (c *Client) lookupTransforms(s *Setup) (*boundTransforms, error) {
	b := boundTransforms{setup: s}
	for _, dir := range []struct {
		names []string
		dst   *[]boundTransform
	}{{c.ws.Transforms.Outgoing, &b.outgoing}, {c.ws.Transforms.Incoming, &b.incoming}} {
		for _, name := range dir.names {
			t, ok := s.Registry.Transform(name)
			if !ok {
				return nil, fmt.Errorf("api[%s] transform[%s]: not provided", c.name, name)
			}
			*dir.dst = append(*dir.dst, boundTransform{name, t})
		}
	}
	return &b, nil
}

// useTransforms returns the client's transforms with their setup held;
// release it after the message has been through them. A message that comes
// after a reload retired the old setup takes the new transforms: only
// messages already in the old plugins finish there.
func (c *Client) useTransforms() (*boundTransforms, held) {
	for {
		b := c.transforms.Load()
		if h, ok := b.setup.hold(); ok {
			return b, h
		}
		if c.transforms.Load() == b {
			// The setup was closed under the client (the program closed
			// it before the host): its plugins answer ErrClosed.
			return b, held{}
		}
	}
}

// Name is the API's name.
func (c *Client) Name() string { return c.name }

// State returns the client's state.
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Err returns why the client last reconnected or failed, or nil.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastErr
}

// Wait blocks until the client is in one of the states, or ctx ends.
func (c *Client) Wait(ctx context.Context, states ...State) (State, error) {
	for {
		c.mu.Lock()
		s, ch := c.state, c.changed
		c.mu.Unlock()
		for _, want := range states {
			if s == want {
				return s, nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s, ctx.Err()
		}
	}
}

// ClientID is the client's id: the config's client_id, or one made once by
// its client_id_format at the first Enable and kept after.
func (c *Client) ClientID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.clientID
}

// Values returns the connection values in use: the config's, with run-time
// overrides and a captured session id applied.
func (c *Client) Values() config.Values { return *c.info.Load().Values }

// SetToken overrides auth_token from the next (re)connect or Enable on.
func (c *Client) SetToken(t config.Secret) {
	c.setOverride(func() { c.overrides.Token, c.override.token = t, true })
}

// SetSessionID overrides the session id from the next (re)connect on.
func (c *Client) SetSessionID(s string) {
	c.setOverride(func() { c.overrides.SessionID, c.override.sessionID, c.captured = s, true, "" })
}

// SetChannel overrides the channel from the next (re)connect on.
func (c *Client) SetChannel(s string) {
	c.setOverride(func() { c.overrides.Channel, c.override.channel = s, true })
}

// SetVersion overrides the version from the next (re)connect on.
func (c *Client) SetVersion(s string) {
	c.setOverride(func() { c.overrides.Version, c.override.version = s, true })
}

func (c *Client) setOverride(set func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	set()
	c.publishValues(*c.info.Load().Values)
}

// publishValues applies the overrides and the captured session id to v and
// makes the result what plugins and the next dial see. c.mu is held.
func (c *Client) publishValues(v config.Values) {
	if c.override.token {
		v.Token = c.overrides.Token
	}
	if c.override.sessionID {
		v.SessionID = c.overrides.SessionID
	}
	if c.captured != "" {
		v.SessionID = c.captured
	}
	if c.override.channel {
		v.Channel = c.overrides.Channel
	}
	if c.override.version {
		v.Version = c.overrides.Version
	}
	if v.ClientID == "" {
		v.ClientID = c.clientID
	}
	c.info.Store(&ClientInfo{API: c.name, Values: &v, Auth: c.api.Auth})
}

// sources are where placeholders other than the connection values come
// from: the environment and the providers of s, for this client.
func (c *Client) sources(s *Setup, info *ClientInfo) config.Lookup {
	return config.Chain(config.Env{}, s.Registry.Lookup(info))
}

// resolve resolves the config's connection values again (env, plugins) and
// makes the client id the first time.
func (c *Client) resolve(ctx context.Context) error {
	c.resolveMu.Lock()
	defer c.resolveMu.Unlock()
	return c.resolveLocked(ctx)
}

// resolveOnce resolves the connection values if nothing has yet: a Call
// before the first Enable, or on an API without a websocket, uses the
// client id the websocket will use.
func (c *Client) resolveOnce(ctx context.Context) error {
	c.resolveMu.Lock()
	defer c.resolveMu.Unlock()
	c.mu.Lock()
	done := c.resolved
	c.mu.Unlock()
	if done {
		return nil
	}
	return c.resolveLocked(ctx)
}

// resolveLocked is resolve with c.resolveMu held. The plugins it calls run
// without c.mu, so that the client's state can be read meanwhile.
func (c *Client) resolveLocked(ctx context.Context) error {
	s, hd := c.host.useSetup()
	defer hd.release()
	var v config.Values
	format := config.DefaultClientIDFormat
	if c.plan != nil {
		var err error
		if v, err = c.plan.Values(ctx, c.sources(s, c.info.Load())); err != nil {
			return err
		}
		format = c.plan.ClientIDFormat()
	}
	c.mu.Lock()
	id := c.clientID
	c.mu.Unlock()
	if v.ClientID != "" {
		id = v.ClientID
	}
	if id == "" {
		f, ok := s.Registry.ClientIDFormat(format)
		if !ok {
			return fmt.Errorf("api[%s] client_id_format[%s]: not provided", c.name, format)
		}
		var err error
		if id, err = f.NewClientID(ctx); err != nil {
			return fmt.Errorf("api[%s] client_id_format[%s]: %w", c.name, format, err)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.clientID = id
	// A session the client must resume but that nothing names (no
	// session_id, no session_id_from, no override) gets an id made once.
	if c.ws != nil && c.ws.SessionIDRequired && v.SessionID == "" && c.ws.SessionIDFrom == nil &&
		!c.override.sessionID {
		if c.madeSession == "" {
			c.madeSession = uuid.NewString()
		}
		v.SessionID = c.madeSession
	}
	c.publishValues(v)
	c.resolved = true
	return nil
}

// Enable resolves every placeholder again (env, plugins, run-time
// overrides) and connects, waiting until the connection is open, or the
// client has given up, or ctx ends. When it gives up, Enable returns why
// and the client is off (StateFailed). When ctx ends first, the client goes
// on trying in the background.
//
// An Enable while the client is already starting waits for that start and
// returns its outcome; on a client that is connected, or reconnecting after
// it was, it returns nil at once. An Enable during a Disable waits for the
// Disable, then starts the client again. After the host closed, or after a
// reload removed the client, Enable fails with ErrClientOff.
func (c *Client) Enable(ctx context.Context) error {
	if c.ws == nil {
		return fmt.Errorf("api[%s]: %w", c.name, ErrNoWebsocket)
	}
	for {
		r, ending, err := c.begin(nil)
		if err != nil {
			return err
		}
		if ending != nil {
			// A run is ending (a Disable, or it gave up): let its last
			// state change out, then start again.
			select {
			case <-ending:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		select {
		case <-r.ready:
			return r.readyErr
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// begin starts a run of the client unless one is live, and returns the
// live run; or, when the current run is ending, a channel closed once it
// has ended. The new run waits for after (nil: nothing) before it starts:
// a reload has the old client of an API close before its new one dials.
func (c *Client) begin(after <-chan struct{}) (*runHandle, <-chan struct{}, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.retired {
		return nil, nil, fmt.Errorf("api[%s]: %w", c.name, ErrClientOff)
	}
	if r := c.run; r != nil {
		if r.stopping.Load() || r.ending.Load() {
			return nil, r.done, nil
		}
		return r, nil, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runHandle{ctx: ctx, cancel: cancel, after: after,
		done: make(chan struct{}), ready: make(chan struct{})}
	c.run = r
	c.queue.open()
	c.host.runs.Add(1) // before Close can wait: Close retires the client first
	go c.runLoop(r)
	return r, nil, nil
}

// runHandle is one run of the client's loop, from its start to its end.
type runHandle struct {
	ctx    context.Context // ended by Disable, Close or a reload
	cancel context.CancelFunc
	after  <-chan struct{} // what the run waits for before it starts
	// ready is closed once the start's outcome is known: readyErr is nil
	// when the first connection opened, or why the run ended before.
	ready    chan struct{}
	readyErr error
	done     chan struct{} // closed when the run is over, its last state out
	stopping atomic.Bool   // Disable was called
	ending   atomic.Bool   // the run gave up or was stopped, and is ending
}

// Disable closes the connection gracefully (close frame 1000), fails the
// queued sends with ErrClientOff and stops the client's goroutines,
// waiting for them or for ctx.
func (c *Client) Disable(ctx context.Context) error {
	return c.stop().wait(ctx)
}

// wait waits for the run to be over, or for ctx; a nil run is over.
func (r *runHandle) wait(ctx context.Context) error {
	if r == nil {
		return nil
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the current run, if any, without waiting, and returns it.
func (c *Client) stop() *runHandle {
	c.mu.Lock()
	r := c.run
	c.mu.Unlock()
	if r != nil {
		r.stopping.Store(true)
		r.cancel()
	}
	return r
}

// retire stops the client for good: the host is closing, or a reload
// removed it. It returns the run that is ending, if any.
func (c *Client) retire() *runHandle {
	c.mu.Lock()
	c.retired = true
	c.mu.Unlock()
	return c.stop()
}

// setState records a transition and tells the observer and the log.
func (c *Client) setState(to State, attempt int, err error, delay time.Duration) {
	c.mu.Lock()
	from := c.state
	c.state = to
	if err != nil || to == StateConnected {
		c.lastErr = err
	}
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()

	ch := StateChange{API: c.name, From: from, To: to, Attempt: attempt, Err: err,
		Delay: delay, At: time.Now()}
	if f := c.host.opts.OnStateChange; f != nil {
		f(ch)
	}
	attrs := []any{"from", from.String(), "to", to.String()}
	if attempt > 0 {
		attrs = append(attrs, "attempt", attempt)
	}
	if delay > 0 {
		attrs = append(attrs, "delay", delay)
	}
	if u := c.lastURL.Load(); to == StateConnected && u != nil {
		attrs = append(attrs, "url", *u) // redacted
	}
	level := slog.LevelInfo
	if err != nil {
		attrs = append(attrs, "err", err)
		level = slog.LevelWarn
	}
	if to == StateFailed {
		level = slog.LevelError
	}
	c.log.Log(context.Background(), level, "client "+to.String(), attrs...)
}

// runLoop is one run of the client: resolve the values, dial, serve, and
// on a loss wait and dial again, as reconnect_on_failure, retry and backoff
// say. It ends by end, whichever way it ends.
func (c *Client) runLoop(r *runHandle) {
	defer c.host.runs.Done()
	ctx := r.ctx
	off := fmt.Errorf("api[%s]: %w", c.name, ErrClientOff)
	if r.after != nil {
		select {
		case <-r.after:
		case <-ctx.Done():
			c.end(r, StateOff, nil, off)
			return
		}
	}
	c.setState(StateConnecting, 1, nil, 0)
	if err := c.resolve(ctx); err != nil {
		if ctx.Err() != nil {
			c.end(r, StateOff, nil, off)
			return
		}
		c.log.Error("enable failed", "err", err)
		c.end(r, StateFailed, err, err)
		return
	}
	attempt := 0
	for {
		conn, target, err := c.dial(ctx)
		if ctx.Err() != nil {
			if conn != nil {
				conn.Close(websocket.StatusNormalClosure, "client off")
			}
			break
		}
		if err == nil {
			attempt = 0
			if c.stats.connects.Add(1) > 1 {
				c.stats.reconnects.Add(1)
			}
			shown := target.Redacted()
			c.lastURL.Store(&shown)
			c.queue.setConnected(true)
			c.setState(StateConnected, 0, nil, 0)
			r.started(nil)
			err = c.serve(ctx, conn)
			c.queue.setConnected(false)
			if ctx.Err() != nil {
				break
			}
		}
		if !c.ws.ReconnectOnFailure || c.ws.Retry >= 0 && attempt >= c.ws.Retry {
			why := ErrRetriesExhausted
			if !c.ws.ReconnectOnFailure {
				why = errors.New("reconnect_on_failure is off")
			}
			final := fmt.Errorf("api[%s]: %w: %w", c.name, why, err)
			c.end(r, StateFailed, final, final)
			return
		}
		// attempt counts the tries since the connection was lost (or
		// since the first try failed).
		attempt++
		delay := c.backoff(attempt)
		c.setState(StateReconnecting, attempt, err, delay)
		if !sleep(ctx, delay) {
			break
		}
	}
	c.end(r, StateOff, nil, off)
}

// end ends a run: the queue fails what waits, the last state goes out,
// a waiting Enable learns the outcome, and only then is the run over, so
// that a new run's states come after this one's.
func (c *Client) end(r *runHandle, final State, err, readyErr error) {
	r.ending.Store(true)
	queueErr := err
	if queueErr == nil {
		queueErr = readyErr
	}
	c.queue.close(queueErr)
	c.setState(final, 0, err, 0)
	r.started(readyErr)
	c.mu.Lock()
	if c.run == r {
		c.run = nil
	}
	c.mu.Unlock()
	r.cancel()
	close(r.done)
}

// started tells a waiting Enable how the start went; only the first call
// counts.
func (r *runHandle) started(err error) {
	select {
	case <-r.ready:
	default:
		r.readyErr = err
		close(r.ready)
	}
}

// backoff is the wait before attempt n (from 1): exponential from
// backoff.initial, capped at backoff.max, with full jitter.
func (c *Client) backoff(n int) time.Duration {
	ceiling := c.ws.Backoff.Initial
	for i := 1; i < n && ceiling < c.ws.Backoff.Max; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, c.ws.Backoff.Max)
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling))) + 1
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// DialError is a failed connection attempt, with the redacted URL and, when
// the server answered, its HTTP status.
type DialError struct {
	// API is the client's name.
	API    string
	URL    string // redacted
	Status int    // 0 when there was no HTTP response
	// Err is the dialer's error, with the client's secrets redacted.
	Err error
}

// Error says which attempt failed, and how.
func (e *DialError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("api[%s] dial %s: handshake refused with HTTP %d: %v",
			e.API, e.URL, e.Status, e.Err)
	}
	return fmt.Sprintf("api[%s] dial %s: %v", e.API, e.URL, e.Err)
}

// Unwrap gives the cause, for errors.Is and errors.As.
func (e *DialError) Unwrap() error { return e.Err }

// dial resolves the URL and headers for this attempt and opens the
// connection.
func (c *Client) dial(ctx context.Context) (*websocket.Conn, *config.Target, error) {
	info := c.info.Load()
	setup, hd := c.host.useSetup()
	target, err := c.plan.Resolve(ctx, info.Values, c.sources(setup, info))
	hd.release()
	if err != nil {
		return nil, nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, c.ws.DialTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, target.URL, &websocket.DialOptions{
		HTTPClient:      c.host.http,
		HTTPHeader:      target.Header,
		Subprotocols:    c.ws.Subprotocols,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		de := &DialError{API: c.name, URL: target.Redacted(),
			Err: redactError(err, target, info.Values)}
		if resp != nil {
			de.Status = resp.StatusCode
			if resp.Body != nil {
				resp.Body.Close()
			}
		}
		return nil, target, de
	}
	conn.SetReadLimit(c.ws.MaxMessageSize)
	return conn, target, nil
}

// redactError rewrites an error whose text may hold the dialled URL or a
// secret (net/http quotes the URL) so that neither shows.
func redactError(err error, t *config.Target, v *config.Values) error {
	msg := err.Error()
	replace := []string{t.URL, t.Redacted()}
	for _, scheme := range [][2]string{{"ws://", "http://"}, {"wss://", "https://"}} {
		if strings.HasPrefix(t.URL, scheme[0]) {
			replace = append(replace,
				scheme[1]+t.URL[len(scheme[0]):], scheme[1]+t.Redacted()[len(scheme[0]):])
		}
	}
	out := msg
	for i := 0; i+1 < len(replace); i += 2 {
		out = strings.ReplaceAll(out, replace[i], replace[i+1])
	}
	if tok := v.Token.Reveal(); tok != "" {
		out = strings.ReplaceAll(out, tok, "***")
	}
	if out == msg {
		return err
	}
	return errors.New(out)
}

// serve runs one connection until it ends: this goroutine reads, another
// writes the queue; a timer pings. It returns why the connection ended.
// An idle connected client costs two goroutines.
func (c *Client) serve(ctx context.Context, conn *websocket.Conn) error {
	connCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		once    sync.Once
		connErr error
	)
	// abort kills the connection; the writer takes nothing more from the
	// queue, so what is pushed now waits for the next connection.
	abort := func(err error) {
		once.Do(func() { connErr = err })
		cancel()
		conn.CloseNow()
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c.writeLoop(connCtx, conn, abort)
	}()
	// Disabled: say goodbye. Close waits for the server's close frame,
	// which the reader below receives. No goroutine waits for this.
	closed := make(chan struct{})
	stopGoodbye := context.AfterFunc(ctx, func() {
		defer close(closed)
		once.Do(func() { connErr = ErrClientOff })
		conn.Close(websocket.StatusNormalClosure, "client off")
	})
	var beat *heartbeat
	if c.ws.PingInterval > 0 {
		beat = c.startHeartbeat(connCtx, conn, abort)
	}

	err := c.readLoop(conn)
	once.Do(func() { connErr = err })
	cancel()
	if !stopGoodbye() {
		<-closed
	}
	conn.CloseNow()
	if beat != nil {
		beat.stop()
	}
	wg.Wait()
	return connErr
}

// heartbeat pings every ping_interval from a timer, so that an idle
// connection has no goroutine waiting for its next ping; no pong within
// pong_timeout kills the connection.
type heartbeat struct {
	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
	running sync.WaitGroup
}

func (c *Client) startHeartbeat(
	ctx context.Context,
	conn *websocket.Conn,
	abort func(error),
) *heartbeat {
	h := &heartbeat{}
	beat := func() {
		h.mu.Lock()
		if h.stopped {
			h.mu.Unlock()
			return
		}
		h.running.Add(1)
		h.mu.Unlock()
		defer h.running.Done()

		pctx, cancel := context.WithTimeout(ctx, c.ws.PongTimeout)
		err := conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				abort(fmt.Errorf("no pong within %s", c.ws.PongTimeout))
			}
			return
		}
		h.mu.Lock()
		if !h.stopped {
			h.timer.Reset(c.ws.PingInterval)
		}
		h.mu.Unlock()
	}
	h.mu.Lock()
	h.timer = time.AfterFunc(c.ws.PingInterval, beat)
	h.mu.Unlock()
	return h
}

// stop stops the pings and waits for one under way.
func (h *heartbeat) stop() {
	h.mu.Lock()
	h.stopped = true
	h.timer.Stop()
	h.mu.Unlock()
	h.running.Wait()
}

// readLoop reads messages into one reused buffer, runs the incoming
// transforms on a reused Message, and delivers.
func (c *Client) readLoop(conn *websocket.Conn) error {
	var buf []byte
	m := &Message{Incoming: true}
	for {
		typ, r, err := conn.Reader(context.Background())
		if err != nil {
			return err
		}
		buf, err = readAll(r, buf[:0])
		if err != nil {
			return err
		}
		if typ == websocket.MessageText && !utf8.Valid(buf) {
			conn.Close(websocket.StatusInvalidFramePayloadData, "text frame is not UTF-8")
			return errors.New("a text frame that is not valid UTF-8: closed with 1007")
		}
		c.stats.messagesIn.Add(1)
		c.stats.bytesIn.Add(int64(len(buf)))
		m.Data, m.Binary, m.Client = buf, typ == websocket.MessageBinary, c.info.Load()
		if len(c.transforms.Load().incoming) > 0 {
			b, hd := c.useTransforms()
			ok := c.transform(context.Background(), m, b.incoming)
			hd.release()
			if !ok {
				continue
			}
		}
		c.deliver(m)
	}
}

// readAll reads r to its end onto buf.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// transform runs transforms on m in order; false means the message goes no
// further. A failure follows transform_errors: for an incoming message,
// fail and drop both drop it, pass passes it as it was.
func (c *Client) transform(ctx context.Context, m *Message, ts []boundTransform) bool {
	ok, _ := c.runTransforms(ctx, m, ts)
	return ok
}

// runTransforms runs ts on m; it returns whether the message goes on and,
// when it does not, why (a failure, or a transform's drop).
func (c *Client) runTransforms(ctx context.Context, m *Message, ts []boundTransform) (bool, error) {
	before := m.Data
	for _, bt := range ts {
		a, err := bt.t.Transform(ctx, m)
		if err != nil {
			c.stats.transformErrors.Add(1)
			c.log.Warn("transform failed", "transform", bt.name,
				"policy", c.ws.TransformErrors, "err", err)
			switch c.ws.TransformErrors {
			case config.TransformErrorsPass:
				m.Data = before
				return true, nil
			case config.TransformErrorsDrop:
				return false, &DroppedError{Transform: bt.name, Err: err}
			}
			return false, fmt.Errorf("api[%s] transform[%s]: %w", c.name, bt.name, err)
		}
		if a == Drop {
			return false, &DroppedError{Transform: bt.name}
		}
	}
	return true, nil
}

// ErrDropped is wrapped by the error of a Send whose message a transform
// dropped.
var ErrDropped = errors.New("dropped")

// DroppedError says which transform dropped a message, and why when it
// failed under transform_errors: drop.
type DroppedError struct {
	// Transform names the transform that dropped the message.
	Transform string
	// Err is nil when the transform chose to drop the message, and its
	// failure when transform_errors: drop dropped it for failing.
	Err error
}

// Error says which transform dropped the message, and why.
func (e *DroppedError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("transform[%s] failed and the message was dropped: %v",
			e.Transform, e.Err)
	}
	return fmt.Sprintf("transform[%s] dropped the message", e.Transform)
}

// Is makes errors.Is(err, ErrDropped) true.
func (e *DroppedError) Is(target error) bool { return target == ErrDropped }

// Unwrap gives the transform's failure, if it failed.
func (e *DroppedError) Unwrap() error { return e.Err }

// ClientStats are a client's counters, a snapshot for whatever exports
// them. The counts only grow while the Client exists, through Disable and
// Enable; a Reload that keeps the client keeps them, and one that replaces
// it (its settings changed) starts a new Client from zero.
type ClientStats struct {
	// Name is the API's name from the config.
	Name string
	// URL is the last URL dialled, redacted: safe to show.
	URL string
	// State is the client's state when the snapshot was taken.
	State State
	// Connects counts the connections opened; Reconnects those after the
	// first, whether a loss or a Disable and Enable came before.
	Connects, Reconnects int64
	// MessagesIn and BytesIn count what the server sent, before the
	// incoming transforms; MessagesOut and BytesOut what was written to
	// it, after the outgoing ones.
	MessagesIn, MessagesOut, BytesIn, BytesOut int64
	// SendErrors counts the Sends that returned an error; TransformErrors
	// the transform calls that failed, in either direction;
	// SubscriberDrops the messages that subscribers' full buffers lost.
	SendErrors, TransformErrors, SubscriberDrops int64
	// QueueLength is how many sends wait for a connection now.
	QueueLength int
	// LastError is the client's last failure (resolving its values, a
	// dial, a lost connection), or "" once it connected again; see
	// Client.Err.
	LastError string
}

type clientCounters struct {
	connects, reconnects                       atomic.Int64
	messagesIn, messagesOut, bytesIn, bytesOut atomic.Int64
	sendErrors, transformErrors, subDrops      atomic.Int64
}

// Stats returns the client's counters.
func (c *Client) Stats() ClientStats {
	s := ClientStats{
		Name: c.name, State: c.State(),
		Connects: c.stats.connects.Load(), Reconnects: c.stats.reconnects.Load(),
		MessagesIn: c.stats.messagesIn.Load(), MessagesOut: c.stats.messagesOut.Load(),
		BytesIn: c.stats.bytesIn.Load(), BytesOut: c.stats.bytesOut.Load(),
		SendErrors: c.stats.sendErrors.Load(), TransformErrors: c.stats.transformErrors.Load(),
		SubscriberDrops: c.stats.subDrops.Load(),
		QueueLength:     c.queue.len(),
	}
	if err := c.Err(); err != nil {
		s.LastError = err.Error()
	}
	if u := c.lastURL.Load(); u != nil {
		s.URL = *u
	}
	return s
}
