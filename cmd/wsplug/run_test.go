package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// binary builds the command once per test run.
var binary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp(buildDir, "bin")
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
	received   []string // text frames
	binary     [][]byte // binary frames
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
			typ, data, err := conn.Read(context.Background())
			p.mu.Lock()
			switch {
			case err != nil:
				p.closes = append(p.closes, websocket.CloseStatus(err))
			case typ == websocket.MessageBinary:
				p.binary = append(p.binary, data)
			default:
				p.received = append(p.received, string(data))
			}
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *peer) url() string { return "ws" + strings.TrimPrefix(p.srv.URL, "http") + "/ws" }

// snapshot returns the text frames received, the handshakes and the close
// codes so far.
func (p *peer) snapshot() (received []string, handshakes int, closes []websocket.StatusCode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.received), p.handshakes, slices.Clone(p.closes)
}

func (p *peer) binaries() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.binary)
}

// send sends a message on the last connection.
func (p *peer) send(typ websocket.MessageType, msg string) error {
	p.mu.Lock()
	c := p.conns[len(p.conns)-1]
	p.mu.Unlock()
	return c.Write(context.Background(), typ, []byte(msg))
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

// lines keeps what a process writes, line by line.
type lines struct {
	mu      sync.Mutex
	all     []string
	partial []byte
}

func (l *lines) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, b...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(b), nil
		}
		l.all = append(l.all, string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
}

// find returns the submatches of the first line that matches.
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

// lines returns the whole lines so far.
func (l *lines) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.all)
}

// process is the built binary running wsplug run.
type process struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr *lines
	done           chan struct{} // closed when it has exited
	err            error         // its exit, once done
}

// startRun runs wsplug run with these arguments, in an environment without
// WSPLUG_CONFIG unless env sets it. Its stderr is logged if the test fails;
// it is killed at the end of the test if it is still running.
func startRun(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, append([]string{"run"}, args...)...)
	cmd.Env = append(append(os.Environ(), configEnv+"="), env...)
	p := &process{cmd: cmd, stdout: &lines{}, stderr: &lines{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("stderr:\n%s", strings.Join(p.stderr.lines(), "\n"))
		}
	})
	return p
}

// stop sends the signal and returns how the process exited.
func (p *process) stop(t *testing.T, sig os.Signal) error {
	t.Helper()
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return p.err
	case <-time.After(15 * time.Second):
		t.Fatalf("wsplug did not exit on %v", sig)
		return nil
	}
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
	p := newPeer(t)
	cfg := filepath.Join(t.TempDir(), "wsplug.yaml")
	os.WriteFile(cfg, []byte(runConfig(p.url(), "A")), 0o600)
	w := startRun(t, nil, "-c", cfg, "--admin", "127.0.0.1:0", "--cache-dir", t.TempDir())
	stdin, stdout, stderr := w.stdin, w.stdout, w.stderr

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
	if err := p.send(websocket.MessageText, `{"type":"status","data":{"sid":"s-1"}}`); err != nil {
		t.Fatal(err)
	}
	outRE := regexp.MustCompile(`^\{"api":"Echo","type":"text",` +
		`"data":\{"type":"status","data":\{"sid":"s-1"\}\},"at":"[^"]+"\}$`)
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
	before := metricValues(t, admin+"/metrics")
	if v := before["wsplug_messages_sent_total{api=Echo}"]; v != 2 {
		t.Errorf("wsplug_messages_sent_total: %v", v)
	}
	if v := before["wsplug_plugin_calls_total{plugin=prefix}"]; v < 2 {
		t.Errorf("wsplug_plugin_calls_total: %v", v)
	}
	// The first call of an instance is timed.
	if v := before["wsplug_plugin_call_seconds_count{plugin=prefix}"]; v < 1 {
		t.Errorf("wsplug_plugin_call_seconds_count: %v", v)
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
				w.cmd.Process.Signal(syscall.SIGHUP)
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
	// The new plugin counts from zero; the exported totals go on from the
	// old one's: every message went through one of them.
	after := metricValues(t, admin+"/metrics")
	checkGrown(t, before, after)
	if v := after["wsplug_plugin_calls_total{plugin=prefix}"]; v < n {
		t.Errorf("wsplug_plugin_calls_total %v after %d messages", v, n)
	}

	if err := w.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("exit: %v", err)
	}
	if _, _, closes := p.snapshot(); closes[len(closes)-1] != websocket.StatusNormalClosure {
		t.Errorf("closed with %v", closes)
	}
}

// plainConfig writes a config of one client of the peer, without plugins.
func plainConfig(t *testing.T, url string) string {
	return writeFile(t, fmt.Sprintf("apis:\n  - name: Echo\n    url: http://127.0.0.1\n"+
		"    websocket: {url: %q}\n", url))
}

func connected(t *testing.T, p *peer) {
	t.Helper()
	waitUntil(t, "the connection", func() bool { _, n, _ := p.snapshot(); return n == 1 })
}

// TestRunBinaryFrames: a binary frame from the server comes out on stdout
// as base64, and one given in base64 on stdin reaches the server as
// binary. The config file is wsplug run's argument.
func TestRunBinaryFrames(t *testing.T) {
	p := newPeer(t)
	w := startRun(t, nil, plainConfig(t, p.url()))
	connected(t, p)

	preview := []byte{0, 0, 0, 1, 0xff, 0xd8, 'P', 'N', 'G'}
	if err := p.send(websocket.MessageBinary, string(preview)); err != nil {
		t.Fatal(err)
	}
	binaryRE := regexp.MustCompile(`^\{"api":"Echo","type":"binary",.*\}$`)
	waitUntil(t, "the binary frame on stdout",
		func() bool { return w.stdout.find(binaryRE) != nil })
	var out struct{ Data string }
	if err := json.Unmarshal([]byte(w.stdout.find(binaryRE)[0]), &out); err != nil {
		t.Fatal(err)
	}
	got, err := base64.StdEncoding.DecodeString(out.Data)
	if err != nil || !bytes.Equal(got, preview) {
		t.Errorf("stdout data %q: %v %v", out.Data, got, err)
	}

	upload := []byte{0xde, 0xad, 0xbe, 0xef, 0}
	encoded := base64.StdEncoding.EncodeToString(upload)
	fmt.Fprintf(w.stdin, `{"api":"Echo","binary":%q}`+"\n", encoded)
	waitUntil(t, "the binary frame at the server", func() bool { return len(p.binaries()) == 1 })
	if got := p.binaries()[0]; !bytes.Equal(got, upload) {
		t.Errorf("the server got % x, want % x", got, upload)
	}
	if r, _, _ := p.snapshot(); len(r) != 0 {
		t.Errorf("text frames arrived too: %q", r)
	}
	if err := w.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("exit: %v", err)
	}
}

// TestRunLogFormatJSON: with --log-format json every line on stderr is a
// JSON object of slog's, the closing one included.
func TestRunLogFormatJSON(t *testing.T) {
	p := newPeer(t)
	w := startRun(t, nil, plainConfig(t, p.url()), "--log-format", "json", "--log-level", "debug")
	connected(t, p)
	if err := w.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("exit: %v", err)
	}
	logs := w.stderr.lines()
	closing := false
	for _, line := range logs {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not JSON: %q: %v", line, err)
			continue
		}
		if rec["time"] == nil || rec["level"] == nil || rec["msg"] == nil {
			t.Errorf("not a slog record: %q", line)
		}
		closing = closing || rec["msg"] == "closing" && rec["signal"] == "terminated"
	}
	if !closing {
		t.Errorf("no closing record among %d lines:\n%s", len(logs), strings.Join(logs, "\n"))
	}
}

// TestRunConfigFromEnvironment: without FILE or -c, WSPLUG_CONFIG names the
// config file.
func TestRunConfigFromEnvironment(t *testing.T) {
	p := newPeer(t)
	w := startRun(t, []string{configEnv + "=" + plainConfig(t, p.url())})
	connected(t, p)
	fmt.Fprintln(w.stdin, `{"api":"Echo","data":"hello"}`)
	waitUntil(t, "the message", func() bool { r, _, _ := p.snapshot(); return len(r) == 1 })
	if r, _, _ := p.snapshot(); r[0] != "hello" {
		t.Errorf("the server got %q", r[0])
	}
	if err := w.stop(t, syscall.SIGTERM); err != nil {
		t.Errorf("exit: %v", err)
	}
}

// TestRunSIGINTClosesGracefully: Ctrl-C closes each connection with 1000
// and exits 0.
func TestRunSIGINTClosesGracefully(t *testing.T) {
	p := newPeer(t)
	w := startRun(t, nil, plainConfig(t, p.url()))
	connected(t, p)
	if err := w.stop(t, syscall.SIGINT); err != nil {
		t.Errorf("exit: %v", err)
	}
	waitUntil(t, "the end of the connection",
		func() bool { _, _, c := p.snapshot(); return len(c) > 0 })
	_, _, closes := p.snapshot()
	if len(closes) != 1 || closes[0] != websocket.StatusNormalClosure {
		t.Errorf("the server saw the connection end with %v, want 1000", closes)
	}
	if w.stderr.find(regexp.MustCompile(`msg=closing signal=interrupt`)) == nil {
		t.Errorf("stderr does not say it closes on the interrupt")
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
	code, _, stderr := wsplug(t, "run", "-c", cfg, "--admin", "0.0.0.0:0",
		"--cache-dir", t.TempDir())
	want := "is not a loopback address: give --admin-token too"
	if code != exitUsage || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestAdminPortInUse: an address that cannot be listened on is a problem of
// the input, like a config file that does not load, not of usage.
func TestAdminPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := writeFile(t, "apis:\n  - name: A\n    url: http://h\n")
	code, _, stderr := wsplug(t, "run", cfg, "--admin", ln.Addr().String())
	if code != exitInput || !strings.Contains(stderr, "address already in use") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

func TestAdminToken(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
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
