package main

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && host != "localhost" && token == "" {
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
	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{h: r.host})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /clients", r.adminClients)
	mux.HandleFunc("POST /clients/{name}/toggle", r.adminToggle)
	mux.HandleFunc("POST /clients/{name}/send", r.adminSend)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	var handler http.Handler = mux
	if token != "" {
		handler = requireToken(token, mux)
	}
	a := &adminServer{ln: ln, srv: &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}}
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
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "a bearer token is needed"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// clientView is one client in GET /clients.
type clientView struct {
	Name     string           `json:"name"`
	State    string           `json:"state"`
	URL      string           `json:"url,omitempty"` // redacted
	ClientID string           `json:"client_id,omitempty"`
	Stats    host.ClientStats `json:"stats"`
}

func viewOf(c *host.Client) clientView {
	st := c.Stats()
	return clientView{Name: c.Name(), State: st.State.String(), URL: st.URL, ClientID: c.ClientID(), Stats: st}
}

func (r *runner) adminClients(w http.ResponseWriter, _ *http.Request) {
	var out []clientView
	for _, c := range r.host.Clients() {
		out = append(out, viewOf(c))
	}
	writeJSON(w, http.StatusOK, map[string]any{"clients": out})
}

func (r *runner) client(w http.ResponseWriter, req *http.Request) (*host.Client, bool) {
	c, ok := r.host.Client(req.PathValue("name"))
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no client %q", req.PathValue("name"))})
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
		writeJSON(w, http.StatusBadGateway, map[string]any{"client": viewOf(c), "error": err.Error()})
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

// collector exports the host's Stats as Prometheus metrics, read at each
// scrape: the host keeps plain counters and knows nothing of Prometheus.
type collector struct {
	h *host.Host
}

var (
	clientLabels = []string{"api"}
	metricState  = prometheus.NewDesc("wsplug_client_connected", "Whether the client's connection is open (1) or not (0).", clientLabels, nil)
	metricConns  = prometheus.NewDesc("wsplug_client_connects_total", "Connections opened.", clientLabels, nil)
	metricRecon  = prometheus.NewDesc("wsplug_client_reconnects_total", "Connections opened after the first.", clientLabels, nil)
	metricIn     = prometheus.NewDesc("wsplug_messages_received_total", "Messages received from the server.", clientLabels, nil)
	metricOut    = prometheus.NewDesc("wsplug_messages_sent_total", "Messages written to the server.", clientLabels, nil)
	metricBIn    = prometheus.NewDesc("wsplug_received_bytes_total", "Bytes of messages received.", clientLabels, nil)
	metricBOut   = prometheus.NewDesc("wsplug_sent_bytes_total", "Bytes of messages written.", clientLabels, nil)
	metricSErr   = prometheus.NewDesc("wsplug_send_errors_total", "Sends that ended in an error.", clientLabels, nil)
	metricTErr   = prometheus.NewDesc("wsplug_transform_errors_total", "Transform calls that failed.", clientLabels, nil)
	metricDrops  = prometheus.NewDesc("wsplug_subscriber_drops_total", "Messages a slow subscriber lost.", clientLabels, nil)
	metricQueue  = prometheus.NewDesc("wsplug_send_queue_length", "Messages waiting to be written.", clientLabels, nil)

	pluginLabels = []string{"plugin"}
	metricCalls  = prometheus.NewDesc("wsplug_plugin_calls_total", "Calls into the plugin.", pluginLabels, nil)
	metricPFail  = prometheus.NewDesc("wsplug_plugin_errors_total", "Plugin calls that failed: an error, a trap, a timeout.", pluginLabels, nil)
	metricPTime  = prometheus.NewDesc("wsplug_plugin_call_seconds_total", "Time spent in plugin calls (estimated from one call in 16).", pluginLabels, nil)
	metricInst   = prometheus.NewDesc("wsplug_plugin_instances", "Instances of the plugin that exist.", pluginLabels, nil)
)

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{metricState, metricConns, metricRecon, metricIn, metricOut, metricBIn,
		metricBOut, metricSErr, metricTErr, metricDrops, metricQueue, metricCalls, metricPFail, metricPTime,
		metricInst} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.h.Stats()
	counter := func(d *prometheus.Desc, v int64, label string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), label)
	}
	for _, s := range st.Clients {
		connected := 0.0
		if s.State == host.StateConnected {
			connected = 1
		}
		ch <- prometheus.MustNewConstMetric(metricState, prometheus.GaugeValue, connected, s.Name)
		counter(metricConns, s.Connects, s.Name)
		counter(metricRecon, s.Reconnects, s.Name)
		counter(metricIn, s.MessagesIn, s.Name)
		counter(metricOut, s.MessagesOut, s.Name)
		counter(metricBIn, s.BytesIn, s.Name)
		counter(metricBOut, s.BytesOut, s.Name)
		counter(metricSErr, s.SendErrors, s.Name)
		counter(metricTErr, s.TransformErrors, s.Name)
		counter(metricDrops, s.SubscriberDrops, s.Name)
		ch <- prometheus.MustNewConstMetric(metricQueue, prometheus.GaugeValue, float64(s.QueueLength), s.Name)
	}
	for _, p := range st.Plugins {
		counter(metricCalls, p.Calls, p.Name)
		counter(metricPFail, p.Failures, p.Name)
		ch <- prometheus.MustNewConstMetric(metricPTime, prometheus.CounterValue, p.CallTime.Seconds(), p.Name)
		ch <- prometheus.MustNewConstMetric(metricInst, prometheus.GaugeValue, float64(p.Instances), p.Name)
	}
}
