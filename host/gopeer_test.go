package host

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsplug/wsplug/host/internal/wstest"
)

// The same scenarios against the in-process server on coder/websocket,
// which can also crash and come back on its port.

func TestComfyUIFlowAgainstGoServer(t *testing.T) {
	srv := wstest.New(t, nil)
	h, c := startHost(t, comfyConfig(srv.HTTPURL(), srv.URL(), ""))
	defer h.Close(context.Background())
	waitFor(t, "session id captured", func() bool { return c.Values().SessionID == c.ClientID() })
	if seen := runPrompt(t, c, "prompt-go"); fmt.Sprint(seen) != fmt.Sprint(wantFlow) {
		t.Errorf("messages %q\nwant     %q", seen, wantFlow)
	}
	hs := srv.Handshakes()
	if got := hs[0].Query.Get("clientId"); got != c.ClientID() {
		t.Errorf("handshake clientId %q, want %q", got, c.ClientID())
	}
}

// TestServerRestartsOnTheSamePort: the server crashes (every connection
// cut, the port closed) while several Sends are in flight, stays down for
// a few attempts, and comes back; the client finds it again, with backoff
// between its attempts, and every Send is written or says why not.
func TestServerRestartsOnTheSamePort(t *testing.T) {
	srv := wstest.New(t, nil)
	_, c, log, err := startObserved(t, comfyConfig(srv.HTTPURL(), srv.URL(), fmt.Sprintf(
		"      retry: -1\n      backoff: {initial: %s, max: %s}\n", faultInitial, faultMax)))
	if err != nil {
		t.Fatal(err)
	}
	id := c.ClientID()
	srv.WaitConnected(t, id, 5*time.Second)
	before := len(log.all())

	const senders = 4
	var sent []<-chan []error
	for g := range senders {
		sent = append(sent, sendThrough(c, g, 20))
	}
	time.Sleep(20 * time.Millisecond)
	srv.Stop()
	waitFor(t, "three failed attempts while the server is down", func() bool {
		for _, ch := range log.all()[before:] {
			if ch.To == StateReconnecting && ch.Attempt >= 4 {
				return true
			}
		}
		return false
	})
	// Each sender's send waits in the queue meanwhile.
	waitFor(t, "the senders to queue", func() bool { return c.Stats().QueueLength == senders })
	srv.Restart()
	waitFor(t, "the reconnect", func() bool {
		all := log.all()
		return all[len(all)-1].To == StateConnected
	})
	var results [][]error
	for _, ch := range sent {
		results = append(results, <-ch)
	}
	flush(t, c)

	// The attempts while down fail before any handshake: their waits are
	// measured between the client's own state changes; the last one's,
	// up to the handshake that the server saw.
	changes := log.all()[before:]
	var states []string
	for _, ch := range changes {
		states = append(states, ch.To.String())
	}
	n := len(changes) - 1
	if n < 4 || strings.Join(states, " ") != strings.Repeat("reconnecting ", n)+"connected" {
		t.Fatalf("states %q", strings.Join(states, " "))
	}
	checkBackoff(t, changes, faultInitial, faultMax)
	hs := srv.Handshakes()
	last := hs[len(hs)-1]
	if len(hs) != 2 || last.ClientID != id || last.Status != 101 {
		t.Errorf("handshakes %+v: want the first and the reconnect", hs)
	}
	for i, ch := range changes[:n] {
		next := last.At
		if i+1 < n {
			next = changes[i+1].At
		}
		gap := next.Sub(ch.At)
		upper := ceilingOf(ch.Attempt, faultInitial, faultMax) + faultSlack
		if gap < ch.Delay || gap > upper {
			t.Errorf("attempt %d came %s after the one before; its backoff was %s, the bound %s",
				ch.Attempt, gap, ch.Delay, upper)
		}
	}
	var seen []string
	for _, m := range srv.Received(id) {
		seen = append(seen, string(m))
	}
	for g, r := range results {
		checkSends(t, r, numbers(seen, g), 2)
	}
	if c.State() != StateConnected {
		t.Errorf("state %v", c.State())
	}
}

// TestFaultsAgainstGoServer injects each fault with the server on
// coder/websocket while messages flow, and checks the recovery as
// TestFaultsAgainstPython does.
func TestFaultsAgainstGoServer(t *testing.T) {
	once := func(reason string) recovery {
		return recovery{states: "reconnecting connected", retries: 1,
			errHas: regexp.MustCompile(reason)}
	}
	tests := []struct {
		name  string
		extra string
		fault func(srv *wstest.Server, id string)
		want  recovery
		deaf  bool // the peer stops reading: what was written after is lost
	}{
		{name: "drop", fault: func(s *wstest.Server, id string) { s.Drop(id) },
			want: once(`EOF|reset by peer|broken pipe`)},
		{name: "reset", fault: func(s *wstest.Server, id string) { s.Reset(id) },
			want: once(`reset by peer|broken pipe`)},
		{name: "close 1011",
			fault: func(s *wstest.Server, id string) {
				s.CloseClient(id, websocket.StatusInternalError, "x")
			},
			want: once(`status = StatusInternalError`)},
		{name: "no pong", extra: "      ping_interval: 50ms\n      pong_timeout: 100ms\n",
			fault: func(s *wstest.Server, id string) { s.Mute(id) },
			want: recovery{states: "reconnecting connected", retries: 1,
				errHas: regexp.MustCompile(`no pong within 100ms`), detect: 150 * time.Millisecond},
			deaf: true},
		{name: "invalid UTF-8", fault: func(s *wstest.Server, id string) { s.SendInvalidUTF8(id) },
			want: once(`not valid UTF-8: closed with 1007`)},
		{name: "oversize", extra: "      max_message_size: 2KiB\n",
			fault: func(s *wstest.Server, id string) { s.SendOversize(id, 10000) },
			want:  once(`read limited at 2049 bytes`)},
		{name: "refused with 401 after a drop", fault: func(s *wstest.Server, id string) {
			s.RefuseNext(401, 1)
			s.Drop(id)
		}, want: recovery{states: "reconnecting reconnecting connected", retries: 2,
			errHas: regexp.MustCompile(`handshake refused with HTTP 401`)}},
		{name: "refused with 503 after a drop", fault: func(s *wstest.Server, id string) {
			s.RefuseNext(503, 2)
			s.Drop(id)
		}, want: recovery{states: "reconnecting reconnecting reconnecting connected", retries: 3,
			errHas: regexp.MustCompile(`handshake refused with HTTP 503`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := wstest.New(t, nil)
			yaml := comfyConfig(srv.HTTPURL(), srv.URL(), tt.extra+faultKeys)
			_, c, log, err := startObserved(t, yaml)
			if err != nil {
				t.Fatal(err)
			}
			id := c.ClientID()
			// The server may register the connection a moment after the
			// client sees it open.
			srv.WaitConnected(t, id, 5*time.Second)
			before, shakes := len(log.all()), len(srv.Handshakes())

			sent := sendThrough(c, 0, 20)
			time.Sleep(20 * time.Millisecond)
			fault := time.Now()
			tt.fault(srv, id)
			waitFor(t, "the reconnect", func() bool {
				all := log.all()
				return len(all) > before+1 && all[len(all)-1].To == StateConnected
			})
			results := <-sent
			flush(t, c)

			var times []time.Time
			for _, hs := range srv.Handshakes()[shakes:] {
				times = append(times, hs.At)
			}
			checkRecovery(t, log.all()[before:], fault, times, tt.want)
			var seen []string
			for _, m := range srv.Received(id) {
				seen = append(seen, string(m))
			}
			lost := 2
			if tt.deaf {
				lost = len(results)
			}
			checkSends(t, results, numbers(seen, 0), lost)
		})
	}
}

// TestQueueFull: with the server down, sends beyond send_queue fail at
// once with ErrQueueFull, and the queued ones all get an answer.
func TestQueueFull(t *testing.T) {
	srv := wstest.New(t, nil)
	h, c, _, err := startObserved(t, comfyConfig(srv.HTTPURL(), srv.URL(),
		"      retry: -1\n      send_queue: 3\n      backoff: {initial: 20ms, max: 50ms}\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	waitFor(t, "the loss", func() bool { return c.State() == StateReconnecting })
	results := make(chan error, 3)
	for i := range 3 {
		go func() { results <- c.Send(context.Background(), fmt.Sprintf(`{"n":%d}`, i), nil) }()
	}
	waitFor(t, "three queued", func() bool { return c.Stats().QueueLength == 3 })
	if err := c.Send(context.Background(), `{"n":3}`, nil); !errors.Is(err, ErrQueueFull) {
		t.Errorf("a fourth send: %v", err)
	}
	h.Close(context.Background())
	for range 3 {
		if err := <-results; !errors.Is(err, ErrClientOff) {
			t.Errorf("a queued send after Close: %v", err)
		}
	}
}

// TestSessionIDMadeOnce: session_id_required with nothing to give the id
// makes one, once, and resumes with it on every reconnect.
func TestSessionIDMadeOnce(t *testing.T) {
	srv := wstest.New(t, nil)
	_, c, _, err := startObserved(t, fmt.Sprintf(`apis:
  - name: S
    url: %s
    websocket: {url: %q, session_id_required: true, backoff: {initial: 10ms, max: 20ms}}
`, srv.HTTPURL(), srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	sid := c.Values().SessionID
	if len(sid) != 36 {
		t.Fatalf("session id %q", sid)
	}
	srv.WaitHandshakes(t, 1, 5*time.Second)
	waitFor(t, "the server to see the connection", func() bool { return len(srv.Clients()) == 1 })
	srv.Drop(srv.Clients()[0])
	hs := srv.WaitHandshakes(t, 2, 5*time.Second)
	for _, h := range hs {
		if h.Query.Get("session_id") != sid {
			t.Errorf("handshake session_id %q, want %q", h.Query.Get("session_id"), sid)
		}
	}
}

// TestDialDetails: subprotocols are offered, headers and per-call values
// resolve, and a server that accepts TCP but never answers the handshake
// costs one dial_timeout per attempt.
func TestDialDetails(t *testing.T) {
	srv := wstest.New(t, nil)
	_, c, _, err := startObserved(t, fmt.Sprintf(`apis:
  - name: D
    url: %s
    websocket:
      url: %q
      subprotocols: [comfy.v1, json]
      headers: {X-Client: "{client_id}"}
      client_id: fixed-id
`, srv.HTTPURL(), srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.WaitHandshakes(t, 1, 5*time.Second)[0]
	if got := hs.Header.Get("Sec-WebSocket-Protocol"); got != "comfy.v1,json" {
		t.Errorf("subprotocols offered: %q", got)
	}
	if got := hs.Header.Get("X-Client"); got != "fixed-id" || c.ClientID() != "fixed-id" {
		t.Errorf("a client_id set in the config must win: header %q, id %q", got, c.ClientID())
	}
	ctx := context.Background()
	if err := c.Send(ctx, map[string]any{"seed": "{seed}", "who": "{client_id}"}, Vars{"seed": 42}); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitReceived(t, hs.ClientID, 1, 5*time.Second)
	if string(got[0]) != `{"seed":42,"who":"fixed-id"}` {
		t.Errorf("sent %s", got[0])
	}

	// A listener that never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			defer conn.Close()
		}
	}()
	start := time.Now()
	_, _, _, err = startObserved(t, fmt.Sprintf(`apis:
  - name: Silent
    url: http://%s
    websocket: {dial_timeout: 200ms, retry: 1, backoff: {initial: 10ms, max: 10ms}}
`, ln.Addr()))
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrRetriesExhausted) {
		t.Errorf("Start: %v", err)
	}
	if took < 400*time.Millisecond || took > 3*time.Second {
		t.Errorf("two attempts of 200ms took %s", took)
	}
}

// TestSendHonoursItsContext: a send whose context ends while it waits in
// the queue is withdrawn, and never written later.
func TestSendHonoursItsContext(t *testing.T) {
	srv := wstest.New(t, nil)
	_, c, _, err := startObserved(t, comfyConfig(srv.HTTPURL(), srv.URL(),
		"      retry: -1\n      backoff: {initial: 10ms, max: 30ms}\n"))
	if err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	waitFor(t, "the loss", func() bool { return c.State() == StateReconnecting })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := c.Send(ctx, `{"type":"withdrawn"}`, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send: %v", err)
	}
	srv.Restart()
	if err := c.Send(context.Background(), `{"type":"after"}`, nil); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitReceived(t, c.ClientID(), 1, 5*time.Second)
	for _, m := range got {
		if strings.Contains(string(m), "withdrawn") {
			t.Errorf("a withdrawn send was written: %s", m)
		}
	}
}

// TestRuntimeOverrides: session id, channel and version set at run time go
// on the next reconnect, and plugins see them too.
func TestRuntimeOverrides(t *testing.T) {
	srv := wstest.New(t, nil)
	_, c, _, err := startObserved(t, fmt.Sprintf(`apis:
  - name: O
    url: %s
    websocket:
      url: %q
      session_id_required: true
      session_id: s0
      channel_required: true
      channel: c0
      version_required: true
      version_name: v
      version: 1
      backoff: {initial: 10ms, max: 20ms}
`, srv.HTTPURL(), srv.URL()))
	if err != nil {
		t.Fatal(err)
	}
	c.SetSessionID("s1")
	c.SetChannel("c1")
	c.SetVersion("2")
	if v := c.Values(); v.SessionID != "s1" || v.Channel != "c1" || v.Version != "2" {
		t.Errorf("values %+v", v)
	}
	id := srv.WaitHandshakes(t, 1, 5*time.Second)[0].ClientID
	srv.WaitConnected(t, id, 5*time.Second)
	srv.Drop(id)
	hs := srv.WaitHandshakes(t, 2, 5*time.Second)
	if q := hs[0].Query.Encode(); q != "channel=c0&session_id=s0&v=1" {
		t.Errorf("first handshake %s", q)
	}
	if q := hs[1].Query.Encode(); q != "channel=c1&session_id=s1&v=2" {
		t.Errorf("reconnect %s", q)
	}
}
