package main

import (
	"context"
	"fmt"
	"io"
	"net"
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
)

// The signal loop and the reload path of wsplug run, driven through the
// built binary.

// greeter is a websocket server that greets each connection as ComfyUI
// does, {"type":"status","data":{"sid":CLIENT_ID}}, records what arrives,
// and refuses handshakes while refuse is set.
type greeter struct {
	srv *httptest.Server

	mu         sync.Mutex
	received   []string
	handshakes []string // the clientId of each accepted connection
	refuse     bool
}

func newGreeter(t *testing.T) *greeter {
	g := &greeter{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		refuse := g.refuse
		g.mu.Unlock()
		if refuse {
			http.Error(w, "refused", http.StatusServiceUnavailable)
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		id := r.URL.Query().Get("clientId")
		g.mu.Lock()
		g.handshakes = append(g.handshakes, id)
		g.mu.Unlock()
		ctx := context.Background()
		greeting := fmt.Sprintf(`{"type":"status","data":{"sid":%q}}`, id)
		if conn.Write(ctx, websocket.MessageText, []byte(greeting)) != nil {
			return
		}
		for {
			_, data, err := conn.Read(ctx)
			if err != nil {
				return
			}
			g.mu.Lock()
			g.received = append(g.received, string(data))
			g.mu.Unlock()
		}
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *greeter) url() string { return "ws" + strings.TrimPrefix(g.srv.URL, "http") + "/ws" }

func (g *greeter) got() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.received...)
}

func (g *greeter) setRefuse(on bool) {
	g.mu.Lock()
	g.refuse = on
	g.mu.Unlock()
}

// wsplugRun is a running `wsplug run`.
type wsplugRun struct {
	t              *testing.T
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr *lines
	exited         chan error
}

// runForSignals starts the binary on a config file.
func runForSignals(t *testing.T, cfg string, args ...string) *wsplugRun {
	t.Helper()
	bin, err := binary()
	if err != nil {
		t.Fatal(err)
	}
	args = append([]string{"run", "-c", cfg, "--cache-dir", t.TempDir()}, args...)
	cmd := exec.Command(bin, args...)
	stdin, _ := cmd.StdinPipe()
	stdout, stderr := &lines{}, &lines{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &wsplugRun{t: t, cmd: cmd, stdin: stdin, exited: make(chan error, 1),
		stdout: stdout, stderr: stderr}
	go func() { w.exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		if t.Failed() {
			t.Logf("stderr:\n%s", strings.Join(w.stderr.lines(), "\n"))
		}
	})
	return w
}

func (w *wsplugRun) signal(sig os.Signal) {
	w.t.Helper()
	if err := w.cmd.Process.Signal(sig); err != nil {
		w.t.Fatalf("signal %v: %v", sig, err)
	}
}

// alive fails the test if the process has exited.
func (w *wsplugRun) alive(what string) {
	w.t.Helper()
	select {
	case err := <-w.exited:
		w.exited <- err
		w.t.Fatalf("%s: wsplug exited: %v", what, err)
	default:
	}
}

// exit waits at most d for the process to exit, and wants exit status 0.
func (w *wsplugRun) exit(d time.Duration) {
	w.t.Helper()
	select {
	case err := <-w.exited:
		if err != nil {
			w.t.Errorf("exit: %v", err)
		}
	case <-time.After(d):
		w.t.Fatalf("wsplug did not exit within %s", d)
	}
}

// count counts the lines of l that match re.
func (l *lines) count(re *regexp.Regexp) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.all {
		if re.MatchString(s) {
			n++
		}
	}
	return n
}

// echoConfig is an API through the prefix plugin, whose config is prefix,
// loaded from pluginPath, plus the APIs of extra.
func echoConfig(url, clientID, prefix, pluginPath, extra string) string {
	return fmt.Sprintf(`apis:
  - name: Echo
    url: http://127.0.0.1
    websocket:
      url: %q
      client_id: %s
      client_id_required: true
      transforms: {outgoing: [prefix]}
%splugins:
  - name: prefix
    path: %s
    config: %q
`, url, clientID, extra, pluginPath, prefix)
}

// deadAPI is an API whose server is not there, retried without end.
func deadAPI(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return fmt.Sprintf(`  - name: Down
    url: http://%s
    websocket: {retry: -1, backoff: {initial: 20ms, max: 100ms}}
`, addr)
}

func prefixWasm() string { return filepath.Join(mustAbs("testdata"), "prefix.wasm") }

// TestReloadDoesNotHoldUpSignals: a SIGHUP that adds an API whose server
// is down (retrying without end) is done at once, the new client tries in
// the background, messages keep flowing, and SIGTERM still closes
// everything.
func TestReloadDoesNotHoldUpSignals(t *testing.T) {
	g := newGreeter(t)
	cfg := filepath.Join(t.TempDir(), "wsplug.yaml")
	os.WriteFile(cfg, []byte(echoConfig(g.url(), "cli", "A", prefixWasm(), "")), 0o600)
	w := runForSignals(t, cfg, "--admin", "127.0.0.1:0")
	adminRE := regexp.MustCompile(`admin API listening" addr=(\S+)`)
	waitUntil(t, "the admin API", func() bool { return w.stderr.find(adminRE) != nil })
	admin := "http://" + w.stderr.find(adminRE)[1]
	greeting := regexp.MustCompile(`"type":"status","data":\{"sid":"cli"\}`)
	waitUntil(t, "the greeting", func() bool { return w.stdout.find(greeting) != nil })

	os.WriteFile(cfg, []byte(echoConfig(g.url(), "cli", "B", prefixWasm(), deadAPI(t))), 0o600)
	w.signal(syscall.SIGHUP)
	waitUntil(t, "the new client to retry", func() bool {
		var clients struct {
			Clients []struct{ Name, State string }
		}
		getJSON(t, admin+"/clients", &clients)
		for _, c := range clients.Clients {
			if c.Name == "Down" && c.State == "reconnecting" {
				return true
			}
		}
		return false
	})
	fmt.Fprintln(w.stdin, `{"api":"Echo","data":{"n":1}}`)
	waitUntil(t, "the message", func() bool { return len(g.got()) == 1 })
	if got := g.got()[0]; got != `"B"{"n":1}` {
		t.Errorf("the server got %q", got)
	}
	w.signal(syscall.SIGTERM)
	w.exit(5 * time.Second)
}

// fifo makes a named pipe to stand for a plugin file: loading the config
// blocks on it until feed writes the plugin into it.
func fifo(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "prefix.wasm")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// feed writes the prefix plugin into the pipe, once wsplug opens it.
func feed(t *testing.T, path string) {
	t.Helper()
	f := opened(t, path)
	data, err := os.ReadFile(prefixWasm())
	if err != nil {
		t.Fatal(err)
	}
	f.Write(data)
	f.Close()
}

// opened waits until wsplug has the pipe open, which means it is loading,
// and returns the pipe's end for writing.
func opened(t *testing.T, path string) *os.File {
	t.Helper()
	type result struct {
		f   *os.File
		err error
	}
	ch := make(chan result, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0) // blocks until a reader opens
		ch <- result{f, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatal(r.err)
		}
		return r.f
	case <-time.After(15 * time.Second):
		// Open it for reading ourselves, so that the open above returns.
		if r, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			defer r.Close()
			if w := <-ch; w.f != nil {
				w.f.Close()
			}
		}
		t.Fatal("wsplug did not open the plugin")
		return nil
	}
}

// TestSignalsWhileLoading: a SIGHUP that comes while the config loads does
// not kill the process; it is kept, and reloads once the clients run.
func TestSignalsWhileLoading(t *testing.T) {
	g := newGreeter(t)
	pipe := fifo(t)
	cfg := filepath.Join(t.TempDir(), "wsplug.yaml")
	os.WriteFile(cfg, []byte(echoConfig(g.url(), "cli", "A", pipe, "")), 0o600)
	w := runForSignals(t, cfg)
	f := opened(t, pipe) // wsplug is loading the plugin now
	w.signal(syscall.SIGHUP)
	time.Sleep(100 * time.Millisecond)
	w.alive("a SIGHUP while loading")
	// The SIGHUP is kept: once the clients run, it reloads this config.
	os.WriteFile(cfg, []byte(echoConfig(g.url(), "cli", "B", pipe, "")), 0o600)
	data, _ := os.ReadFile(prefixWasm())
	f.Write(data)
	f.Close()
	waitUntil(t, "the greeting", func() bool {
		return w.stdout.find(regexp.MustCompile(`"sid":"cli"`)) != nil
	})
	feed(t, pipe)
	waitUntil(t, "the reload", func() bool {
		return w.stderr.find(regexp.MustCompile(`config reloaded`)) != nil
	})
	fmt.Fprintln(w.stdin, `{"api":"Echo","data":{"n":1}}`)
	waitUntil(t, "the message", func() bool { return len(g.got()) == 1 })
	if got := g.got()[0]; got != `"B"{"n":1}` {
		t.Errorf("the server got %q", got)
	}
	w.alive("after the reload")
	w.signal(syscall.SIGTERM)
	w.exit(5 * time.Second)
}

// TestSignalsDuringAReload: SIGHUPs during a reload make one more reload
// after it, which reads the config as it is by then; SIGTERM during a
// reload closes at once.
func TestSignalsDuringAReload(t *testing.T) {
	g := newGreeter(t)
	pipe := fifo(t)
	cfg := filepath.Join(t.TempDir(), "wsplug.yaml")
	os.WriteFile(cfg, []byte(echoConfig(g.url(), "cli", "A", prefixWasm(), "")), 0o600)
	w := runForSignals(t, cfg)
	waitUntil(t, "the greeting", func() bool {
		return w.stdout.find(regexp.MustCompile(`"sid":"cli"`)) != nil
	})

	// The reload blocks on the pipe; two more SIGHUPs come meanwhile.
	os.WriteFile(cfg, []byte(echoConfig(g.url(), "cli", "B", pipe, "")), 0o600)
	w.signal(syscall.SIGHUP)
	f := opened(t, pipe)
	os.WriteFile(cfg, []byte(echoConfig(g.url(), "cli", "C", prefixWasm(), "")), 0o600)
	w.signal(syscall.SIGHUP)
	w.signal(syscall.SIGHUP)
	time.Sleep(100 * time.Millisecond)
	w.alive("SIGHUPs during a reload")
	data, _ := os.ReadFile(prefixWasm())
	f.Write(data)
	f.Close()
	reloaded := regexp.MustCompile(`config reloaded`)
	waitUntil(t, "two reloads", func() bool { return w.stderr.count(reloaded) == 2 })
	fmt.Fprintln(w.stdin, `{"api":"Echo","data":{"n":1}}`)
	waitUntil(t, "the message", func() bool { return len(g.got()) == 1 })
	if got := g.got()[0]; got != `"C"{"n":1}` {
		t.Errorf("the server got %q; want it through the last config's plugin", got)
	}
	time.Sleep(100 * time.Millisecond)
	if n := w.stderr.count(reloaded); n != 2 {
		t.Errorf("%d reloads, want 2: the SIGHUPs during one make one more", n)
	}

	// SIGTERM while a reload waits on the pipe.
	os.WriteFile(cfg, []byte(echoConfig(g.url(), "cli", "D", pipe, "")), 0o600)
	w.signal(syscall.SIGHUP)
	f = opened(t, pipe)
	defer f.Close()
	start := time.Now()
	w.signal(syscall.SIGTERM)
	w.exit(5 * time.Second)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("SIGTERM during a reload took %s", took)
	}
}

// TestInterruptWhileStarting: SIGINT while the clients are still trying
// to connect (the startup wait is long) closes at once.
func TestInterruptWhileStarting(t *testing.T) {
	g := newGreeter(t)
	g.setRefuse(true)
	cfg := filepath.Join(t.TempDir(), "wsplug.yaml")
	os.WriteFile(cfg, []byte(echoConfig(g.url(), "cli", "A", prefixWasm(), deadAPI(t))), 0o600)
	w := runForSignals(t, cfg, "--startup-wait", "1m")
	waitUntil(t, "the clients to try", func() bool {
		return w.stderr.find(regexp.MustCompile(`client reconnecting.*api=Down`)) != nil
	})
	start := time.Now()
	w.signal(syscall.SIGINT)
	w.exit(5 * time.Second)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("SIGINT while starting took %s", took)
	}
}

// TestGreetingAfterEveryReload: after each of ten SIGHUPs that change the
// API (its client id), the new connection's first message, the server's
// greeting, is on stdout.
func TestGreetingAfterEveryReload(t *testing.T) {
	g := newGreeter(t)
	cfg := filepath.Join(t.TempDir(), "wsplug.yaml")
	write := func(i int) {
		id := fmt.Sprintf("cli-%d", i)
		os.WriteFile(cfg, []byte(echoConfig(g.url(), id, "A", prefixWasm(), "")), 0o600)
	}
	write(0)
	w := runForSignals(t, cfg)
	for i := 0; i <= 10; i++ {
		if i > 0 {
			write(i)
			w.signal(syscall.SIGHUP)
		}
		re := regexp.MustCompile(fmt.Sprintf(`^\{"api":"Echo","type":"text",`+
			`"data":\{"type":"status","data":\{"sid":"cli-%d"\}\}`, i))
		waitUntil(t, fmt.Sprintf("the greeting of connection %d", i), func() bool {
			return w.stdout.find(re) != nil
		})
	}
	w.signal(syscall.SIGTERM)
	w.exit(5 * time.Second)
}

// TestReloadWithANewClientThatCannotConnect: a reload that adds an API
// whose server refuses it stands: the kept API's messages go through the
// new plugin, none fails with "plugin closed".
func TestReloadWithANewClientThatCannotConnect(t *testing.T) {
	g, refusing := newGreeter(t), newGreeter(t)
	refusing.setRefuse(true)
	cfg := filepath.Join(t.TempDir(), "wsplug.yaml")
	os.WriteFile(cfg, []byte(echoConfig(g.url(), "cli", "A", prefixWasm(), "")), 0o600)
	w := runForSignals(t, cfg)
	waitUntil(t, "the greeting", func() bool {
		return w.stdout.find(regexp.MustCompile(`"sid":"cli"`)) != nil
	})
	extra := fmt.Sprintf(`  - name: Refused
    url: http://127.0.0.1
    websocket: {url: %q, retry: 0}
`, refusing.url())
	os.WriteFile(cfg, []byte(echoConfig(g.url(), "cli", "B", prefixWasm(), extra)), 0o600)
	w.signal(syscall.SIGHUP)
	waitUntil(t, "the new client to fail", func() bool {
		return w.stderr.find(regexp.MustCompile(`client failed.*api=Refused`)) != nil
	})
	for i := range 5 {
		fmt.Fprintf(w.stdin, `{"api":"Echo","data":{"n":%d}}`+"\n", i)
	}
	waitUntil(t, "the messages", func() bool { return len(g.got()) == 5 })
	for i, m := range g.got() {
		if m != fmt.Sprintf(`"B"{"n":%d}`, i) {
			t.Errorf("message %d: %q", i, m)
		}
	}
	if w.stderr.find(regexp.MustCompile(`not sent|plugin closed`)) != nil {
		t.Error("a message failed after the reload")
	}
	w.signal(syscall.SIGTERM)
	w.exit(5 * time.Second)
}

// TestReloadKeepsUnchangedPlugins: a SIGHUP loads again only the plugin
// whose config changed; the other is kept as it is, and messages go
// through the new one.
func TestReloadKeepsUnchangedPlugins(t *testing.T) {
	g := newGreeter(t)
	healthy := filepath.Join(mustAbs(filepath.Join("..", "..", "host", "testdata", "hostile")),
		"healthy.wasm")
	cfg := filepath.Join(t.TempDir(), "wsplug.yaml")
	write := func(prefix string) {
		yaml := echoConfig(g.url(), "cli", prefix, prefixWasm(), "") +
			"  - name: healthy\n    path: " + healthy + "\n"
		os.WriteFile(cfg, []byte(yaml), 0o600)
	}
	write("A")
	w := runForSignals(t, cfg)
	waitUntil(t, "the greeting", func() bool {
		return w.stdout.find(regexp.MustCompile(`"sid":"cli"`)) != nil
	})
	write("B")
	w.signal(syscall.SIGHUP)
	reloaded := regexp.MustCompile(`config reloaded.* plugins_kept=\[(.*)\] plugins_loaded=\[(.*)\]`)
	waitUntil(t, "the reload", func() bool { return w.stderr.find(reloaded) != nil })
	if m := w.stderr.find(reloaded); m[1] != "healthy" || m[2] != "prefix" {
		t.Errorf("kept [%s], loaded [%s]; want kept [healthy], loaded [prefix]", m[1], m[2])
	}
	fmt.Fprintln(w.stdin, `{"api":"Echo","data":{"n":1}}`)
	waitUntil(t, "the message", func() bool { return len(g.got()) == 1 })
	if got := g.got()[0]; got != `"B"{"n":1}` {
		t.Errorf("the server got %q", got)
	}
	w.signal(syscall.SIGTERM)
	w.exit(5 * time.Second)
}
