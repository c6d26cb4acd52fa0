package host

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pyServer is testdata/comfyserver/server.py, a ComfyUI-like peer written
// on Python's websockets: an implementation independent of the Go stack.
type pyServer struct {
	t                *testing.T
	cmd              *exec.Cmd
	wsPort, httpPort int
}

var readyLine = regexp.MustCompile(`^READY ws=(\d+) http=(\d+)$`)

// startPython starts the server on the given ports (0: any free one). It
// skips the test when Debian's python3-websockets is missing, unless
// WSPLUG_REQUIRE_TOOLS is set.
func startPython(t *testing.T, wsPort, httpPort int) *pyServer {
	t.Helper()
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import websockets").Run(); err != nil {
		if os.Getenv("WSPLUG_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s with websockets is needed (Debian: python3-websockets): %v", python, err)
		}
		t.Skipf("%s with websockets is not installed", python)
	}
	cmd := exec.Command(python, "testdata/comfyserver/server.py",
		"--ws-port", fmt.Sprint(wsPort), "--http-port", fmt.Sprint(httpPort))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &pyServer{t: t, cmd: cmd}
	t.Cleanup(p.stop)
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		ready <- strings.TrimSpace(line)
		io.Copy(io.Discard, out)
	}()
	select {
	case line := <-ready:
		m := readyLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("server.py said %q, not READY", line)
		}
		fmt.Sscan(m[1], &p.wsPort)
		fmt.Sscan(m[2], &p.httpPort)
	case <-time.After(15 * time.Second):
		t.Fatal("server.py did not get ready")
	}
	return p
}

func (p *pyServer) wsURL() string   { return fmt.Sprintf("ws://127.0.0.1:%d/ws", p.wsPort) }
func (p *pyServer) httpURL() string { return fmt.Sprintf("http://127.0.0.1:%d", p.httpPort) }

// stop ends the server (SIGTERM) and waits for it.
func (p *pyServer) stop() {
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// control calls the control API and decodes its JSON answer.
func (p *pyServer) control(method, pathAndQuery, body string) map[string]any {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.httpURL()+"/control/"+pathAndQuery, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("control %s: %v", pathAndQuery, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != 200 {
		p.t.Fatalf("control %s: HTTP %d, %v %v", pathAndQuery, resp.StatusCode, out, err)
	}
	return out
}

// received waits for at least n messages from the client id and returns
// them all.
func (p *pyServer) received(clientID string, n int) []string {
	p.t.Helper()
	out := p.control("GET", fmt.Sprintf("received?client=%s&min=%d&timeout_ms=10000", clientID, n), "")
	var msgs []string
	for _, m := range out["messages"].([]any) {
		msgs = append(msgs, m.(string))
	}
	if len(msgs) < n {
		p.t.Fatalf("server received %d messages from %s, want %d: %q", len(msgs), clientID, n, msgs)
	}
	return msgs
}

// handshakes returns the handshakes the server saw.
func (p *pyServer) handshakes() []map[string]any {
	var out []map[string]any
	for _, h := range p.control("GET", "handshakes", "")["handshakes"].([]any) {
		out = append(out, h.(map[string]any))
	}
	return out
}
