package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsplug/wsplug/host/internal/wstest"
)

// The life of a client's runs and of its sends, against the in-process
// server on coder/websocket.

// TestEnableAfterCloseStaysOff: an Enable that waits for a Disable under
// way must not start the client again once the host has closed meanwhile.
func TestEnableAfterCloseStaysOff(t *testing.T) {
	srv := wstest.New(t, nil)
	h, c, _, err := startObserved(t, comfyConfig(srv.HTTPURL(), srv.URL(), "      retry: -1\n"))
	if err != nil {
		t.Fatal(err)
	}
	id := c.ClientID()
	srv.WaitConnected(t, id, 5*time.Second)
	ctx := context.Background()

	// A muted server holds the message below unread, and the close frame
	// behind it: the Disable waits for the close handshake until Unmute.
	srv.Mute(id)
	if err := c.Send(ctx, `{"type":"held"}`, nil); err != nil {
		t.Fatal(err)
	}
	disabled := make(chan error, 1)
	go func() { disabled <- c.Disable(ctx) }()
	waitFor(t, "the Disable to begin", func() bool { return c.stopping() })
	enabled := make(chan error, 1)
	go func() { enabled <- c.Enable(ctx) }()
	time.Sleep(50 * time.Millisecond) // the Enable waits for the Disable
	closed := make(chan error, 1)
	go func() { closed <- h.Close(ctx) }()
	time.Sleep(50 * time.Millisecond)
	srv.Unmute(id)

	for what, ch := range map[string]chan error{"Disable": disabled, "Close": closed} {
		if err := <-ch; err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	if err := <-enabled; !errors.Is(err, ErrClientOff) {
		t.Errorf("Enable across Close: %v, want ErrClientOff", err)
	}
	time.Sleep(100 * time.Millisecond) // what a run started late would take to dial
	if n := len(srv.Handshakes()); n != 1 || c.State() != StateOff {
		t.Errorf("after Close: %d handshakes, state %v; want 1, off", n, c.State())
	}
	if err := c.Enable(ctx); !errors.Is(err, ErrClientOff) {
		t.Errorf("Enable after Close: %v", err)
	}
}

// stopping says whether a Disable is under way.
func (c *Client) stopping() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.run != nil && c.run.stopping.Load()
}

// TestStatesOfOneRunComeBeforeTheNext: an Enable made while a run is
// ending starts the next run only after the last state of the first is
// out, so an observer sees every change in order (each From is the To
// before it).
func TestStatesOfOneRunComeBeforeTheNext(t *testing.T) {
	srv := wstest.New(t, nil)
	srv.RefuseNext(503, -1)
	var (
		mu      sync.Mutex
		changes []StateChange
	)
	failing := make(chan struct{})
	var once sync.Once
	record := func(ch StateChange) {
		if ch.To == StateFailed {
			once.Do(func() { close(failing) })
			time.Sleep(50 * time.Millisecond) // an observer that takes its time
		}
		mu.Lock()
		changes = append(changes, ch)
		mu.Unlock()
	}
	ready := make(chan *Client, 1)
	second := make(chan error, 1)
	go func() {
		c := <-ready
		<-failing
		second <- c.Enable(context.Background())
	}()
	yaml := comfyConfig(srv.HTTPURL(), srv.URL(), "      retry: 0\n")
	path := filepath.Join(t.TempDir(), "wsplug.yaml")
	os.WriteFile(path, []byte(yaml), 0o600)
	s, err := LoadConfig(context.Background(), path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background())
	h, err := New(s, &Options{OnStateChange: record})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	c := h.Clients()[0]
	ready <- c
	if err := h.Start(context.Background()); err == nil {
		t.Fatal("Start succeeded against a refusing server")
	}
	if err := <-second; err == nil {
		t.Fatal("the second Enable succeeded against a refusing server")
	}
	mu.Lock()
	defer mu.Unlock()
	var seq []string
	for i, ch := range changes {
		seq = append(seq, ch.From.String()+">"+ch.To.String())
		if i > 0 && ch.From != changes[i-1].To {
			t.Errorf("change %d is from %v, but the one before went to %v", i, ch.From,
				changes[i-1].To)
		}
	}
	want := "off>connecting connecting>failed failed>connecting connecting>failed"
	if got := strings.Join(seq, " "); got != want {
		t.Errorf("changes %s, want %s", got, want)
	}
}

// TestSecondEnableWaitsForTheFirst: an Enable while another is still
// dialling gets that attempt's outcome, not an early nil.
func TestSecondEnableWaitsForTheFirst(t *testing.T) {
	srv := wstest.New(t, nil)
	_, c, _, err := startObserved(t, comfyConfig(srv.HTTPURL(), srv.URL(), "      retry: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Disable(ctx); err != nil {
		t.Fatal(err)
	}
	srv.RefuseNext(503, -1)
	srv.DelayHandshakes(300 * time.Millisecond)
	first := make(chan error, 1)
	go func() { first <- c.Enable(ctx) }()
	// The server records a request when it arrives, a handshake when it
	// answers: the first Enable is dialling.
	waitFor(t, "the second handshake to arrive", func() bool { return len(srv.Requests()) == 2 })
	start := time.Now()
	err = c.Enable(ctx)
	var de *DialError
	if !errors.As(err, &de) || de.Status != 503 {
		t.Errorf("the second Enable: %v, want the first's 503", err)
	}
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("the second Enable returned after %s, before the dial ended", took)
	}
	if err1 := <-first; !errors.As(err1, &de) {
		t.Errorf("the first Enable: %v", err1)
	}
	if c.State() != StateFailed {
		t.Errorf("state %v", c.State())
	}
}

// TestCloseFramesAre1000: Disable and the host's Close both end the
// connection with a close frame 1000.
func TestCloseFramesAre1000(t *testing.T) {
	srv := wstest.New(t, nil)
	h, c, _, err := startObserved(t, comfyConfig(srv.HTTPURL(), srv.URL(), ""))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id := c.ClientID()
	srv.WaitConnected(t, id, 5*time.Second)
	if err := c.Disable(ctx); err != nil {
		t.Fatal(err)
	}
	d := srv.WaitDisconnects(t, id, 1, 5*time.Second)
	if d[0].Code != websocket.StatusNormalClosure {
		t.Errorf("Disable closed with %v (%v)", d[0].Code, d[0].Err)
	}
	if err := c.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	srv.WaitConnected(t, id, 5*time.Second)
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	d = srv.WaitDisconnects(t, id, 2, 5*time.Second)
	if d[1].Code != websocket.StatusNormalClosure {
		t.Errorf("Close closed with %v (%v)", d[1].Code, d[1].Err)
	}
}
