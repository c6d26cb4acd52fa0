// Package wstest runs an in-process websocket server for tests. It speaks a
// ComfyUI-like protocol (a status greeting on connect, POST /prompt followed
// by execution events, GET /history/{id}) and misbehaves on command: it can
// refuse handshakes, drop or reset connections, stop answering pings, send
// frames a client must reject, drop connections at random, and crash and
// come back on the same port. wsplug's websocket client is tested against it
// so that reconnection and error paths run without a real backend.
//
// The server is built on github.com/coder/websocket. Findings about that
// library which a client must account for, checked by this package's tests:
//
//   - It never validates UTF-8, neither when writing nor when reading a text
//     frame: a text message carrying invalid UTF-8 is delivered to the reader
//     as is, with no error and no close. A client must check it itself.
//   - When a message exceeds the reader's limit (Conn.SetReadLimit), Read
//     returns an error wrapping websocket.ErrMessageTooBig; that error is not
//     a websocket.CloseError, so websocket.CloseStatus reports -1 for it. The
//     status 1009 (StatusMessageTooBig) only travels in the close frame the
//     reader sends to its peer.
//   - Control frames, pings included, are handled inside Reader: a peer that
//     does not read never answers a ping.
package wstest

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// WSPath is the path on which the server accepts websocket handshakes, the
// one ComfyUI uses; handshakes on any other path are refused with 404.
const WSPath = "/ws"

const (
	defaultReadLimit = 64 << 20
	// writeTimeout bounds every frame the server writes, so that a client
	// that stops reading cannot hang a test for longer.
	writeTimeout = 5 * time.Second
	// rebindWait bounds how long Restart retries binding the old port.
	rebindWait = 5 * time.Second
)

// Options configures a Server. The zero value (or a nil *Options) gives a
// server that greets, does not echo ordinary messages and accepts messages
// of up to 64 MiB.
type Options struct {
	// ReadLimit caps the size of a message from a client, so that tests of
	// large uploads can raise it and tests of limits can lower it. Zero
	// means 64 MiB; a negative value means no limit. A client that sends
	// more is closed with status 1009. It also caps recorded HTTP bodies.
	ReadLimit int64

	// NoGreeting turns off the status message that, as in ComfyUI, is sent
	// on every new connection:
	//   {"type":"status","data":{"status":{"exec_info":{"queue_remaining":0}},
	//    "sid":"<clientId>"}}
	NoGreeting bool

	// Echo sends every text message received back to its connection, for
	// round-trip tests. Messages whose JSON "type" is "echo" are echoed
	// even when Echo is false.
	Echo bool

	// StepDelay is waited before each websocket message of a prompt's
	// execution, so that tests can observe a prompt while it runs; a long
	// delay keeps it running until the server stops.
	StepDelay time.Duration

	// Handler, if set, serves every plain HTTP request that no built-in
	// route (POST /prompt, GET /history/{id}) takes; without it they get
	// 404. It must not call Stop, Restart or Close, which wait for it.
	Handler http.Handler
}

// Handshake records one websocket handshake attempt, accepted or refused,
// so that tests can check what a client sent and how often it retried.
type Handshake struct {
	// Path is the request path.
	Path string
	// Query holds the query parameters.
	Query url.Values
	// Header holds the request headers.
	Header http.Header
	// ClientID is the clientId query parameter, or the id the server made
	// up when it was absent.
	ClientID string
	// Status is 101 when the connection was upgraded, else the HTTP status
	// of the refusal.
	Status int
	// At is when the request arrived, so that tests can measure a client's
	// backoff between its attempts.
	At time.Time
}

// Request records one HTTP request, websocket handshakes included, so that
// tests can check what a client sent to the HTTP API.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the request path.
	Path string
	// Query holds the query parameters.
	Query url.Values
	// Header holds the request headers.
	Header http.Header
	// Body is the request body, cut at Options.ReadLimit.
	Body []byte
}

// Disconnect records how one websocket connection ended, seen from the
// server, so that tests can check how a client closed it.
type Disconnect struct {
	// Code is the status of the close frame received from the client, or
	// -1 when the connection ended without one (dropped, reset, stopped,
	// or closed by the server's own read limit).
	Code websocket.StatusCode
	// Reason is the reason in that close frame.
	Reason string
	// Err is the error that ended the server's read loop.
	Err error
}

// errKilled ends the read loop of a connection the server cut itself.
var errKilled = errors.New("wstest: connection cut by the server")

// Server is a websocket server for tests: it speaks a ComfyUI-like protocol
// and can misbehave on command. All methods are safe for concurrent use;
// those taking a testing.TB must be called from the test's goroutine.
type Server struct {
	tb   testing.TB
	opts Options
	addr string // host:port, kept across Restart

	lifeMu    sync.Mutex // serializes Stop, Restart and Close
	closeOnce sync.Once

	mu           sync.Mutex
	closed       bool
	cur          *run // nil while stopped
	changed      chan struct{}
	conns        map[string]map[*conn]struct{}
	received     map[string][][]byte
	disconnects  map[string][]Disconnect
	handshakes   []Handshake
	requests     []Request
	refuseStatus int
	refuseLeft   int
	shakeDelay   time.Duration
	chaosP       float64
	chaosRNG     *rand.Rand
	prompts      map[string]*prompt
	promptCount  int
}

// run is one life of the listener, from New or Restart to Stop.
type run struct {
	srv       *http.Server
	stop      chan struct{} // closed by Stop
	serveDone chan struct{}
	tasks     sync.WaitGroup // handlers and prompt executions
	httpConns sync.WaitGroup // connections net/http still owns
}

// conn is one accepted websocket connection.
type conn struct {
	id string
	ws *websocket.Conn
	nc net.Conn // the TCP connection under ws, for cutting it

	sendMu sync.Mutex // orders the greeting before anything else

	stopOnce sync.Once
	stop     chan struct{} // closed when the server cuts the connection
	done     chan struct{} // closed when its read loop has finished

	muteMu sync.Mutex
	resume chan struct{} // non-nil while muted; closed by unmute
}

type netConnKey struct{}

// New starts a server on 127.0.0.1 with a free port and closes it when the
// test ends. opts may be nil.
func New(tb testing.TB, opts *Options) *Server {
	tb.Helper()
	s := &Server{
		tb:          tb,
		changed:     make(chan struct{}),
		conns:       map[string]map[*conn]struct{}{},
		received:    map[string][][]byte{},
		disconnects: map[string][]Disconnect{},
		prompts:     map[string]*prompt{},
	}
	if opts != nil {
		s.opts = *opts
	}
	if s.opts.ReadLimit == 0 {
		s.opts.ReadLimit = defaultReadLimit
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("wstest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.start(ln)
	tb.Cleanup(s.Close)
	return s
}

// URL returns the websocket URL of the server, ws://127.0.0.1:PORT/ws.
func (s *Server) URL() string { return "ws://" + s.addr + WSPath }

// HTTPURL returns the base URL of the HTTP routes, http://127.0.0.1:PORT;
// they share the websocket listener, as in ComfyUI.
func (s *Server) HTTPURL() string { return "http://" + s.addr }

// Addr returns the host:port the server listens on; it survives Restart.
func (s *Server) Addr() string { return s.addr }

func (s *Server) start(ln net.Listener) {
	rn := &run{stop: make(chan struct{}), serveDone: make(chan struct{})}
	rn.srv = &http.Server{
		Handler:           s.routes(rn),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(logWriter{s.tb}, "wstest: ", 0),
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, netConnKey{}, c)
		},
		// Close waits on httpConns, so that no net/http goroutine
		// outlives it. StateNew is reported by the Serve goroutine
		// before Serve returns, hence before anyone waits.
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				rn.httpConns.Add(1)
			case http.StateHijacked, http.StateClosed:
				rn.httpConns.Done()
			}
		},
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return
	}
	s.cur = rn
	s.mu.Unlock()
	go func() {
		defer close(rn.serveDone)
		_ = rn.srv.Serve(ln)
	}()
}

// logWriter sends net/http's error log to the test log. Every writer of it
// ends before Close returns, hence before the test completes.
type logWriter struct{ tb testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.tb.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// track counts a goroutine of rn, unless rn has been stopped.
func (s *Server) track(rn *run) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != rn {
		return false
	}
	rn.tasks.Add(1)
	return true
}

func (s *Server) routes(rn *run) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /prompt", func(w http.ResponseWriter, r *http.Request) {
		s.servePrompt(rn, w, r)
	})
	mux.HandleFunc("GET /history/{id}", s.serveHistory)
	if s.opts.Handler != nil {
		mux.Handle("/", s.opts.Handler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.track(rn) {
			http.Error(w, "server stopping", http.StatusServiceUnavailable)
			return
		}
		defer rn.tasks.Done()
		s.recordRequest(r)
		if isUpgrade(r) {
			s.serveWS(rn, w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Upgrade") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "websocket") {
				return true
			}
		}
	}
	return false
}

func (s *Server) recordRequest(r *http.Request) {
	var body []byte
	if r.Body != nil {
		var src io.Reader = r.Body
		if s.opts.ReadLimit > 0 {
			src = io.LimitReader(r.Body, s.opts.ReadLimit)
		}
		body, _ = io.ReadAll(src)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	req := Request{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Header: r.Header.Clone(),
		Body:   body,
	}
	s.mu.Lock()
	s.requests = append(s.requests, req)
	s.notifyLocked()
	s.mu.Unlock()
}

// statusWriter remembers the status written through it. Unwrap lets
// websocket.Accept reach the http.Hijacker underneath.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) serveWS(rn *run, w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("clientId")
	if id == "" {
		id = newID()
	}
	hs := Handshake{
		Path:     r.URL.Path,
		Query:    q,
		Header:   r.Header.Clone(),
		ClientID: id,
		At:       time.Now(),
	}
	s.mu.Lock()
	delay := s.shakeDelay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-rn.stop:
		}
	}
	if status := s.refusal(r.URL.Path); status != 0 {
		hs.Status = status
		s.addHandshake(hs)
		http.Error(w, http.StatusText(status), status)
		return
	}
	// The TCP connection is taken from the request context before
	// Accept, since the context must not be used after a hijack.
	nc, _ := r.Context().Value(netConnKey{}).(net.Conn)
	c := &conn{
		id:   id,
		nc:   nc,
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	sw := &statusWriter{ResponseWriter: w}
	ws, err := websocket.Accept(sw, r, &websocket.AcceptOptions{
		InsecureSkipVerify: true, // tests dial from anywhere
		OnPingReceived:     c.onPing,
	})
	if err != nil {
		hs.Status = sw.status
		if hs.Status == 0 {
			hs.Status = http.StatusBadRequest
		}
		s.addHandshake(hs)
		return
	}
	c.ws = ws
	hs.Status = http.StatusSwitchingProtocols
	ws.SetReadLimit(s.opts.ReadLimit)

	// Hold sendMu from registration until the greeting is out, so that
	// whatever a test sends once it sees the connection comes after it.
	c.sendMu.Lock()
	s.mu.Lock()
	s.handshakes = append(s.handshakes, hs)
	live := s.cur == rn
	if live {
		if s.conns[id] == nil {
			s.conns[id] = map[*conn]struct{}{}
		}
		s.conns[id][c] = struct{}{}
	}
	s.notifyLocked()
	s.mu.Unlock()
	if !live {
		c.sendMu.Unlock()
		c.kill(false)
		_ = ws.CloseNow()
		return
	}
	if !s.opts.NoGreeting {
		_ = c.writeLocked(websocket.MessageText, greeting(id))
	}
	c.sendMu.Unlock()

	d := s.readLoop(c)
	c.kill(false)
	_ = ws.CloseNow()

	s.mu.Lock()
	delete(s.conns[id], c)
	if len(s.conns[id]) == 0 {
		delete(s.conns, id)
	}
	s.disconnects[id] = append(s.disconnects[id], d)
	s.notifyLocked()
	s.mu.Unlock()
	close(c.done)
}

// refusal reports the status with which to refuse a handshake on path, or
// 0 to accept it, and counts the refusal.
func (s *Server) refusal(path string) int {
	if path != WSPath {
		return http.StatusNotFound
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuseLeft == 0 {
		return 0
	}
	if s.refuseLeft > 0 {
		s.refuseLeft--
	}
	return s.refuseStatus
}

func (s *Server) addHandshake(hs Handshake) {
	s.mu.Lock()
	s.handshakes = append(s.handshakes, hs)
	s.notifyLocked()
	s.mu.Unlock()
}

func greeting(id string) []byte {
	return event("status", map[string]any{
		"status": map[string]any{
			"exec_info": map[string]any{"queue_remaining": 0},
		},
		"sid": id,
	})
}

// event encodes a message the way ComfyUI frames them.
func event(typ string, data any) []byte {
	b, err := json.Marshal(struct {
		Type string `json:"type"`
		Data any    `json:"data"`
	}{typ, data})
	if err != nil {
		panic(fmt.Sprintf("wstest: encoding %s event: %v", typ, err))
	}
	return b
}

// readLoop reads c until it ends and says how it ended.
func (s *Server) readLoop(c *conn) Disconnect {
	for {
		typ, r, err := c.ws.Reader(context.Background())
		if err != nil {
			return disconnectOf(err)
		}
		// A message that arrives while muted stays unread, in the
		// socket, until Unmute.
		if !c.waitUnmuted() {
			return Disconnect{Code: -1, Err: errKilled}
		}
		data, err := io.ReadAll(r)
		if err != nil {
			return disconnectOf(err)
		}
		if typ != websocket.MessageText {
			continue
		}
		if s.receive(c.id, data) {
			c.kill(false)
			return Disconnect{Code: -1, Err: errKilled}
		}
		if s.opts.Echo || isEcho(data) {
			_ = c.send(typ, data)
		}
	}
}

func disconnectOf(err error) Disconnect {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return Disconnect{Code: ce.Code, Reason: ce.Reason, Err: err}
	}
	return Disconnect{Code: -1, Err: err}
}

func isEcho(data []byte) bool {
	var m struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(data, &m) == nil && m.Type == "echo"
}

// receive records a text message and reports whether Chaos says to drop
// the connection it came on.
func (s *Server) receive(id string, data []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received[id] = append(s.received[id], data)
	s.notifyLocked()
	return s.chaosRNG != nil && s.chaosRNG.Float64() < s.chaosP
}

// onPing answers pings unless muted. While muted it holds the read loop,
// so that nothing else is read either, and the ping goes unanswered.
func (c *conn) onPing(context.Context, []byte) bool {
	c.muteMu.Lock()
	muted := c.resume != nil
	c.muteMu.Unlock()
	if !muted {
		return true
	}
	c.waitUnmuted()
	return false
}

func (c *conn) mute() {
	c.muteMu.Lock()
	if c.resume == nil {
		c.resume = make(chan struct{})
	}
	c.muteMu.Unlock()
}

func (c *conn) unmute() {
	c.muteMu.Lock()
	if c.resume != nil {
		close(c.resume)
		c.resume = nil
	}
	c.muteMu.Unlock()
}

// waitUnmuted blocks while c is muted; false means c was cut meanwhile.
func (c *conn) waitUnmuted() bool {
	c.muteMu.Lock()
	ch := c.resume
	c.muteMu.Unlock()
	if ch == nil {
		return true
	}
	select {
	case <-ch:
		return true
	case <-c.stop:
		return false
	}
}

// kill closes the TCP connection under c without a close frame; with
// reset, the kernel is told to send RST instead of FIN.
func (c *conn) kill(reset bool) {
	c.stopOnce.Do(func() {
		// Linger first: once stop is closed, the connection's own
		// goroutines may close it too, and a close before this one would
		// send a FIN.
		if tc, ok := c.nc.(*net.TCPConn); ok && reset {
			_ = tc.SetLinger(0)
		}
		close(c.stop)
		if c.nc == nil {
			_ = c.ws.CloseNow()
			return
		}
		_ = c.nc.Close()
	})
}

func (c *conn) send(typ websocket.MessageType, data []byte) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.writeLocked(typ, data)
}

func (c *conn) writeLocked(typ websocket.MessageType, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
	defer cancel()
	return c.ws.Write(ctx, typ, data)
}

// notifyLocked wakes every Wait method; s.mu must be held.
func (s *Server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// open returns the open connections of a client.
func (s *Server) open(id string) []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*conn, 0, len(s.conns[id]))
	for c := range s.conns[id] {
		cs = append(cs, c)
	}
	return cs
}

// wait blocks until cond, evaluated with s.mu held, is true, or fails the
// test after timeout with a message built by what.
func (s *Server) wait(tb testing.TB, timeout time.Duration, cond func() bool,
	what func() string) {
	tb.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-timer.C:
			s.mu.Lock()
			ok, msg := cond(), what()
			s.mu.Unlock()
			if !ok {
				tb.Fatalf("wstest: after %v: %s", timeout, msg)
			}
			return
		}
	}
}

// Received returns the text messages received from a client, in order,
// across all its connections, reconnects included.
func (s *Server) Received(clientID string) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyMessages(s.received[clientID])
}

func copyMessages(ms [][]byte) [][]byte {
	out := make([][]byte, len(ms))
	for i, m := range ms {
		out[i] = append([]byte(nil), m...)
	}
	return out
}

// WaitReceived waits until at least n text messages have been received
// from a client and returns them all; it fails the test after timeout.
func (s *Server) WaitReceived(tb testing.TB, clientID string, n int,
	timeout time.Duration) [][]byte {
	tb.Helper()
	s.wait(tb, timeout,
		func() bool { return len(s.received[clientID]) >= n },
		func() string {
			return fmt.Sprintf("client %q sent %d messages, want %d",
				clientID, len(s.received[clientID]), n)
		})
	return s.Received(clientID)
}

// Handshakes returns every websocket handshake attempted, accepted or
// refused, in order.
func (s *Server) Handshakes() []Handshake {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Handshake, len(s.handshakes))
	for i, h := range s.handshakes {
		h.Query = cloneValues(h.Query)
		h.Header = h.Header.Clone()
		out[i] = h
	}
	return out
}

// WaitHandshakes waits until at least n handshakes have been attempted,
// for tests of reconnection and backoff; it fails the test after timeout.
func (s *Server) WaitHandshakes(tb testing.TB, n int,
	timeout time.Duration) []Handshake {
	tb.Helper()
	s.wait(tb, timeout,
		func() bool { return len(s.handshakes) >= n },
		func() string {
			return fmt.Sprintf("%d handshakes, want %d", len(s.handshakes), n)
		})
	return s.Handshakes()
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// Requests returns every HTTP request received, websocket handshakes
// included, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		r.Query = cloneValues(r.Query)
		r.Header = r.Header.Clone()
		r.Body = append([]byte(nil), r.Body...)
		out[i] = r
	}
	return out
}

// WaitConnected waits until a client has an open connection; it fails the
// test after timeout.
func (s *Server) WaitConnected(tb testing.TB, clientID string, timeout time.Duration) {
	tb.Helper()
	s.wait(tb, timeout,
		func() bool { return len(s.conns[clientID]) > 0 },
		func() string { return fmt.Sprintf("client %q not connected", clientID) })
}

// Connections returns how many connections a client has open.
func (s *Server) Connections(clientID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns[clientID])
}

// Clients returns the ids of the clients with an open connection, sorted.
func (s *Server) Clients() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.conns))
	for id := range s.conns {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Disconnects returns how each finished connection of a client ended, in
// the order they ended.
func (s *Server) Disconnects(clientID string) []Disconnect {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Disconnect(nil), s.disconnects[clientID]...)
}

// WaitDisconnects waits until at least n connections of a client have
// ended and returns how they all ended; it fails the test after timeout.
func (s *Server) WaitDisconnects(tb testing.TB, clientID string, n int,
	timeout time.Duration) []Disconnect {
	tb.Helper()
	s.wait(tb, timeout,
		func() bool { return len(s.disconnects[clientID]) >= n },
		func() string {
			return fmt.Sprintf("client %q: %d connections ended, want %d",
				clientID, len(s.disconnects[clientID]), n)
		})
	return s.Disconnects(clientID)
}

// Send writes a message to every open connection of a client and returns
// to how many it was written. A muted connection is still written to.
func (s *Server) Send(clientID string, typ websocket.MessageType, data []byte) int {
	n := 0
	for _, c := range s.open(clientID) {
		if c.send(typ, data) == nil {
			n++
		}
	}
	return n
}

// SendEvent sends {"type":typ,"data":data} as a text message, the framing
// of ComfyUI's events, and returns to how many connections it was written.
func (s *Server) SendEvent(clientID, typ string, data any) int {
	return s.Send(clientID, websocket.MessageText, event(typ, data))
}

// SendOversize sends a text message of exactly n bytes, for tests of a
// client's read limit. When n allows it the message is a JSON event of
// type "oversize", so a client without a limit can still parse it.
func (s *Server) SendOversize(clientID string, n int) int {
	const head, tail = `{"type":"oversize","data":"`, `"}`
	var b []byte
	if n >= len(head)+len(tail) {
		b = make([]byte, 0, n)
		b = append(b, head...)
		for len(b) < n-len(tail) {
			b = append(b, 'x')
		}
		b = append(b, tail...)
	} else {
		b = []byte(strings.Repeat("x", max(n, 0)))
	}
	return s.Send(clientID, websocket.MessageText, b)
}

// SendInvalidUTF8 sends a text frame whose payload, 0xff 0xfe 0xfd, is not
// UTF-8. coder/websocket does not validate UTF-8 when writing, so this is
// an ordinary Write; nor does it when reading, so a client built on it
// receives these bytes without error and must check them itself.
func (s *Server) SendInvalidUTF8(clientID string) int {
	return s.Send(clientID, websocket.MessageText, []byte{0xff, 0xfe, 0xfd})
}

// Drop cuts every open connection of a client abruptly, as a crash or a
// network fault would: it closes the TCP connection itself (the net.Conn
// kept from http.Server.ConnContext when it was accepted), so no close
// frame is sent and the client's read fails with no close status. It
// returns once those connections are gone, and how many there were.
func (s *Server) Drop(clientID string) int { return s.cut(clientID, false) }

// Reset is Drop with a TCP reset (RST) in place of an orderly FIN, so the
// client's read fails with "connection reset by peer" rather than EOF.
func (s *Server) Reset(clientID string) int { return s.cut(clientID, true) }

func (s *Server) cut(id string, reset bool) int {
	cs := s.open(id)
	for _, c := range cs {
		c.kill(reset)
	}
	for _, c := range cs {
		<-c.done
	}
	return len(cs)
}

// CloseClient closes every open connection of a client with a close frame
// carrying code and reason, and waits for the close handshake, which the
// client completes by reading. Muted connections are unmuted first, since
// the server must read the client's answer. It returns how many handshakes
// completed; coder/websocket gives up on one after 5 s without an answer.
func (s *Server) CloseClient(clientID string, code websocket.StatusCode,
	reason string) int {
	cs := s.open(clientID)
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		n  int
	)
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// coder/websocket's Close waits for the reader,
			// which a muted connection holds.
			c.unmute()
			err := c.ws.Close(code, reason)
			c.kill(false) // whatever state the read loop is in
			<-c.done
			if err == nil {
				mu.Lock()
				n++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return n
}

// Mute stops reading the connections a client has open now, as a hung
// backend would: pings get no pong and messages stay unread in the socket.
// Writes still go out. Later connections of the client are not muted. It
// returns how many connections were muted.
//
// A ping arriving while muted parks the read loop inside coder/websocket's
// ping callback, holding its read lock; coder/websocket's own Close and
// CloseNow wait for that lock, so only Unmute, CloseClient (which unmutes),
// Drop, Reset, Stop and Close release such a connection.
func (s *Server) Mute(clientID string) int {
	cs := s.open(clientID)
	for _, c := range cs {
		c.mute()
	}
	return len(cs)
}

// Unmute resumes reading the muted connections of a client, so that pings
// are answered again; a ping held while muted is dropped or answered late,
// after its sender gave up. It returns how many connections it resumed.
func (s *Server) Unmute(clientID string) int {
	cs := s.open(clientID)
	for _, c := range cs {
		c.unmute()
	}
	return len(cs)
}

// RefuseNext makes the next n websocket handshakes fail with the HTTP
// status, to test a client's handling of refusals and its retries. A
// negative n refuses until RefuseNext is called again with n == 0.
func (s *Server) RefuseNext(status, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuseStatus, s.refuseLeft = status, n
}

// DelayHandshakes makes the server wait d before it answers each websocket
// handshake, accepting or refusing it, so that a test can act while a
// client is still dialling. 0 answers at once again.
func (s *Server) DelayHandshakes(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shakeDelay = d
}

// Chaos drops a connection (as Drop does) right after each text message
// received on it, with probability p, drawn from a generator seeded with
// seed so that a failing run can be replayed. The message is recorded
// first and not echoed. p <= 0 turns Chaos off.
func (s *Server) Chaos(p float64, seed int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p <= 0 {
		s.chaosP, s.chaosRNG = 0, nil
		return
	}
	s.chaosP = p
	s.chaosRNG = rand.New(rand.NewPCG(uint64(seed), 0x5eed))
}

// Stop makes the server vanish as if it crashed: it closes the listener
// and cuts every connection without a close frame; running prompts stop
// without finishing. Recorded state is kept for Restart. It returns once
// every goroutine of the stopped server has finished, and does nothing if
// the server is already stopped.
func (s *Server) Stop() {
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	s.stop()
}

func (s *Server) stop() {
	s.mu.Lock()
	rn := s.cur
	s.cur = nil
	var cs []*conn
	if rn != nil {
		close(rn.stop)
		for _, m := range s.conns {
			for c := range m {
				cs = append(cs, c)
			}
		}
	}
	s.mu.Unlock()
	if rn == nil {
		return
	}
	_ = rn.srv.Close()
	<-rn.serveDone
	for _, c := range cs {
		c.kill(false)
	}
	rn.tasks.Wait()
	rn.httpConns.Wait()
}

// Restart brings a stopped server back on the same port, retrying the bind
// for a few seconds, with its recorded state and settings (refusals, Chaos)
// kept. A running server is stopped first. It fails the test if the port
// cannot be bound again or the server was closed.
func (s *Server) Restart() {
	s.tb.Helper()
	s.lifeMu.Lock()
	defer s.lifeMu.Unlock()
	s.stop()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		s.tb.Fatalf("wstest: Restart after Close")
	}
	ln, err := listenRetry(s.addr, rebindWait)
	if err != nil {
		s.tb.Fatalf("wstest: listen again on %s: %v", s.addr, err)
	}
	s.start(ln)
}

func listenRetry(addr string, patience time.Duration) (net.Listener, error) {
	deadline := time.Now().Add(patience)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return ln, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close stops the server for good and waits for all its goroutines. It is
// idempotent, and called by the test's cleanup.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.lifeMu.Lock()
		defer s.lifeMu.Unlock()
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.stop()
	})
}

// newID returns 16 random bytes in the 8-4-4-4-12 hex layout of a UUID,
// the form ComfyUI uses for prompt and client ids.
func newID() string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
