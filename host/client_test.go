package host

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsplug/wsplug/config"
)

// runHost loads a config (into reg, nil for a new registry), makes a host
// with opts and starts it, returning Start's error and the first client;
// the test's cleanup closes everything.
func runHost(tb testing.TB, yaml string, reg *Registry, opts *Options) (*Host, *Client, error) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "wsplug.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		tb.Fatal(err)
	}
	ctx := context.Background()
	s, err := LoadConfig(ctx, path, reg, &LoaderOptions{CacheDir: testCacheDir})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close(ctx) })
	h, err := New(s, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close(ctx) })
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	return h, h.Clients()[0], h.Start(sctx)
}

// startHost is runHost for a test that needs the host started.
func startHost(tb testing.TB, yaml string) (*Host, *Client) {
	tb.Helper()
	h, c, err := runHost(tb, yaml, nil, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return h, c
}

func TestToggleWhileSending(t *testing.T) {
	py := startPython(t, 0, 0)
	h, c, err := runHost(t, comfyConfig(py.httpURL(), py.wsURL(), ""), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var written, off, other atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			err := c.Send(ctx, fmt.Sprintf(`{"n":%d}`, i), nil)
			switch {
			case err == nil:
				written.Add(1)
			case errors.Is(err, ErrClientOff), errors.Is(err, ErrConnectionLost):
				off.Add(1)
			default:
				other.Add(1)
				t.Errorf("send: %v", err)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	id := c.ClientID()
	for range 3 {
		time.Sleep(30 * time.Millisecond)
		if err := c.Disable(ctx); err != nil {
			t.Fatal(err)
		}
		if s := c.State(); s != StateOff {
			t.Fatalf("after Disable: %v", s)
		}
		time.Sleep(20 * time.Millisecond)
		if err := c.Enable(ctx); err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	wg.Wait()
	if written.Load() == 0 || off.Load() == 0 {
		t.Errorf("written %d, refused while off %d: the toggles did not happen under load", written.Load(), off.Load())
	}
	if c.ClientID() != id {
		t.Error("the client id changed across toggles")
	}
	// Each Disable closed the connection with 1000; the server saw four
	// handshakes with the same client id.
	hs := py.handshakes()
	if len(hs) != 4 {
		t.Errorf("%d handshakes, want 4", len(hs))
	}
	for _, hsk := range hs {
		if hsk["query"] != "clientId="+id {
			t.Errorf("handshake query %v", hsk["query"])
		}
	}
	h.Close(ctx)
}

// TestEnableResolvesAgain: a token set at run time, and the environment as
// it is now, are what the next Enable dials with.
func TestEnableResolvesAgain(t *testing.T) {
	py := startPython(t, 0, 0)
	t.Setenv("WSPLUG_TEST_CHANNEL", "first")
	_, c, err := runHost(t, comfyConfig(py.httpURL(), py.wsURL(),
		"      token_required: true\n      auth_token: from-config\n"+
			"      channel_required: true\n      channel: \"{env:WSPLUG_TEST_CHANNEL}\"\n"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c.SetToken("from-runtime")
	t.Setenv("WSPLUG_TEST_CHANNEL", "second")
	c.Disable(ctx)
	if err := c.Enable(ctx); err != nil {
		t.Fatal(err)
	}
	hs := py.handshakes()
	want := []string{
		"clientId=" + c.ClientID() + "&token=from-config&channel=first",
		"clientId=" + c.ClientID() + "&token=from-runtime&channel=second",
	}
	for i, w := range want {
		if hs[i]["query"] != w {
			t.Errorf("handshake %d: %v, want %s", i, hs[i]["query"], w)
		}
	}
}

// TestFailedEnableLeavesTheClientOff, unlike the original, which left a
// client that could not connect marked enabled.
func TestFailedEnableLeavesTheClientOff(t *testing.T) {
	py := startPython(t, 0, 0)
	_, c, err := runHost(t, comfyConfig(py.httpURL(), py.wsURL(), "      retry: 0\n"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c.Disable(ctx)
	py.control("POST", "refuse?status=503&count=-1", "")
	err = c.Enable(ctx)
	var de *DialError
	if !errors.As(err, &de) || de.Status != 503 {
		t.Fatalf("Enable: %v", err)
	}
	if s := c.State(); s != StateFailed {
		t.Errorf("state %v", s)
	}
	if err := c.Send(ctx, "x", nil); err == nil {
		t.Error("a send on a failed client succeeded")
	}
	py.control("POST", "refuse?count=0", "")
	if err := c.Enable(ctx); err != nil {
		t.Errorf("Enable after the server came back: %v", err)
	}
}

// TestSessionResume: the session id read from the first status message goes
// on the reconnect.
func TestSessionResume(t *testing.T) {
	py := startPython(t, 0, 0)
	_, c, err := runHost(t, comfyConfig(py.httpURL(), py.wsURL(),
		"      session_id_required: true\n      session_id_name: sid\n"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session id", func() bool { return c.Values().SessionID != "" })
	py.control("POST", "drop", "")
	waitFor(t, "the reconnect", func() bool { return len(py.handshakes()) == 2 && c.State() == StateConnected })
	hs := py.handshakes()
	if hs[0]["query"] != "clientId="+c.ClientID() {
		t.Errorf("first handshake %v: no session yet", hs[0]["query"])
	}
	if want := "clientId=" + c.ClientID() + "&sid=" + c.Values().SessionID; hs[1]["query"] != want {
		t.Errorf("reconnect %v, want %s", hs[1]["query"], want)
	}
}

// TestCloseWhileReconnecting: Close ends a client that is retrying without
// end, promptly, and leaves no goroutine behind.
func TestCloseWhileReconnecting(t *testing.T) {
	py := startPython(t, 0, 0)
	py.control("POST", "reset", "") // the harness's own goroutines start here
	before := runtime.NumGoroutine()
	h, c, err := runHost(t, comfyConfig(py.httpURL(), py.wsURL(),
		"      retry: -1\n      backoff: {initial: 10ms, max: 50ms}\n"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the greeting", func() bool { return c.Values().SessionID != "" })
	py.control("POST", "refuse?status=503&count=-1", "")
	py.control("POST", "drop", "")
	waitFor(t, "a few attempts", func() bool { return len(py.handshakes()) >= 4 })
	queued := make(chan error, 1)
	go func() { queued <- c.Send(context.Background(), "waits in the queue", nil) }()
	start := time.Now()
	if err := h.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %s", d)
	}
	if err := <-queued; !errors.Is(err, ErrClientOff) {
		t.Errorf("the queued send got %v", err)
	}
	if c.State() != StateOff {
		t.Errorf("state %v", c.State())
	}
	h.setup.Load().Close(context.Background())
	waitGoroutines(t, before)
}

// TestTransformPolicies runs Go transforms (registered beside any plugin)
// on both directions, under each transform_errors policy.
func TestTransformPolicies(t *testing.T) {
	py := startPython(t, 0, 0)
	newReg := func() *Registry {
		r := NewRegistry()
		r.RegisterTransform("tag", TransformFunc(func(_ context.Context, m *Message) (Action, error) {
			if m.Binary {
				return Pass, nil
			}
			m.Data = bytes.Replace(m.Data, []byte(`{`), []byte(`{"tagged":true,`), 1)
			return Replace, nil
		}))
		r.RegisterTransform("breaks", TransformFunc(func(_ context.Context, m *Message) (Action, error) {
			if bytes.Contains(m.Data, []byte("break")) {
				return Pass, errors.New("broken on purpose")
			}
			return Pass, nil
		}))
		r.RegisterTransform("quiet", TransformFunc(func(_ context.Context, m *Message) (Action, error) {
			if bytes.Contains(m.Data, []byte("shh")) {
				return Drop, nil
			}
			return Pass, nil
		}))
		return r
	}
	for _, tc := range []struct {
		policy  string
		sendErr string // what Send of a breaking message says
	}{
		{config.TransformErrorsFail, "api[ComfyUI] transform[breaks]: broken on purpose"},
		{config.TransformErrorsDrop, "transform[breaks] failed and the message was dropped: broken on purpose"},
		{config.TransformErrorsPass, ""},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			py.control("POST", "reset", "")
			_, c, err := runHost(t, comfyConfig(py.httpURL(), py.wsURL(),
				"      transform_errors: "+tc.policy+"\n"+
					"      transforms: {outgoing: [breaks, quiet, tag], incoming: [breaks, tag]}\n"), newReg(), nil)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			sub := c.Subscribe(Filter{})
			if err := c.Send(ctx, `{"type":"echo","n":1}`, nil); err != nil {
				t.Fatal(err)
			}
			err = c.Send(ctx, `{"type":"echo","break":1}`, nil)
			if tc.sendErr == "" && err != nil || tc.sendErr != "" && (err == nil || err.Error() != tc.sendErr) {
				t.Errorf("breaking send: %v, want %q", err, tc.sendErr)
			}
			if err := c.Send(ctx, `{"type":"echo","shh":1}`, nil); !errors.Is(err, ErrDropped) {
				t.Errorf("a dropped send said %v", err)
			}
			msgs := py.received(c.ClientID(), 1)
			if msgs[0] != `{"tagged":true,"type":"echo","n":1}` {
				t.Errorf("outgoing: %q", msgs)
			}
			// The echo comes back through the incoming transforms: tagged
			// once more.
			in, err := sub.Next(ctx)
			for err == nil && in.Type == "status" {
				in, err = sub.Next(ctx)
			}
			if err != nil || string(in.Data) != `{"tagged":true,"tagged":true,"type":"echo","n":1}` {
				t.Errorf("incoming: %s %v", in.Data, err)
			}
			wantOut := 1
			if tc.policy == config.TransformErrorsPass {
				wantOut = 2 // the breaking message went out untransformed
				if m := py.received(c.ClientID(), 2)[1]; m != `{"type":"echo","break":1}` {
					t.Errorf("passed message %q", m)
				}
			}
			if got := len(py.received(c.ClientID(), wantOut)); got != wantOut {
				t.Errorf("the server got %d messages, want %d", got, wantOut)
			}
			if s := c.Stats(); s.TransformErrors < 1 {
				t.Errorf("transform errors not counted: %+v", s)
			}
		})
	}
}

// TestSubscriptionFilters checks the filter, extraction, completion, idle
// and overflow rules against messages the Python peer sends on command.
func TestSubscriptionFilters(t *testing.T) {
	py := startPython(t, 0, 0)
	_, c, err := runHost(t, comfyConfig(py.httpURL(), py.wsURL(), ""), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	waitFor(t, "the greeting", func() bool { return c.Values().SessionID != "" })
	send := func(msgs ...string) {
		for _, m := range msgs {
			py.control("POST", "send?client="+c.ClientID(), m)
		}
	}

	present := c.Subscribe(Filter{Where: map[string]any{"data.node": "*"}, Until: map[string]any{"data.last": true},
		Extract: map[string]string{"node": "data.node", "n": "data.n"}})
	typed := c.Subscribe(Filter{Types: []string{"b"}, Where: map[string]any{"data.n": 2}})
	small := c.Subscribe(Filter{Types: []string{"a", "b"}, Buffer: 2, Overflow: DropNewest})
	idle := c.Subscribe(Filter{Types: []string{"never"}, Idle: 100 * time.Millisecond})
	send(`{"type":"a","data":{"n":1}}`, `{"type":"b","data":{"n":2,"node":"x"}}`,
		`{"type":"b","data":{"n":2.0}}`, `{"type":"a","data":{"node":"y","n":3,"last":true}}`,
		`{"type":"a","data":{"node":"z"}}`)

	result, err := present.Wait(ctx)
	if err != nil || result["node"] != "y" || fmt.Sprint(result["n"]) != "3" {
		t.Errorf("extract: %v %v", result, err)
	}
	var ns []string
	for range 2 {
		in, err := typed.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := in.Field("data.n")
		ns = append(ns, fmt.Sprint(v))
	}
	if strings.Join(ns, ",") != "2,2" {
		t.Errorf("typed filter (2 and 2.0 are the same number): %v", ns)
	}
	waitFor(t, "the small buffer to overflow", func() bool { return small.Dropped() >= 2 })
	if in, _ := small.Next(ctx); in == nil || !strings.Contains(string(in.Data), `"n":1`) {
		t.Error("DropNewest must keep the first messages")
	}
	if _, err := idle.Wait(ctx); !errors.Is(err, ErrIdle) {
		t.Errorf("idle: %v", err)
	}
	if s := c.Stats(); s.SubscriberDrops < 2 {
		t.Errorf("subscriber drops not counted: %+v", s)
	}
}
