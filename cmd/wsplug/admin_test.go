package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/wsplug/wsplug/host"
)

// startTestAdmin runs the admin API in the test process, for a client
// connected to a peer of its own.
func startTestAdmin(t *testing.T, token string) (addr string, p *peer) {
	t.Helper()
	p = newPeer(t)
	cfg := writeFile(t, fmt.Sprintf("apis:\n  - name: Echo\n    url: http://127.0.0.1\n"+
		"    websocket: {url: %q, client_id: cli, client_id_required: true}\n", p.url()))
	ctx := context.Background()
	s, err := host.LoadConfig(ctx, cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := host.New(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r := &runner{host: h, setup: s, logger: slog.New(slog.DiscardHandler)}
	a, err := startAdmin(r, "127.0.0.1:0", token)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.close(ctx)
		h.Close(ctx)
		s.Close(ctx)
	})
	return a.addr(), p
}

// TestAdminRefusesWebPages: a page in the user's browser can reach
// loopback, so the API refuses what such a page can send: another name in
// Host (DNS rebinding), another Origin, and a POST of a type a page may send
// across sites without a preflight. The rows that pass show where the guard
// ends: an unknown client is 404, past it.
func TestAdminRefusesWebPages(t *testing.T) {
	open, _ := startTestAdmin(t, "")
	withToken, _ := startTestAdmin(t, "tok")
	_, port, _ := strings.Cut(open, ":")
	_, tokenPort, _ := strings.Cut(withToken, ":")
	const jsonType = "application/json"
	tests := []struct {
		name         string
		addr         string // default: the API without a token
		method, path string
		host, origin string
		contentType  string
		auth         string
		want         int
	}{
		{name: "loopback address", method: "GET", path: "/clients", want: 200},
		{name: "localhost", method: "GET", path: "/clients", host: "localhost:" + port, want: 200},
		{name: "ipv6 loopback", method: "GET", path: "/clients", host: "[::1]:" + port, want: 200},
		{name: "rebound name", method: "GET", path: "/clients", host: "evil.example:" + port,
			want: 403},
		{name: "rebound name on metrics", method: "GET", path: "/metrics",
			host: "evil.example:" + port, want: 403},
		{name: "loopback name, other port", method: "GET", path: "/clients",
			host: "127.0.0.1:1", want: 403},
		{name: "localhost without port", method: "GET", path: "/clients", host: "localhost",
			want: 403},
		{name: "cross-site origin", method: "POST", path: "/clients/Echo/send",
			origin: "http://evil.example", contentType: jsonType, want: 403},
		{name: "opaque origin", method: "POST", path: "/clients/Echo/toggle", origin: "null",
			contentType: jsonType, want: 403},
		{name: "origin on another port", method: "GET", path: "/clients",
			origin: "http://127.0.0.1:1", want: 403},
		{name: "same origin", method: "POST", path: "/clients/None/toggle",
			origin: "http://127.0.0.1:" + port, contentType: jsonType, want: 404},
		{name: "text/plain post", method: "POST", path: "/clients/Echo/send",
			contentType: "text/plain; charset=utf-8", want: 415},
		{name: "form post", method: "POST", path: "/clients/Echo/toggle",
			contentType: "application/x-www-form-urlencoded", want: 415},
		{name: "multipart post", method: "POST", path: "/clients/Echo/send",
			contentType: "multipart/form-data; boundary=x", want: 415},
		{name: "post without a type", method: "POST", path: "/clients/Echo/toggle", want: 415},
		{name: "json post", method: "POST", path: "/clients/None/send", contentType: jsonType,
			want: 404},
		{name: "token: any name", addr: withToken, method: "GET", path: "/clients",
			host: "wsplug.example:" + tokenPort, auth: "Bearer tok", want: 200},
		{name: "token: cross-site origin", addr: withToken, method: "GET", path: "/clients",
			origin: "http://evil.example", auth: "Bearer tok", want: 403},
		{name: "token: text/plain post", addr: withToken, method: "POST",
			path: "/clients/Echo/send", contentType: "text/plain", auth: "Bearer tok", want: 415},
		{name: "token: none given", addr: withToken, method: "GET", path: "/clients", want: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := open
			if tt.addr != "" {
				addr = tt.addr
			}
			req, err := http.NewRequest(tt.method, "http://"+addr+tt.path, strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			for k, v := range map[string]string{"Origin": tt.origin, "Authorization": tt.auth,
				"Content-Type": tt.contentType} {
				if v != "" {
					req.Header.Set(k, v)
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Errorf("status %d, want %d: %s", resp.StatusCode, tt.want, body)
			}
		})
	}
}

// TestAdminClientsJSON: GET /clients speaks one dialect, snake_case keys and
// the state by name.
func TestAdminClientsJSON(t *testing.T) {
	addr, _ := startTestAdmin(t, "")
	var got struct {
		Clients []map[string]any `json:"clients"`
	}
	getJSON(t, "http://"+addr+"/clients", &got)
	if len(got.Clients) != 1 {
		t.Fatalf("clients: %v", got.Clients)
	}
	c := got.Clients[0]
	if c["state"] != "connected" || c["name"] != "Echo" || c["client_id"] != "cli" {
		t.Errorf("client: %v", c)
	}
	stats, _ := c["stats"].(map[string]any)
	if stats["connects"] != 1.0 {
		t.Errorf("stats: %v", stats)
	}
	var keys []string
	for k := range c {
		keys = append(keys, k)
	}
	for k := range stats {
		keys = append(keys, "stats."+k)
	}
	slices.Sort(keys)
	snake := regexp.MustCompile(`^[a-z]+(_[a-z]+)*(\.[a-z]+(_[a-z]+)*)?$`)
	for _, k := range keys {
		if !snake.MatchString(k) {
			t.Errorf("key %s is not snake_case", k)
		}
	}
	want := []string{"client_id", "name", "state", "stats", "stats.bytes_in", "stats.bytes_out",
		"stats.connects", "stats.messages_in", "stats.messages_out", "stats.queue_length",
		"stats.reconnects", "stats.send_errors", "stats.subscriber_drops",
		"stats.transform_errors", "url"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys %q\nwant %q", keys, want)
	}
}

// TestTotalsOnlyGrow: a client or plugin replaced under its name starts
// counting at zero; the exported total goes on from what the old one
// counted.
func TestTotalsOnlyGrow(t *testing.T) {
	tt := totals{}
	oldCount := []float64{5, 6}
	a, b := new(int), new(int)
	readA := func() []float64 { return oldCount }
	steps := []struct {
		owner *int
		now   []float64
		want  []float64
	}{
		{a, []float64{1, 2}, []float64{1, 2}},
		{a, []float64{3, 4}, []float64{3, 4}},
		// b replaces a, which counted to 5, 6 after the last scrape.
		{b, []float64{0, 0}, []float64{5, 6}},
		{b, []float64{1, 1}, []float64{6, 7}},
	}
	for i, s := range steps {
		read := readA
		if s.owner == b {
			read = func() []float64 { return s.now }
		}
		if got := tt.add("x", s.owner, s.now, read); !slices.Equal(got, s.want) {
			t.Errorf("step %d: %v, want %v", i, got, s.want)
		}
	}
}

// metricValues reads a scrape's counters and summaries: name{labels} to
// value, a summary as its _sum and _count.
func metricValues(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			l := "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[name+l] = m.Counter.GetValue()
			case m.Summary != nil:
				out[name+"_sum"+l] = m.Summary.GetSampleSum()
				out[name+"_count"+l] = float64(m.Summary.GetSampleCount())
			}
		}
	}
	return out
}

// checkGrown fails for every counter of before that is lower, or gone, in
// after.
func checkGrown(t *testing.T, before, after map[string]float64) {
	t.Helper()
	for k, v := range before {
		if w, ok := after[k]; !ok || w < v {
			t.Errorf("%s went from %v to %v (present: %v)", k, v, w, ok)
		}
	}
}
