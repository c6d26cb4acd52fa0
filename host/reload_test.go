package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsplug/wsplug/host/internal/testplugin"
	"github.com/wsplug/wsplug/host/internal/wstest"
)

// TestReloadSwapsAPluginWhileMessagesFlow: a reload that changes only a
// plugin's config keeps the connection, swaps the plugin under the
// messages, and loses none; a changed API gets a new connection.
func TestReloadSwapsAPluginWhileMessagesFlow(t *testing.T) {
	srv := wstest.New(t, nil)
	jsonPlugin := testplugin.Build(t, "plugins/json")
	dir := t.TempDir()
	config := func(envelope, other string) string {
		return fmt.Sprintf(`apis:
  - name: Main
    url: %s
    websocket: {url: %q, client_id: main, client_id_required: true, transforms: {outgoing: [wrap]}}
  - name: Other
    url: %s
    websocket: {url: %q, client_id: %s, client_id_required: true}
plugins:
  - name: json
    path: %s
    config: {wrap: {envelope: {v: %s}}}
`, srv.HTTPURL(), srv.URL(), srv.HTTPURL(), srv.URL(), other, jsonPlugin, envelope)
	}
	load := func(yaml string) *Setup {
		path := filepath.Join(dir, "wsplug.yaml")
		os.WriteFile(path, []byte(yaml), 0o600)
		s, err := LoadConfig(context.Background(), path, nil, &LoaderOptions{CacheDir: testCacheDir})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	ctx := context.Background()
	first := load(config("a", "other-1"))
	h, err := New(first, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	main, _ := h.Client("Main")

	// Sends flow before, during and for a while after the reload.
	var (
		wg   sync.WaitGroup
		n    int
		fail error
	)
	reloaded := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		after := 0
		for ; after < 50; n++ {
			if err := main.Send(ctx, fmt.Sprintf(`{"n":%d}`, n), nil); err != nil {
				fail = err
				return
			}
			select {
			case <-reloaded:
				after++
			default:
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	time.Sleep(20 * time.Millisecond)
	second := load(config("b", "other-2"))
	if err := h.Reload(ctx, second); err != nil {
		t.Fatal(err)
	}
	close(reloaded)
	first.Close(ctx) // waits for calls still in the old plugin
	wg.Wait()
	if fail != nil {
		t.Fatalf("a send failed across the reload: %v", fail)
	}
	defer second.Close(ctx)

	got := srv.WaitReceived(t, "main", n, 10*time.Second)
	sawB := false
	for i, m := range got {
		if !strings.HasSuffix(string(m), fmt.Sprintf(`"data":{"n":%d}}`, i)) {
			t.Fatalf("message %d is %s: lost or out of order", i, m)
		}
		switch {
		case strings.HasPrefix(string(m), `{"v":"b"`):
			sawB = true
		case sawB:
			t.Fatalf("message %d went through the old plugin after the new one: %s", i, m)
		}
	}
	if !sawB || !strings.HasPrefix(string(got[0]), `{"v":"a"`) {
		t.Errorf("the plugin was not swapped: first %s, last %s", got[0], got[n-1])
	}
	// Main kept its connection; Other, whose settings changed, got a new
	// client, which connects in the background.
	other, _ := h.Client("Other")
	if s, err := other.Wait(ctx, StateConnected, StateFailed); s != StateConnected {
		t.Fatalf("Other after the reload: %v %v", s, err)
	}
	srv.WaitConnected(t, "other-2", 5*time.Second)
	var mainShakes, otherShakes []string
	for _, hs := range srv.Handshakes() {
		if hs.ClientID == "main" {
			mainShakes = append(mainShakes, hs.ClientID)
		} else {
			otherShakes = append(otherShakes, hs.ClientID)
		}
	}
	if len(mainShakes) != 1 || strings.Join(otherShakes, " ") != "other-1 other-2" {
		t.Errorf("handshakes: main %v, other %v", mainShakes, otherShakes)
	}
	if c, _ := h.Client("Other"); c.ClientID() != "other-2" || c.State() != StateConnected {
		t.Errorf("Other after the reload: %s %v", c.ClientID(), c.State())
	}
	st := h.Stats()
	if len(st.Clients) != 2 || len(st.Plugins) != 1 || st.Plugins[0].Calls == 0 {
		t.Errorf("stats %+v", st)
	}
}

// prefixPlugin is a WAT transform that puts its config's JSON text before
// each message: with config "A", {"n":1} becomes "A"{"n":1}. A message
// shows which plugin, of those reloads swapped in, it went through.
var prefixPlugin, _ = filepath.Abs(filepath.Join("..", "cmd", "wsplug", "testdata", "prefix.wasm"))

// reloadable writes configs to one file and loads them, as wsplug run does
// on SIGHUP.
type reloadable struct {
	t    *testing.T
	path string
}

func newReloadable(t *testing.T) *reloadable {
	return &reloadable{t: t, path: filepath.Join(t.TempDir(), "wsplug.yaml")}
}

func (r *reloadable) load(yaml string) *Setup {
	r.t.Helper()
	os.WriteFile(r.path, []byte(yaml), 0o600)
	s, err := LoadConfig(context.Background(), r.path, nil, &LoaderOptions{CacheDir: testCacheDir})
	if err != nil {
		r.t.Fatal(err)
	}
	return s
}

// TestReloadRetiresPluginsWithoutLosingMessages: eight senders and a
// stream of incoming messages go through a plugin with one instance while
// reloads swap it five times, each old setup closed right after its
// reload, as wsplug run does. Calls already in (or waiting for) an old
// plugin finish there, later ones go to the new one: no send fails, no
// incoming message is dropped, and the server sees every message once, in
// order, each sender's through the plugins in reload order.
func TestReloadRetiresPluginsWithoutLosingMessages(t *testing.T) {
	srv := wstest.New(t, nil)
	config := func(prefix string) string {
		return fmt.Sprintf(`apis:
  - name: Main
    url: %s
    websocket:
      url: %q
      client_id: main
      client_id_required: true
      transform_errors: fail
      transforms: {outgoing: [prefix], incoming: [prefix]}
plugins:
  - {name: prefix, path: %s, config: %q, limits: {instances: 1}}
`, srv.HTTPURL(), srv.URL(), prefixPlugin, prefix)
	}
	files := newReloadable(t)
	ctx := context.Background()
	setup := files.load(config("0"))
	h, err := New(setup, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	in := h.Subscribe(Filter{Buffer: 1 << 16})
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	main, _ := h.Client("Main")
	srv.WaitConnected(t, "main", 5*time.Second)

	const senders = 8
	var (
		stop   atomic.Bool
		wg     sync.WaitGroup
		counts [senders]int
		fails  = make(chan error, senders)
	)
	for g := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; !stop.Load(); n++ {
				if err := main.Send(ctx, fmt.Sprintf(`{"g":%d,"n":%d}`, g, n), nil); err != nil {
					fails <- fmt.Errorf("sender %d message %d: %w", g, n, err)
					return
				}
				counts[g]++
			}
		}()
	}
	incoming := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ; !stop.Load(); incoming++ {
			msg := fmt.Appendf(nil, `{"type":"in","n":%d}`, incoming)
			srv.Send("main", websocket.MessageText, msg)
			time.Sleep(time.Millisecond)
		}
	}()

	var closing sync.WaitGroup
	for i := 1; i <= 5; i++ {
		time.Sleep(40 * time.Millisecond)
		next := files.load(config(fmt.Sprint(i)))
		if err := h.Reload(ctx, next); err != nil {
			t.Fatal(err)
		}
		closing.Add(1)
		go func(old *Setup) {
			defer closing.Done()
			old.Close(ctx) // waits for the calls still in the old plugin
		}(setup)
		setup = next
	}
	time.Sleep(40 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	closing.Wait()
	defer setup.Close(ctx)
	close(fails)
	for err := range fails {
		t.Error(err)
	}

	// Outgoing: every message once, in order, through the plugins in the
	// order the reloads swapped them in.
	total := 0
	for _, n := range counts {
		total += n
	}
	got := srv.WaitReceived(t, "main", total, 10*time.Second)
	next := make([]int, senders)
	version := make([]string, senders)
	versions := map[string]bool{}
	for _, m := range got {
		v, body, ok := strings.Cut(string(m), "{")
		var msg struct{ G, N int }
		if !ok || json.Unmarshal([]byte("{"+body), &msg) != nil {
			t.Fatalf("the server got %q", m)
		}
		if msg.N != next[msg.G] {
			t.Fatalf("sender %d: message %d where %d was due", msg.G, msg.N, next[msg.G])
		}
		if v < version[msg.G] {
			t.Fatalf("sender %d message %d went through plugin %s after %s",
				msg.G, msg.N, v, version[msg.G])
		}
		next[msg.G]++
		version[msg.G] = v
		versions[v] = true
	}
	if len(got) != total || len(versions) < 6 {
		t.Errorf("the server got %d messages of %d, through %d plugins of 6",
			len(got), total, len(versions))
	}

	// Incoming: none dropped by a closed plugin.
	seen, last := 0, ""
	for seen < incoming {
		select {
		case m := <-in.Messages():
			v, body, _ := strings.Cut(string(m.Data), "{")
			if !strings.HasPrefix(body, `"type":"in"`) {
				continue // the greeting
			}
			if v < last {
				t.Fatalf("an incoming message went through plugin %s after %s", v, last)
			}
			seen, last = seen+1, v
		case <-time.After(5 * time.Second):
			t.Fatalf("%d incoming messages of %d arrived; transform errors %d", seen, incoming,
				main.Stats().TransformErrors)
		}
	}
	if n := main.Stats().TransformErrors; n != 0 {
		t.Errorf("%d transform errors", n)
	}
	t.Logf("%d messages out, %d in, across 5 reloads", total, incoming)
}

// TestReloadDoesNotWaitForConnections: a reload that adds an API whose
// server is down, retrying without end, returns at once; the new client
// tries in the background, its states observable, and Close ends it.
func TestReloadDoesNotWaitForConnections(t *testing.T) {
	srv := wstest.New(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := ln.Addr().String()
	ln.Close()
	config := func(withDown bool) string {
		yaml := fmt.Sprintf(`apis:
  - name: Main
    url: %s
    websocket: {url: %q, client_id: main, client_id_required: true}
`, srv.HTTPURL(), srv.URL())
		if withDown {
			yaml += fmt.Sprintf(`  - name: Down
    url: http://%s
    websocket: {retry: -1, backoff: {initial: 10ms, max: 50ms}}
`, down)
		}
		return yaml
	}
	files := newReloadable(t)
	ctx := context.Background()
	before := runtime.NumGoroutine()
	first := files.load(config(false))
	log := &stateLog{}
	h, err := New(first, &Options{OnStateChange: log.record})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	second := files.load(config(true))
	rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	start := time.Now()
	if err := h.Reload(rctx, second); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Reload took %s: it waited for the new client", took)
	}
	first.Close(ctx)
	c, _ := h.Client("Down")
	waitFor(t, "the new client to retry", func() bool {
		_, err := c.Wait(ctx, StateReconnecting)
		return err == nil
	})
	if !strings.Contains(log.states(), "connecting reconnecting") {
		t.Errorf("states %s", log.states())
	}
	srv.WaitConnected(t, "main", 5*time.Second) // seen by the server a moment after the client
	if m, _ := h.Client("Main"); m.State() != StateConnected || len(srv.Handshakes()) != 1 {
		t.Errorf("Main: %v, %d handshakes", m.State(), len(srv.Handshakes()))
	}
	start = time.Now()
	if err := h.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %s", took)
	}
	second.Close(ctx)
	srv.Close()
	waitGoroutines(t, before)
}

// TestReloadIsAllOrNothing: a setup that cannot serve the clients changes
// nothing, and the running one stays open; once swapped, a new client that
// cannot connect fails the reload no more than a kept one.
func TestReloadIsAllOrNothing(t *testing.T) {
	srv := wstest.New(t, nil)
	config := func(prefix, otherID string) string {
		return fmt.Sprintf(`apis:
  - name: Main
    url: %s
    websocket:
      {url: %q, client_id: main, client_id_required: true, transforms: {outgoing: [prefix]}}
  - name: Other
    url: %s
    websocket: {url: %q, client_id: %s, client_id_required: true, retry: 0}
plugins:
  - {name: prefix, path: %s, config: %q}
`, srv.HTTPURL(), srv.URL(), srv.HTTPURL(), srv.URL(), otherID, prefixPlugin, prefix)
	}
	files := newReloadable(t)
	ctx := context.Background()
	first := files.load(config("A", "other-1"))
	h, err := New(first, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	main, _ := h.Client("Main")

	// A setup whose registry lost the transform Main needs.
	broken := files.load(config("B", "other-2"))
	broken.Registry.RemovePlugin("prefix")
	err = h.Reload(ctx, broken)
	if err == nil || !strings.Contains(err.Error(), "transform[prefix]") {
		t.Errorf("Reload of a setup without Main's transform: %v", err)
	}
	broken.Close(ctx)
	if err := main.Send(ctx, `{"n":1}`, nil); err != nil {
		t.Errorf("a send after the refused reload: %v", err)
	}
	if c, _ := h.Client("Other"); c.ClientID() != "other-1" || h.Setup() != first {
		t.Errorf("the refused reload changed the host: Other is %s", c.ClientID())
	}

	// A changed API whose server refuses it: the reload stands.
	srv.RefuseNext(503, 1)
	second := files.load(config("C", "other-2"))
	if err := h.Reload(ctx, second); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	defer second.Close(ctx)
	first.Close(ctx)
	other, _ := h.Client("Other")
	if s, err := other.Wait(ctx, StateFailed, StateConnected); err != nil || s != StateFailed {
		t.Errorf("the new client: %v %v, want failed", s, err)
	}
	if err := main.Send(ctx, `{"n":2}`, nil); err != nil {
		t.Errorf("a send after the reload: %v", err)
	}
	got := srv.WaitReceived(t, "main", 2, 5*time.Second)
	if string(got[0]) != `"A"{"n":1}` || string(got[1]) != `"C"{"n":2}` {
		t.Errorf("the server got %q", got)
	}
}

// TestHostSubscriptionSeesReloadedClients: a subscription made on the
// host before Start gets the first message of every connection, those of
// the clients ten reloads make included.
func TestHostSubscriptionSeesReloadedClients(t *testing.T) {
	srv := wstest.New(t, nil)
	config := func(id string) string {
		return fmt.Sprintf(`apis:
  - name: Main
    url: %s
    websocket: {url: %q, client_id: %s, client_id_required: true}
`, srv.HTTPURL(), srv.URL(), id)
	}
	files := newReloadable(t)
	ctx := context.Background()
	setup := files.load(config("id-0"))
	h, err := New(setup, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(ctx)
	sub := h.Subscribe(Filter{Types: []string{"status"}})
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i <= 10; i++ {
		if i > 0 {
			next := files.load(config(fmt.Sprintf("id-%d", i)))
			if err := h.Reload(ctx, next); err != nil {
				t.Fatal(err)
			}
			setup.Close(ctx)
			setup = next
		}
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		in, err := sub.Next(tctx)
		cancel()
		if err != nil {
			t.Fatalf("reload %d: no greeting: %v", i, err)
		}
		if sid, _ := in.Field("data.sid"); sid != fmt.Sprintf("id-%d", i) || in.API != "Main" {
			t.Errorf("reload %d: greeting of %s for %v", i, in.API, sid)
		}
	}
	setup.Close(ctx)
	h.Close(ctx)
	if _, err := sub.Next(ctx); !errors.Is(err, ErrSubscriptionClosed) {
		t.Errorf("after Close: %v", err)
	}
}
