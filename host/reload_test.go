package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	// client.
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
