package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/wsplug/wsplug/host"
)

// adminServer is the admin API of wsplug run: the clients, a toggle, a
// send, and Prometheus metrics.
type adminServer struct {
	srv *http.Server
	ln  net.Listener
}

// checkAdminAddr refuses an address off loopback without a token: the API
// can send messages and switch clients off.
func checkAdminAddr(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--admin %q: %w", addr, err)
	}
	ip := net.ParseIP(host)
	if (ip == nil || !ip.IsLoopback()) && host != "localhost" && token == "" {
		return fmt.Errorf("--admin %s is not a loopback address: give --admin-token too", addr)
	}
	return nil
}

// startAdmin listens on addr, which checkAdminAddr has allowed.
func startAdmin(r *runner, addr, token string) (*adminServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--admin: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /clients", r.adminClients)
	mux.HandleFunc("POST /clients/{name}/toggle", r.adminToggle)
	mux.HandleFunc("POST /clients/{name}/send", r.adminSend)
	mux.Handle("GET /metrics", newCollector(r.host))
	var handler http.Handler = mux
	if token != "" {
		handler = requireToken(token, mux)
	}
	handler = newGuard(ln.Addr().String(), token != "", handler)
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
	a := &adminServer{ln: ln, srv: srv}
	go a.srv.Serve(ln)
	return a, nil
}

func (a *adminServer) addr() string { return a.ln.Addr().String() }

func (a *adminServer) close(ctx context.Context) { a.srv.Shutdown(ctx) }

// requireToken lets through requests that carry the bearer token.
func requireToken(token string, next http.Handler) http.Handler {
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			msg := map[string]string{"error": "a bearer token is needed"}
			writeJSON(w, http.StatusUnauthorized, msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// guard refuses what a web page in the user's browser could ask of the
// API. Such a page can reach loopback too: it can post a form across sites,
// which would send a message or switch a client off, and a page whose own
// name is made to resolve to 127.0.0.1 (DNS rebinding) can read the
// answers. So a request must
//   - without a token, name the API by a loopback name in its Host header
//     (a rebound page sends its own name);
//   - if it has an Origin header, come from the API's own origin;
//   - if it is a POST, have a Content-Type that a page cannot send without
//     asking first (a CORS preflight, which this API never answers): not
//     text/plain, not a form, not none.
//
// With a token, the Host check is off (the API may be served under any
// name); a page cannot add the Authorization header without a preflight.
type guard struct {
	port    string
	names   map[string]bool // loopback names of the listener, for Host
	anyHost bool
	next    http.Handler
}

func newGuard(listen string, anyHost bool, next http.Handler) *guard {
	ip, port, _ := net.SplitHostPort(listen)
	return &guard{port: port, anyHost: anyHost, next: next,
		names: map[string]bool{"127.0.0.1": true, "::1": true, "localhost": true, ip: true}}
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if problem, status := g.check(r); problem != "" {
		writeJSON(w, status, map[string]string{"error": problem})
		return
	}
	g.next.ServeHTTP(w, r)
}

const errSimplePost = "a POST needs a Content-Type such as application/json: " +
	"text/plain, forms and none are refused, as any web page can send them"

// check says why the request is refused, and with what status, or returns
// "".
func (g *guard) check(r *http.Request) (string, int) {
	if !g.anyHost && !g.loopbackHost(r.Host) {
		return fmt.Sprintf("Host %q is not this API's loopback address "+
			"(give --admin-token to serve it under other names)", r.Host), http.StatusForbidden
	}
	if origin, ok := r.Header["Origin"]; ok && (len(origin) != 1 ||
		!strings.EqualFold(origin[0], "http://"+r.Host)) {
		return fmt.Sprintf("requests from web pages are refused (Origin %q)",
			strings.Join(origin, ", ")), http.StatusForbidden
	}
	if r.Method == http.MethodPost && simpleContentType(r.Header.Get("Content-Type")) {
		return errSimplePost, http.StatusUnsupportedMediaType
	}
	return "", 0
}

// loopbackHost reports whether a Host header names the listener by a
// loopback name and its port.
func (g *guard) loopbackHost(hostport string) bool {
	name, port, err := net.SplitHostPort(hostport)
	if err != nil {
		name, port = hostport, "80" // no port: the default one
	}
	return port == g.port && g.names[strings.ToLower(name)]
}

// simpleContentType reports whether a web page may send a request with
// this Content-Type across origins without a CORS preflight.
func simpleContentType(v string) bool {
	if strings.TrimSpace(v) == "" {
		return true
	}
	t, _, err := mime.ParseMediaType(v)
	if err != nil {
		// A browser checks the type as it parses it; refuse what does not
		// parse rather than guess.
		return true
	}
	switch t {
	case "text/plain", "application/x-www-form-urlencoded", "multipart/form-data":
		return true
	}
	return false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// clientView is one client in GET /clients and the toggle's answer.
type clientView struct {
	Name      string      `json:"name"`
	State     string      `json:"state"`         // "connected", as the log says it
	URL       string      `json:"url,omitempty"` // the last one dialled, redacted
	ClientID  string      `json:"client_id,omitempty"`
	LastError string      `json:"last_error,omitempty"`
	Stats     clientStats `json:"stats"`
}

// clientStats are host.ClientStats's counters under the names of the
// metrics.
type clientStats struct {
	Connects        int64 `json:"connects"`
	Reconnects      int64 `json:"reconnects"`
	MessagesIn      int64 `json:"messages_in"`
	MessagesOut     int64 `json:"messages_out"`
	BytesIn         int64 `json:"bytes_in"`
	BytesOut        int64 `json:"bytes_out"`
	SendErrors      int64 `json:"send_errors"`
	TransformErrors int64 `json:"transform_errors"`
	SubscriberDrops int64 `json:"subscriber_drops"`
	QueueLength     int   `json:"queue_length"`
}

func viewOf(c *host.Client) clientView {
	s := c.Stats()
	return clientView{
		Name: c.Name(), State: s.State.String(), URL: s.URL, ClientID: c.ClientID(),
		LastError: s.LastError,
		Stats: clientStats{
			Connects: s.Connects, Reconnects: s.Reconnects,
			MessagesIn: s.MessagesIn, MessagesOut: s.MessagesOut,
			BytesIn: s.BytesIn, BytesOut: s.BytesOut,
			SendErrors: s.SendErrors, TransformErrors: s.TransformErrors,
			SubscriberDrops: s.SubscriberDrops, QueueLength: s.QueueLength,
		},
	}
}

func (r *runner) adminClients(w http.ResponseWriter, _ *http.Request) {
	out := []clientView{}
	for _, c := range r.host.Clients() {
		out = append(out, viewOf(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"clients": out})
}

func (r *runner) client(w http.ResponseWriter, req *http.Request) (*host.Client, bool) {
	c, ok := r.host.Client(req.PathValue("name"))
	if !ok {
		msg := fmt.Sprintf("no client %q", req.PathValue("name"))
		writeJSON(w, http.StatusNotFound, map[string]string{"error": msg})
	}
	return c, ok
}

// adminToggle disables a running client, or enables one that is off or
// failed, and answers with its state.
func (r *runner) adminToggle(w http.ResponseWriter, req *http.Request) {
	c, ok := r.client(w, req)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), 30*time.Second)
	defer cancel()
	var err error
	switch c.State() {
	case host.StateOff, host.StateFailed:
		err = c.Enable(ctx)
	default:
		err = c.Disable(ctx)
	}
	if err != nil {
		answer := map[string]any{"client": viewOf(c), "error": err.Error()}
		writeJSON(w, http.StatusBadGateway, answer)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"client": viewOf(c)})
}

// adminSend sends the request body as one message.
func (r *runner) adminSend(w http.ResponseWriter, req *http.Request) {
	c, ok := r.client(w, req)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxInputLine))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(req.Context(), 30*time.Second)
	defer cancel()
	if err := c.Send(ctx, body, nil); err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, host.ErrQueueFull) {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"sent": true})
}
