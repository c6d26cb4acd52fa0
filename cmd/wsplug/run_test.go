package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// binary builds the command once per test run.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "wsplug-bin")
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "wsplug")
	b, err := exec.Command("go", "build", "-o", out, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, b)
	}
	return out, nil
})

// peer is a websocket server for the command's tests: it records what
// arrives, counts handshakes and close codes, and sends on request.
type peer struct {
	srv *httptest.Server

	mu         sync.Mutex
	received   []string
	handshakes int
	closes     []websocket.StatusCode
	conns      []*websocket.Conn
}

func newPeer(t *testing.T) *peer {
	p := &peer{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		p.mu.Lock()
		p.handshakes++
		p.conns = append(p.conns, conn)
		p.mu.Unlock()
		for {
			_, data, err := conn.Read(context.Background())
			if err != nil {
				p.mu.Lock()
				p.closes = append(p.closes, websocket.CloseStatus(err))
				p.mu.Unlock()
				return
			}
			p.mu.Lock()
			p.received = append(p.received, string(data))
			p.mu.Unlock()
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *peer) url() string { return "ws" + strings.TrimPrefix(p.srv.URL, "http") + "/ws" }

func (p *peer) snapshot() (received []string, handshakes int, closes []websocket.StatusCode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.received...), p.handshakes, append([]websocket.StatusCode(nil), p.closes...)
}

// sendAll sends a message on the last connection.
func (p *peer) send(msg string) error {
	p.mu.Lock()
	c := p.conns[len(p.conns)-1]
	p.mu.Unlock()
	return c.Write(context.Background(), websocket.MessageText, []byte(msg))
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lines collects a reader's lines.
type lines struct {
	mu  sync.Mutex
	all []string
}

func collect(r io.Reader) *lines {
	l := &lines{}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.mu.Lock()
			l.all = append(l.all, sc.Text())
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *lines) find(re *regexp.Regexp) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.all {
		if m := re.FindStringSubmatch(s); m != nil {
			return m
		}
	}
	return nil
}

func runConfig(url, prefix string) string {
	return fmt.Sprintf(`apis:
  - name: Echo
    url: http://127.0.0.1
    websocket:
      url: %q
      client_id: cli
      client_id_required: true
      transforms: {outgoing: [prefix]}
plugins:
  - name: prefix
    path: %s
    config: %q
`, url, filepath.Join(mustAbs("testdata"), "prefix.wasm"), prefix)
}

func mustAbs(p string) string {
	a, _ := filepath.Abs(p)
	return a
}

// TestRun drives the built binary: a line on stdin reaches the server, a
// server message comes out on stdout, the admin API lists, toggles and
// measures the client, SIGHUP swaps a plugin while messages flow without
// losing one, and SIGTERM closes with 1000.
func TestRun(t *testing.T) {
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	p := newPeer(t)
	cfg := filepath.Join(t.TempDir(), "wsplug.yaml")
	os.WriteFile(cfg, []byte(runConfig(p.url(), "A")), 0o600)

	cmd := exec.Command(bin, "run", "-c", cfg, "--admin", "127.0.0.1:0", "--cache-dir", t.TempDir())
	stdin, _ := cmd.StdinPipe()
	stdoutPipe, _ := cmd.StdoutPipe()
	stderrPipe, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	stdout, stderr := collect(stdoutPipe), collect(stderrPipe)
	defer func() {
		if t.Failed() {
			t.Logf("stderr:\n%s", strings.Join(stderr.all, "\n"))
		}
	}()

	adminRE := regexp.MustCompile(`admin API listening" addr=(\S+)`)
	waitUntil(t, "the admin API", func() bool { return stderr.find(adminRE) != nil })
	admin := "http://" + stderr.find(adminRE)[1]
	waitUntil(t, "the connection", func() bool { _, n, _ := p.snapshot(); return n == 1 })

	// stdin to the server, through the plugin.
	fmt.Fprintln(stdin, `{"api":"Echo","data":{"n":0,"who":"{client_id}"}}`)
	waitUntil(t, "the first message", func() bool { r, _, _ := p.snapshot(); return len(r) == 1 })
	if r, _, _ := p.snapshot(); r[0] != `"A"{"n":0,"who":"cli"}` {
		t.Errorf("server got %q", r[0])
	}
	// The server to stdout.
	if err := p.send(`{"type":"status","data":{"sid":"s-1"}}`); err != nil {
		t.Fatal(err)
	}
	outRE := regexp.MustCompile(`^\{"api":"Echo","type":"text","data":\{"type":"status","data":\{"sid":"s-1"\}\},"at":"[^"]+"\}$`)
	waitUntil(t, "the server's message on stdout", func() bool { return stdout.find(outRE) != nil })

	// The admin API.
	var clients struct {
		Clients []struct {
			Name, State, URL string
			ClientID         string `json:"client_id"`
		}
	}
	getJSON(t, admin+"/clients", &clients)
	if len(clients.Clients) != 1 || clients.Clients[0].State != "connected" ||
		clients.Clients[0].URL != p.url()+"?clientId=cli" || clients.Clients[0].ClientID != "cli" {
		t.Errorf("GET /clients: %+v", clients)
	}
	for _, want := range []string{"off", "connected"} {
		var toggled struct{ Client struct{ State string } }
		postJSON(t, admin+"/clients/Echo/toggle", "", &toggled)
		if toggled.Client.State != want {
			t.Errorf("toggle: %s, want %s", toggled.Client.State, want)
		}
	}
	// The server counts a handshake and a close a moment after the client
	// has seen them.
	waitUntil(t, "the server to see the toggle", func() bool {
		_, n, closes := p.snapshot()
		return n == 2 && len(closes) == 1
	})
	if _, _, closes := p.snapshot(); closes[0] != websocket.StatusNormalClosure {
		t.Errorf("the toggle closed with %v", closes)
	}
	var sent map[string]bool
	postJSON(t, admin+"/clients/Echo/send", `{"n":1}`, &sent)
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	if f := families["wsplug_messages_sent_total"]; f == nil || f.Metric[0].GetCounter().GetValue() != 2 {
		t.Errorf("wsplug_messages_sent_total: %v", f)
	}
	if f := families["wsplug_plugin_calls_total"]; f == nil || f.Metric[0].GetCounter().GetValue() < 2 {
		t.Errorf("wsplug_plugin_calls_total: %v", f)
	}

	// SIGHUP with the plugin's config changed, while stdin keeps sending.
	const n = 300
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 2; i < n; i++ {
			fmt.Fprintf(stdin, `{"api":"Echo","data":{"n":%d}}`+"\n", i)
			time.Sleep(2 * time.Millisecond)
			if i == 50 {
				os.WriteFile(cfg, []byte(runConfig(p.url(), "B")), 0o600)
				cmd.Process.Signal(syscall.SIGHUP)
			}
		}
	}()
	<-done
	waitUntil(t, "every message", func() bool { r, _, _ := p.snapshot(); return len(r) == n })
	received, handshakes, _ := p.snapshot()
	sawB := false
	for i, m := range received {
		var prefix string
		var body struct{ N int }
		if len(m) < 3 || json.Unmarshal([]byte(m[3:]), &body) != nil || body.N != i {
			t.Fatalf("message %d is %q: lost or out of order", i, m)
		}
		prefix = m[:3]
		switch {
		case prefix == `"B"`:
			sawB = true
		case sawB:
			t.Fatalf("message %d went through the old plugin after the new one", i)
		}
	}
	if !sawB {
		t.Error("the plugin was not swapped")
	}
	if handshakes != 2 {
		t.Errorf("the reload reconnected: %d handshakes", handshakes)
	}

	cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("exit: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("wsplug did not exit on SIGTERM")
	}
	if _, _, closes := p.snapshot(); closes[len(closes)-1] != websocket.StatusNormalClosure {
		t.Errorf("closed with %v", closes)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
}

func postJSON(t *testing.T, url, body string, v any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %v %+v", url, resp.StatusCode, err, v)
	}
}

// TestAdminRefusesAnOpenAddressWithoutAToken: the admin API can send and
// switch clients off, so off loopback it needs a token.
func TestAdminRefusesAnOpenAddressWithoutAToken(t *testing.T) {
	p := newPeer(t)
	cfg := filepath.Join(t.TempDir(), "wsplug.yaml")
	os.WriteFile(cfg, []byte(runConfig(p.url(), "A")), 0o600)
	code, _, stderr := wsplug(t, "run", "-c", cfg, "--admin", "0.0.0.0:0", "--cache-dir", t.TempDir())
	if code != exitUsage || !strings.Contains(stderr, "is not a loopback address: give --admin-token too") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestAdminToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := requireToken("s3cret", ok)
	for _, tt := range []struct {
		name, auth string
		want       int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"wrong token", "Bearer nope", http.StatusUnauthorized},
		{"not bearer", "s3cret", http.StatusUnauthorized},
		{"right token", "Bearer s3cret", http.StatusNoContent},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/clients", nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("status %d, want %d", rec.Code, tt.want)
			}
		})
	}
	if err := checkAdminAddr("10.0.0.1:7070", "tok"); err != nil {
		t.Errorf("an open address with a token: %v", err)
	}
	if err := checkAdminAddr("localhost:7070", ""); err != nil {
		t.Errorf("localhost without a token: %v", err)
	}
}
