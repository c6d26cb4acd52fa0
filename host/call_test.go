package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wsplug/wsplug/host/internal/testplugin"
	"github.com/wsplug/wsplug/host/internal/wstest"
)

// seenRequest is what the HTTP test server was sent.
type seenRequest struct {
	method, path, query, contentType, auth, custom string
	body                                           string
	form                                           map[string][]string
}

func TestCallEndpoints(t *testing.T) {
	t.Setenv("WSPLUG_TEST_PASSWORD", "pw-from-env")
	var mu sync.Mutex
	var last seenRequest
	var flaky atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := seenRequest{method: r.Method, path: r.URL.EscapedPath(), query: r.URL.RawQuery,
			contentType: r.Header.Get("Content-Type"), custom: r.Header.Get("X-Client"), body: string(body)}
		if u, p, ok := r.BasicAuth(); ok {
			req.auth = u + ":" + p
		}
		if mt, params, _ := mime.ParseMediaType(req.contentType); mt == "multipart/form-data" {
			f, _ := multipart.NewReader(strings.NewReader(req.body), params["boundary"]).ReadForm(1 << 20)
			req.form = f.Value
		}
		mu.Lock()
		last = req
		mu.Unlock()
		switch strings.TrimPrefix(r.URL.Path, "/base") {
		case "/flaky":
			if flaky.Add(1) < 3 {
				http.Error(w, "try again", http.StatusServiceUnavailable)
				return
			}
		case "/slow":
			time.Sleep(300 * time.Millisecond)
		case "/missing":
			http.Error(w, "no such thing", http.StatusNotFound)
			return
		}
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer srv.Close()
	ws := wstest.New(t, nil)

	_, c, err := runHost(t, fmt.Sprintf(`apis:
  - name: API
    url: %s/base
    default_headers: {Content-Type: application/json, X-Client: "{client_id}"}
    default_timeout: 5
    auth: {username: u, password: "{env:WSPLUG_TEST_PASSWORD}"}
    endpoints:
      - {name: json, path: "/items/{id}", method: post}
      - {name: form, path: /form, method: POST, payload_type: form}
      - {name: query, path: /query, method: GET, payload_type: query}
      - {name: multipart, path: /upload, method: POST, payload_type: multipart, `+
		`headers: {Content-Type: multipart/form-data}}
      - {name: flaky, path: /flaky, method: GET, retry: 3}
      - {name: slow, path: /slow, method: GET, timeout: 0.1}
      - {name: missing, path: /missing, method: GET, retry: 2}
      - {name: local, path: /nowhere, method: null}
    websocket: {url: %q}
`, srv.URL, ws.URL()), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	get := func() seenRequest {
		mu.Lock()
		defer mu.Unlock()
		return last
	}

	resp, err := c.Call(ctx, "json", map[string]any{"n": "{n}", "id": "{client_id}"}, Vars{"id": "a b/c", "n": 7})
	if err != nil || resp.Status != 200 {
		t.Fatalf("json: %v %v", resp, err)
	}
	r := get()
	if r.method != "POST" || r.path != "/base/items/a%20b%2Fc" || r.contentType != "application/json" ||
		r.body != `{"id":"`+c.ClientID()+`","n":7}` || r.custom != c.ClientID() {
		t.Errorf("json request: %+v", r)
	}

	type item struct {
		N  int    `json:"n"`
		By string `json:"by"`
	}
	if _, err := c.Call(ctx, "json", item{N: 5, By: "{client_id}"}, Vars{"id": "s"}); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.body != `{"by":"`+c.ClientID()+`","n":5}` {
		t.Errorf("a struct payload: %+v", r)
	}

	if _, err := c.Call(ctx, "form", map[string]any{"a": "x y", "b": []any{1, 2}}, nil); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.contentType != "application/x-www-form-urlencoded" || r.body != "a=x+y&b=1&b=2" {
		t.Errorf("form request: %+v", r)
	}

	if _, err := c.Call(ctx, "query", map[string]any{"q": "{client_id}"}, nil); err != nil {
		t.Fatal(err)
	}
	if r := get(); r.query != "q="+c.ClientID() || r.body != "" {
		t.Errorf("query request: %+v", r)
	}

	if _, err := c.Call(ctx, "multipart", map[string]any{"image": "cat.png", "overwrite": true}, nil); err != nil {
		t.Fatal(err)
	}
	if r := get(); fmt.Sprint(r.form) != "map[image:[cat.png] overwrite:[true]]" {
		t.Errorf("multipart request: %+v", r)
	}

	if resp, err := c.Call(ctx, "flaky", nil, nil); err != nil || resp.Status != 200 || flaky.Load() != 3 {
		t.Errorf("flaky: %v %v after %d tries", resp, err, flaky.Load())
	}
	start := time.Now()
	if _, err := c.Call(ctx, "slow", nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow: %v", err)
	}
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("the 0.1 s timeout took %s", d)
	}
	resp, err = c.Call(ctx, "missing", nil, nil)
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 404 || resp.Status != 404 {
		t.Errorf("missing: %v %v", resp, err)
	}
	resp, err = c.Call(ctx, "local", map[string]any{"id": "{client_id}"}, nil)
	if err != nil || resp.Status != 0 || string(resp.Body) != `{"id":"`+c.ClientID()+`"}` {
		t.Errorf("method null: %v %v", resp, err)
	}
	if r := get(); r.auth != "u:pw-from-env" {
		t.Errorf("basic auth: %q", r.auth)
	}
	if _, err := c.Call(ctx, "nope", nil, nil); err == nil || !strings.Contains(err.Error(), `no endpoint "nope"`) {
		t.Errorf("unknown endpoint: %v", err)
	}
}

// TestWasmTransformsOnTheWire: the json plugin's wrap on what is sent and
// filter on what arrives, on a live connection.
func TestWasmTransformsOnTheWire(t *testing.T) {
	srv := wstest.New(t, nil)
	_, c, err := runHost(t, comfyConfig(srv.HTTPURL(), srv.URL(),
		"      transforms: {outgoing: [wrap], incoming: [filter]}\n")+`plugins:
  - name: json
    path: `+testplugin.Build(t, "plugins/json")+`
    config:
      wrap: {envelope: {type: prompt}}
      filter: {drop: [crystools.monitor]}
`, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Send(ctx, map[string]any{"id": "{client_id}"}, nil); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitReceived(t, c.ClientID(), 1, 5*time.Second)
	if want := `{"type":"prompt","data":{"id":"` + c.ClientID() + `"}}`; string(got[0]) != want {
		t.Errorf("sent %s, want %s", got[0], want)
	}
	sub := c.Subscribe(Filter{Types: []string{"crystools.monitor", "progress"}})
	srv.SendEvent(c.ClientID(), "crystools.monitor", map[string]any{"cpu": 3})
	srv.SendEvent(c.ClientID(), "progress", map[string]any{"value": 1})
	in, err := sub.Next(ctx)
	if err != nil || in.Type != "progress" {
		t.Errorf("the filter let through %+v (%v)", in, err)
	}
}
