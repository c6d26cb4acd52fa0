package host

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wsplug/wsplug/host/internal/testplugin"
)

// Setup.Next carries an unchanged plugin over, state and all, loads a
// changed one anew, and closes a shared plugin only with the last setup
// that holds it.
func TestNextSharesUnchangedPlugins(t *testing.T) {
	ctx := context.Background()
	goGuest := testplugin.Build(t, "host/testdata/goguest")
	healthy, _ := filepath.Abs(hostile("healthy"))
	path := filepath.Join(t.TempDir(), "wsplug.yaml")
	write := func(healthyConfig string) {
		t.Helper()
		yaml := "apis: [{name: A, url: http://127.0.0.1}]\nplugins:\n" +
			"  - {name: g, path: " + goGuest + ", limits: {instances: 1}}\n" +
			"  - {name: h, path: " + healthy + ", config: " + healthyConfig + "}\n"
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	opts := &LoaderOptions{CacheDir: testCacheDir}
	nextID := func(s *Setup) (string, error) {
		t.Helper()
		f, ok := s.Registry.ClientIDFormat("go_seq")
		if !ok {
			t.Fatal("no go_seq")
		}
		return f.NewClientID(ctx)
	}

	write("{v: 1}")
	first, err := LoadConfig(ctx, path, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := nextID(first); id != "seq-1" {
		t.Fatalf("first id %q", id)
	}

	second, err := first.Next(ctx, path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	g1, _ := first.Plugin("g")
	g2, _ := second.Plugin("g")
	h1, _ := first.Plugin("h")
	h2, _ := second.Plugin("h")
	if g1 != g2 || h1 != h2 {
		t.Fatal("an unchanged file loaded its plugins again")
	}
	if id, _ := nextID(second); id != "seq-2" {
		t.Errorf("the carried-over plugin lost its state: %q", id)
	}

	write("{v: 2}")
	third, err := second.Next(ctx, path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	g3, _ := third.Plugin("g")
	h3, _ := third.Plugin("h")
	if g3 != g1 || h3 == h1 {
		t.Fatalf("h's config changed: g kept %v, h kept %v", g3 == g1, h3 == h1)
	}

	// A file that does not load leaves what runs alone.
	if err := os.WriteFile(path, []byte("apis: []\nplugins: [{name: g, path: "+goGuest+", nope: 1}]\n"),
		0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := third.Next(ctx, path, nil, nil); err == nil {
		t.Fatal("a bad file loaded")
	}

	first.Close(ctx)
	second.Close(ctx)
	if id, err := nextID(third); id != "seq-3" || err != nil {
		t.Errorf("after the setups before it closed: %q, %v", id, err)
	}
	format, _ := third.Registry.ClientIDFormat("go_seq")
	third.Close(ctx)
	if _, err := format.NewClientID(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("the last setup closed, the plugin answers %v", err)
	}
}
