package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// TestSendReturnsWhenItsContextEnds: against a server that stops reading
// and a client without pings, a Send whose frame cannot be written returns
// when its context ends, with an error; the connection, which holds a
// partial frame, is closed and made again.
func TestSendReturnsWhenItsContextEnds(t *testing.T) {
	srv := wstest.New(t, nil)
	_, c, log, err := startObserved(t, comfyConfig(srv.HTTPURL(), srv.URL(),
		"      ping_interval: 0\n      retry: -1\n"))
	if err != nil {
		t.Fatal(err)
	}
	id := c.ClientID()
	srv.WaitConnected(t, id, 5*time.Second)
	srv.Mute(id)
	before := len(log.all())
	big := `{"type":"big","pad":"` + strings.Repeat("x", 1<<20) + `"}`
	var failed error
	written := 0
	for i := 0; i < 100 && failed == nil; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		done := make(chan error, 1)
		go func() { done <- c.Send(ctx, big, nil) }()
		select {
		case failed = <-done:
		case <-time.After(3 * time.Second):
			t.Fatalf("send %d: still blocked %s after its 300ms context", i, time.Since(start))
		}
		cancel()
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Errorf("send %d took %s with a 300ms context", i, took)
		}
		if failed == nil {
			written++
		}
	}
	if failed == nil {
		t.Fatalf("100 MiB written to a server that reads nothing")
	}
	if !errors.Is(failed, ErrConnectionLost) || !errors.Is(failed, context.DeadlineExceeded) {
		t.Errorf("the blocked send: %v; want ErrConnectionLost and the deadline", failed)
	}
	waitFor(t, "the reconnect", func() bool {
		all := log.all()
		return len(all) > before+1 && all[len(all)-1].To == StateConnected
	})
	if got := log.all()[before].To; got != StateReconnecting {
		t.Errorf("after the cut write: %v", got)
	}
	if err := c.Send(context.Background(), `{"type":"after"}`, nil); err != nil {
		t.Errorf("send on the new connection: %v", err)
	}
	t.Logf("%d frames of 1 MiB written before the socket filled", written)
}

// TestWithdrawnSendsFreeTheirPlace: with send_queue 3 and the server down,
// sends that gave up leave the queue at once: three more fit, and only
// they are written when the server is back.
func TestWithdrawnSendsFreeTheirPlace(t *testing.T) {
	srv := wstest.New(t, nil)
	_, c, _, err := startObserved(t, comfyConfig(srv.HTTPURL(), srv.URL(),
		"      retry: -1\n      send_queue: 3\n      backoff: {initial: 20ms, max: 50ms}\n"))
	if err != nil {
		t.Fatal(err)
	}
	id := c.ClientID()
	srv.WaitConnected(t, id, 5*time.Second)
	srv.Stop()
	waitFor(t, "the loss", func() bool { return c.State() == StateReconnecting })
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		err := c.Send(ctx, fmt.Sprintf(`{"withdrawn":%d}`, i), nil)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if n := c.Stats().QueueLength; n != 0 {
		t.Errorf("queue length %d after three withdrawn sends", n)
	}
	results := make(chan error, 3)
	for i := range 3 {
		go func() { results <- c.Send(context.Background(), fmt.Sprintf(`{"kept":%d}`, i), nil) }()
	}
	waitFor(t, "three queued", func() bool { return c.Stats().QueueLength == 3 })
	if err := c.Send(context.Background(), `{"kept":3}`, nil); !errors.Is(err, ErrQueueFull) {
		t.Errorf("a fourth send: %v", err)
	}
	srv.Restart()
	for range 3 {
		if err := <-results; err != nil {
			t.Errorf("a queued send: %v", err)
		}
	}
	got := srv.WaitReceived(t, id, 3, 5*time.Second)
	for _, m := range got {
		if strings.Contains(string(m), "withdrawn") || strings.Contains(string(m), `"kept":3`) {
			t.Errorf("the server got %s", m)
		}
	}
}

// TestQueueWaitsForTheNextConnection: once the connection's context has
// ended, the writer takes nothing more, even with messages waiting: they
// wait for the next connection instead of failing on a dead one.
func TestQueueWaitsForTheNextConnection(t *testing.T) {
	var q sendQueue
	q.init(4)
	q.open()
	q.setConnected(true)
	for i := range 3 {
		r := &sendReq{ctx: context.Background(), data: []byte{byte(i)}, done: make(chan error, 1)}
		if err := q.push(r); err != nil {
			t.Fatal(err)
		}
	}
	dead, cancel := context.WithCancel(context.Background())
	cancel()
	for range 100 { // the choice between a ready item and a done context was random
		if r, ok := q.next(dead); ok {
			t.Fatalf("a dead connection took message %v", r.data)
		}
	}
	if q.len() != 3 {
		t.Errorf("%d messages wait, want 3", q.len())
	}
	r, ok := q.next(context.Background())
	if !ok || r.data[0] != 0 {
		t.Errorf("the next connection's first message: %v %v", r, ok)
	}
}

// TestCallBeforeStart: a Call before the websocket connects resolves the
// client's values, so the client id it sends is the one the websocket then
// connects with, and the config's token is there too.
func TestCallBeforeStart(t *testing.T) {
	srv := wstest.New(t, nil)
	yaml := comfyConfig(srv.HTTPURL(), srv.URL(),
		"      token_required: true\n      auth_token: tok-1\n")
	path := filepath.Join(t.TempDir(), "wsplug.yaml")
	os.WriteFile(path, []byte(yaml), 0o600)
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
	defer h.Close(ctx)
	c := h.Clients()[0]
	if _, err := c.Call(ctx, "Queue prompt", map[string]any{
		"prompt": map[string]any{}, "client_id": "{client_id}", "token": "{token}",
	}, nil); err != nil {
		t.Fatal(err)
	}
	body := lastPrompt(t, srv)
	if len(body.ClientID) != 36 || body.ClientID != c.ClientID() || body.Token != "tok-1" {
		t.Errorf("the call sent client_id %q token %q; the client's id is %q",
			body.ClientID, body.Token, c.ClientID())
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if got := srv.WaitHandshakes(t, 1, 5*time.Second)[0].ClientID; got != body.ClientID {
		t.Errorf("the websocket connected as %q, the call said %q", got, body.ClientID)
	}
}

// TestCallWithoutWebsocket: an API with only endpoints still has a client
// id, made once, for {client_id}.
func TestCallWithoutWebsocket(t *testing.T) {
	srv := wstest.New(t, nil)
	yaml := fmt.Sprintf(`apis:
  - name: Plain
    url: %s
    endpoints:
      - {name: Queue prompt, path: /prompt, method: POST, payload_type: json}
`, srv.HTTPURL())
	_, c, err := runHost(t, yaml, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var ids []string
	for range 2 {
		if _, err := c.Call(ctx, "Queue prompt", map[string]any{
			"prompt": map[string]any{}, "client_id": "{client_id}",
		}, nil); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, lastPrompt(t, srv).ClientID)
	}
	if len(ids[0]) != 36 || ids[1] != ids[0] || c.ClientID() != ids[0] {
		t.Errorf("client ids sent %q, the client's %q", ids, c.ClientID())
	}
}

type promptBody struct {
	ClientID string `json:"client_id"`
	Token    string `json:"token"`
}

// lastPrompt decodes the last POST /prompt the server got.
func lastPrompt(t *testing.T, srv *wstest.Server) promptBody {
	t.Helper()
	var body promptBody
	reqs := srv.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == "/prompt" {
			if err := json.Unmarshal(reqs[i].Body, &body); err != nil {
				t.Fatal(err)
			}
			return body
		}
	}
	t.Fatal("no POST /prompt")
	return body
}
