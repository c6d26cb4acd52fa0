package host

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// idleServerEnv makes the test binary a websocket server that holds every
// connection open (serveIdle): a process of its own, so that ten thousand
// connections take ten thousand descriptors on each side, not twenty
// thousand in one.
const idleServerEnv = "WSPLUG_TEST_IDLE_SERVER"

func serveIdle() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Printf("READY %s\n", ln.Addr())
	go func() {
		io.Copy(io.Discard, os.Stdin) // the parent closes stdin to stop us
		os.Exit(0)
	}()
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for {
			if _, _, err := conn.Reader(r.Context()); err != nil {
				return
			}
		}
	}))
}

// startIdleServer runs the test binary as an idle server and returns its
// websocket URL.
func startIdleServer(t *testing.T) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), idleServerEnv+"=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "READY ")
	if !ok {
		t.Fatalf("idle server said %q", line)
	}
	return "ws://" + addr + "/ws"
}

// TestManyIdleClients connects 10,000 clients to one server, checks that
// every one connects and that an idle connected client holds at most 64 KiB
// of heap and two goroutines, then closes them all.
func TestManyIdleClients(t *testing.T) {
	const n = 10_000
	switch {
	case testing.Short():
		t.Skip("10,000 connections")
	case raceEnabled:
		t.Skip("the race detector allows 8128 goroutines; make test runs this without it")
	}
	url := startIdleServer(t)
	var yaml bytes.Buffer
	yaml.WriteString("apis:\n")
	for i := range n {
		fmt.Fprintf(&yaml, "  - name: c%d\n    url: http://127.0.0.1\n    websocket: {url: %q, retry: 3}\n", i, url)
	}
	path := filepath.Join(t.TempDir(), "wsplug.yaml")
	os.WriteFile(path, yaml.Bytes(), 0o600)
	ctx := context.Background()
	s, err := LoadConfig(ctx, path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	h, err := New(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	goroutines := runtime.NumGoroutine()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := h.Start(sctx); err != nil {
		t.Fatalf("Start: %.500v", err)
	}
	took := time.Since(start)
	for _, c := range h.Clients() {
		if c.State() != StateConnected {
			t.Fatalf("%s is %v", c.Name(), c.State())
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perClient := float64(after.HeapAlloc-before.HeapAlloc) / n
	perG := float64(runtime.NumGoroutine()-goroutines) / n
	t.Logf("%d clients connected in %s; %.1f KiB of heap and %.1f goroutines per idle client",
		n, took.Round(time.Millisecond), perClient/1024, perG)
	if perClient > 64<<10 {
		t.Errorf("%.1f KiB per idle client, more than 64 KiB", perClient/1024)
	}
	if perG > 2.05 {
		t.Errorf("%.2f goroutines per idle client", perG)
	}
	cctx, cancel2 := context.WithTimeout(ctx, time.Minute)
	defer cancel2()
	if err := h.Close(cctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	waitGoroutinesAtMost(t, goroutines+10)
}

// waitGoroutinesAtMost waits until no more than n goroutines run.
func waitGoroutinesAtMost(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines left, expected at most %d", runtime.NumGoroutine(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
