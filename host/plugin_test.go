package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wsplug/wsplug/config"
	"github.com/wsplug/wsplug/host/internal/testplugin"
)

// loadGoGuest loads the Go test guest and registers it.
func loadGoGuest(t testing.TB, limits config.Limits, allow ...string) (*Plugin, *Registry) {
	t.Helper()
	l := newTestLoader(t, nil)
	p, err := load(t, l, "goguest", testplugin.Build(t, "host/testdata/goguest"), limits, allow...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	r := NewRegistry()
	if err := r.AddPlugin(p); err != nil {
		t.Fatal(err)
	}
	return p, r
}

var goLimits = config.Limits{Memory: 64 << 20, Timeout: 5 * time.Second, Instances: 2}

func TestGoGuestProvides(t *testing.T) {
	p, _ := loadGoGuest(t, goLimits)
	want := Provides{
		ClientIDs: []string{"go_seq"},
		Placeholders: []PlaceholderInfo{
			{Name: "go_client"}, {Name: "go_token_len"}, {Name: "go_num"},
		},
		Transforms: []string{"go_echo", "go_pass", "go_fail", "go_panic", "go_exit", "go_oom", "go_log",
			"go_stdout", "go_stderr", "go_leak"},
	}
	if got := p.Provides(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("provides\n got %+v\nwant %+v", got, want)
	}
}

func TestGoGuestTransforms(t *testing.T) {
	_, r := loadGoGuest(t, goLimits)
	ctx := context.Background()
	tests := []struct {
		name, transform string
		in              string
		binary          bool
		want            Action
		wantData        string
		wantErr         string
	}{
		{name: "replace", transform: "go_echo", in: `{"a":1}`, want: Replace, wantData: `{"a":1}`},
		{name: "replace binary", transform: "go_echo", in: "\x00\xff", binary: true, want: Replace,
			wantData: "\x00\xff"},
		{name: "replace empty", transform: "go_echo", in: "", want: Replace, wantData: ""},
		{name: "pass", transform: "go_pass", in: "x", want: Pass, wantData: "x"},
		{name: "plugin error", transform: "go_fail", in: "x", want: Pass, wantData: "x",
			wantErr: "plugin[goguest] transform[go_fail] (wsplug_transform): failed: refusing this one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, ok := r.Transform(tt.transform)
			if !ok {
				t.Fatalf("no transform %s", tt.transform)
			}
			m := &Message{Data: []byte(tt.in), Binary: tt.binary}
			a, err := tr.Transform(ctx, m)
			if a != tt.want || string(m.Data) != tt.wantData {
				t.Errorf("got %v %q, want %v %q", a, m.Data, tt.want, tt.wantData)
			}
			if (err == nil) != (tt.wantErr == "") || err != nil && err.Error() != tt.wantErr {
				t.Errorf("error %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestTransformChainReusesBuffers runs a message through the same replacing
// transform many times: each output must be right although the Message's
// two buffers take turns holding input and output.
func TestTransformChainReusesBuffers(t *testing.T) {
	_, r := loadGoGuest(t, goLimits)
	tr, _ := r.Transform("go_echo")
	m := &Message{}
	for i := range 50 {
		in := strings.Repeat(fmt.Sprint(i), i+1)
		m.Data = []byte(in)
		for range 3 {
			if _, err := tr.Transform(context.Background(), m); err != nil {
				t.Fatal(err)
			}
		}
		if string(m.Data) != in {
			t.Fatalf("round %d: got %q", i, m.Data)
		}
	}
}

func TestGoGuestPlaceholdersAndIDs(t *testing.T) {
	_, r := loadGoGuest(t, goLimits, config.CapSecrets)
	ctx := context.Background()
	client := &ClientInfo{API: "A", Values: &config.Values{ClientID: "c-9", Token: "twelve-chars"}}
	lk := r.Lookup(client)

	if v, err := lk.Lookup(ctx, "go_client", ""); v != "c-9" || err != nil {
		t.Errorf("go_client = %#v, %v", v, err)
	}
	// Reading the token makes the value a secret, whatever the plugin said.
	v, err := lk.Lookup(ctx, "go_token_len", "")
	if s, ok := v.(config.Secret); !ok || s.Reveal() != "12" || err != nil {
		t.Errorf("go_token_len = %#v, %v; want the Secret 12", v, err)
	}
	if v, err := lk.Lookup(ctx, "go_num", "7"); v != json.Number("7") || err != nil {
		t.Errorf("go_num = %#v, %v", v, err)
	}
	if _, err := lk.Lookup(ctx, "nope", ""); !errors.Is(err, config.ErrUnknownPlaceholder) {
		t.Errorf("unknown placeholder: %v", err)
	}
	_, err = lk.Lookup(ctx, "go_num", "x")
	want := `plugin[goguest] placeholder[go_num] (wsplug_placeholder): failed: ` +
		`strconv.Atoi: parsing "x": invalid syntax`
	if err == nil || err.Error() != want {
		t.Errorf("go_num error = %v", err)
	}

	// A payload resolved through the registry keeps the JSON type.
	pl, _ := config.ParsePayloadJSON([]byte(`{"n": "{go_num:41}", "id": "{client_id}-{go_client}"}`))
	got, err := pl.Resolve(ctx, config.Chain(client.Values, lk), config.ResolveOptions{})
	if err != nil || fmt.Sprint(got) != "map[id:c-9-c-9 n:41]" {
		t.Errorf("payload = %v, %v", got, err)
	}

	f, _ := r.ClientIDFormat("go_seq")
	seen := map[string]bool{}
	for range 4 {
		id, err := f.NewClientID(ctx)
		if err != nil || !strings.HasPrefix(id, "seq-") {
			t.Fatalf("id %q, %v", id, err)
		}
		seen[id] = true
	}
	if len(seen) < 2 {
		t.Errorf("ids do not change: %v", seen)
	}
}

func TestSecretsNeedTheCapability(t *testing.T) {
	log := &recorder{}
	l := newTestLoader(t, slog.New(log))
	p, err := load(t, l, "goguest", testplugin.Build(t, "host/testdata/goguest"), goLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	r := NewRegistry()
	r.AddPlugin(p)
	client := &ClientInfo{Values: &config.Values{Token: "secret"}}
	for range 3 {
		_, err = r.Lookup(client).Lookup(context.Background(), "go_token_len", "")
	}
	want := "plugin[goguest] placeholder[go_token_len] (wsplug_placeholder): failed: " +
		"value needs the secrets capability"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v", err)
	}
	if n := log.count("plugin asked for a secret without the secrets capability"); n != 1 {
		t.Errorf("the denial was logged %d times, want once", n)
	}
}

func TestPluginLogsGoToTheHostLogger(t *testing.T) {
	log := &recorder{}
	l := newTestLoader(t, slog.New(log))
	p, err := load(t, l, "goguest", testplugin.Build(t, "host/testdata/goguest"), goLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	r := NewRegistry()
	r.AddPlugin(p)
	tr, _ := r.Transform("go_log")
	if _, err := tr.Transform(context.Background(), &Message{Data: []byte("12345")}); err != nil {
		t.Fatal(err)
	}
	if log.count("seen bytes=5") != 1 || log.count("to stdout") != 1 {
		var msgs []string
		for _, rec := range log.records {
			msgs = append(msgs, rec.Message)
		}
		t.Errorf("log lines: %q", msgs)
	}
	for _, rec := range log.records {
		found := false
		rec.Attrs(func(a slog.Attr) bool {
			found = found || a.Key == "plugin" && a.Value.String() == "goguest"
			return true
		})
		if !found {
			t.Errorf("line %q does not name the plugin", rec.Message)
		}
	}
}

// TestTrapReplacesTheInstance: after a Go guest exits, the next call runs
// in a new instance and the pool never holds more than its limit.
func TestTrapReplacesTheInstance(t *testing.T) {
	p, r := loadGoGuest(t, config.Limits{Memory: 64 << 20, Timeout: 5 * time.Second, Instances: 1})
	ctx := context.Background()
	exit, _ := r.Transform("go_exit")
	echo, _ := r.Transform("go_echo")
	f, _ := r.ClientIDFormat("go_seq")
	first, _ := f.NewClientID(ctx)
	if _, err := exit.Transform(ctx, &Message{}); !errors.Is(err, ErrTrap) {
		t.Fatalf("exit: %v", err)
	}
	// A new instance starts its sequence again.
	if again, _ := f.NewClientID(ctx); again != first {
		t.Errorf("after the trap the id is %q; a fresh instance would give %q", again, first)
	}
	m := &Message{Data: []byte("ok")}
	if _, err := echo.Transform(ctx, m); err != nil || string(m.Data) != "ok" {
		t.Errorf("echo after trap: %q %v", m.Data, err)
	}
	if s := p.Stats(); s.Instances != 1 || s.Failures != 1 || s.Calls != 4 {
		t.Errorf("stats %+v", s)
	}
}

// TestPoolConcurrency runs many callers on a small pool: every call gets an
// answer, instances never exceed the limit, and waiting callers honour their
// context.
func TestPoolConcurrency(t *testing.T) {
	p, r := loadGoGuest(t, config.Limits{Memory: 64 << 20, Timeout: 5 * time.Second, Instances: 3})
	echo, _ := r.Transform("go_echo")
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := &Message{}
			for i := range 50 {
				want := fmt.Sprintf("g%d-%d", g, i)
				m.Data = []byte(want)
				if _, err := echo.Transform(context.Background(), m); err != nil || string(m.Data) != want {
					errs <- fmt.Errorf("%s: got %q, %v", want, m.Data, err)
				}
				if live, _ := p.pool.stats(); live > 3 {
					errs <- fmt.Errorf("%d instances, limit 3", live)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	// Hold every instance, then ask with a context that ends.
	var held []*instance
	for range 3 {
		in, err := p.pool.get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, in)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := echo.Transform(ctx, &Message{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting past the context: %v", err)
	}
	done := make(chan error)
	go func() {
		_, err := echo.Transform(context.Background(), &Message{Data: []byte("x")})
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	for _, in := range held {
		p.pool.put(in)
	}
	if err := <-done; err != nil {
		t.Errorf("a waiting call did not get an instance: %v", err)
	}
}

// TestCloseWaitsForCalls: Close lets a running call finish, then refuses
// new ones; no goroutine outlives the plugin.
func TestCloseWaitsForCalls(t *testing.T) {
	before := runtime.NumGoroutine()
	l := newTestLoader(t, nil)
	limits := config.Limits{Memory: 1 << 20, Timeout: 200 * time.Millisecond, Instances: 1}
	p, err := load(t, l, "loop", hostile("loop"), limits)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegistry()
	r.AddPlugin(p)
	tr, _ := r.Transform("loop")
	done := make(chan error)
	go func() {
		_, err := tr.Transform(context.Background(), &Message{})
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("Close returned after %s, before the running call ended", d)
	}
	if err := <-done; !errors.Is(err, ErrTimeout) {
		t.Errorf("running call: %v", err)
	}
	if _, err := tr.Transform(context.Background(), &Message{}); !errors.Is(err, ErrClosed) {
		t.Errorf("call after Close: %v", err)
	}
	l.Close(context.Background())
	waitGoroutines(t, before)
}

// waitGoroutines fails when more goroutines run than before, after a grace
// period for those that are ending.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before,
				buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRegistryCollisions(t *testing.T) {
	l := newTestLoader(t, nil)
	h1, err := load(t, l, "healthy", hostile("healthy"), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer h1.Close(context.Background())
	h2, _ := load(t, l, "healthy2", hostile("healthy"), testLimits)
	defer h2.Close(context.Background())

	r := NewRegistry()
	if err := r.RegisterTransform("echo_healthy", TransformFunc(func(context.Context, *Message) (Action, error) {
		return Pass, nil
	})); err != nil {
		t.Fatal(err)
	}
	err = r.AddPlugin(h1)
	want := `transform "echo_healthy" is provided by both go and plugin[healthy]`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	// Nothing of the refused plugin was registered.
	if r.Provider("client_id", "healthy_id") != "" {
		t.Error("a plugin whose names collide must add nothing")
	}

	r = NewRegistry()
	if err := r.AddPlugin(h1); err != nil {
		t.Fatal(err)
	}
	if err := r.AddPlugin(h2); err == nil ||
		err.Error() != `client_id format "healthy_id" is provided by both plugin[healthy] and plugin[healthy2]` {
		t.Errorf("two plugins: %v", err)
	}
	if err := r.RegisterClientIDFormat("uuid", nil); err == nil ||
		err.Error() != `client_id format "uuid" is provided by both built-in and go` {
		t.Errorf("built-in: %v", err)
	}
	if err := r.RegisterPlaceholder("token", nil); err == nil {
		t.Error("a built-in placeholder name must not be taken")
	}
	r.RemovePlugin("healthy")
	if err := r.AddPlugin(h2); err != nil {
		t.Errorf("after RemovePlugin the names are free: %v", err)
	}
}

// TestValidationSeesPluginNames: client_id_format ulid is valid only when a
// loaded plugin provides it.
func TestValidationSeesPluginNames(t *testing.T) {
	const file = `apis:
  - name: A
    url: http://h
    websocket:
      client_id_format: healthy_id
      headers: {X: "{healthy}"}
      transforms: {incoming: [echo_healthy]}
`
	f, err := config.Parse("wsplug.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegistry()
	if err := f.Validate(r); err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("without the plugin, three problems expected: %v", err)
	}
	l := newTestLoader(t, nil)
	p, err := load(t, l, "healthy", hostile("healthy"), testLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	r.AddPlugin(p)
	if err := f.Validate(r); err != nil {
		t.Errorf("with the plugin: %v", err)
	}
}

func TestWarmCacheLoad(t *testing.T) {
	dir := t.TempDir()
	file := testplugin.Build(t, "host/testdata/goguest")
	ctx := context.Background()
	var times []time.Duration
	for range 2 {
		l, err := NewLoader(&LoaderOptions{CacheDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		p, err := l.Load(ctx, config.Plugin{Name: "g", File: file, Limits: goLimits})
		if err != nil {
			t.Fatal(err)
		}
		times = append(times, time.Since(start))
		p.Close(ctx)
		l.Close(ctx)
	}
	// Not a timing assertion (machines are noisy): the cache must exist and
	// the second load must not be slower than the first by much.
	t.Logf("cold load %s, warm load %s", times[0], times[1])
	if times[1] > times[0]*2 {
		t.Errorf("warm load %s vs cold %s: the cache does not work", times[1], times[0])
	}
}

// The test guest's memory stays flat over many calls.
func TestGoGuestMemoryStaysFlat(t *testing.T) {
	p, r := loadGoGuest(t, config.Limits{Memory: 64 << 20, Instances: 1})
	echo, _ := r.Transform("go_echo")
	m := &Message{}
	payload := bytes.Repeat([]byte("x"), 1024)
	calls := 100_000
	if testing.Short() {
		calls = 10_000
	}
	var after10k uint32
	for i := range calls {
		m.Data = payload
		if _, err := echo.Transform(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		if i == 10_000 {
			after10k = memorySize(p)
		}
	}
	size := memorySize(p)
	t.Logf("guest memory after %d calls: %d KiB (after 10k: %d KiB)", calls, size>>10, after10k>>10)
	if size > 16<<20 {
		t.Errorf("guest memory grew to %d MiB", size>>20)
	}
	if after10k > 0 && size > after10k+(1<<20) {
		t.Errorf("guest memory grows: %d KiB after 10k calls, %d KiB after %d", after10k>>10, size>>10, calls)
	}
}

func memorySize(p *Plugin) uint32 {
	in, _ := p.pool.get(context.Background())
	defer p.pool.put(in)
	return in.mem.Size()
}

// A load whose context ends while it compiles says so, instead of calling
// a valid module invalid.
func TestLoadCancelledWhileCompiling(t *testing.T) {
	file := testplugin.Build(t, "host/testdata/goguest")
	l, err := NewLoader(&LoaderOptions{NoCache: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = l.Load(ctx, config.Plugin{Name: "g", File: file, Limits: goLimits})
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrRefused) {
		t.Fatalf("got %v, want the context's error", err)
	}
	if !strings.HasPrefix(err.Error(), "plugin[g] load: context canceled") {
		t.Errorf("message %q", err)
	}
}

// TestGoGuestMillionCalls: over 1,000,000 transform calls, and 100,000
// placeholder and client id calls, a Go guest's memory stays under 16 MiB
// and flat after a warm-up, and the host keeps nothing per call. It takes
// seconds without the race detector and minutes with it, so it runs
// without (make test does).
func TestGoGuestMillionCalls(t *testing.T) {
	if raceEnabled {
		t.Skip("too slow under the race detector; make test runs it without")
	}
	p, r := loadGoGuest(t, config.Limits{Memory: 64 << 20, Instances: 1})
	ctx := context.Background()
	echo, _ := r.Transform("go_echo")
	ids, _ := r.ClientIDFormat("go_seq")
	lk := r.Lookup(&ClientInfo{Values: &config.Values{ClientID: "c-1"}})
	payload := bytes.Repeat([]byte("x"), 1024)
	m := &Message{}
	transforms := func(n int) {
		for range n {
			m.Data = payload
			if _, err := echo.Transform(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
	}
	const warmUp = 100_000

	transforms(warmUp)
	warm := memorySize(p)
	hostWarm := liveHeap()

	transforms(1_000_000 - warmUp)
	for range 100_000 {
		if v, err := lk.Lookup(ctx, "go_client", ""); v != "c-1" || err != nil {
			t.Fatalf("go_client = %v, %v", v, err)
		}
		if _, err := ids.NewClientID(ctx); err != nil {
			t.Fatal(err)
		}
	}
	size, hostEnd := memorySize(p), liveHeap()
	t.Logf("guest memory %d KiB after the warm-up, %d KiB at the end; host heap %d KiB, %d KiB",
		warm>>10, size>>10, hostWarm>>10, hostEnd>>10)
	if size > 16<<20 {
		t.Errorf("guest memory grew to %d MiB", size>>20)
	}
	if size > warm+1<<20 {
		t.Errorf("guest memory grows: %d KiB after the warm-up, %d KiB at the end",
			warm>>10, size>>10)
	}
	if hostEnd > hostWarm+4<<20 {
		t.Errorf("host heap grows: %d KiB after the warm-up, %d KiB at the end",
			hostWarm>>10, hostEnd>>10)
	}
}

// liveHeap is the host's live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
