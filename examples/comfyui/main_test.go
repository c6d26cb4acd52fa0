package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/wsplug/wsplug/host"
)

// fakeComfy is just enough of ComfyUI for runPrompt: it sends a prompt's
// events to the websocket of the client id the prompt names.
func fakeComfy(t *testing.T) *httptest.Server {
	var mu sync.Mutex
	conns := map[string]*websocket.Conn{}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		mu.Lock()
		conns[r.URL.Query().Get("clientId")] = c
		mu.Unlock()
		c.Read(r.Context())
	})
	mux.HandleFunc("POST /prompt", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ClientID string `json:"client_id"`
			PromptID string `json:"prompt_id"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		fmt.Fprintf(w, `{"prompt_id":%q}`, req.PromptID)
		// The websocket may be open on the client's side a moment before
		// its handler here has stored it.
		var c *websocket.Conn
		for i := 0; c == nil && i < 200; i++ {
			mu.Lock()
			c = conns[req.ClientID]
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
		if c == nil {
			t.Error("no websocket for the prompt's client id")
			return
		}
		go func() {
			for _, m := range []string{
				`{"type":"execution_start","data":{"prompt_id":"%s"}}`,
				`{"type":"progress","data":{"value":1,"max":2,"prompt_id":"%s"}}`,
				`{"type":"progress","data":{"value":2,"max":2,"prompt_id":"%s"}}`,
				`{"type":"executed","data":{"prompt_id":"%s",` +
					`"output":{"images":[{"filename":"a.png"}]}}}`,
				`{"type":"execution_success","data":{"prompt_id":"%s"}}`,
			} {
				msg := fmt.Sprintf(m, req.PromptID)
				c.Write(context.Background(), websocket.MessageText, []byte(msg))
			}
		}()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestRunPrompt runs the example's flow with its own config, pointed at a
// fake ComfyUI.
func TestRunPrompt(t *testing.T) {
	srv := fakeComfy(t)
	cfg, _ := os.ReadFile("wsplug.yaml")
	addr := strings.TrimPrefix(srv.URL, "http://")
	path := filepath.Join(t.TempDir(), "wsplug.yaml")
	os.WriteFile(path, bytes.ReplaceAll(cfg, []byte("127.0.0.1:8188"), []byte(addr)), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	setup, err := host.LoadConfig(ctx, path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer setup.Close(ctx)
	h, _ := host.New(setup, nil)
	defer h.Close(ctx)
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := h.Client("ComfyUI")
	var out bytes.Buffer
	images, err := runPrompt(ctx, c, map[string]any{"3": map[string]any{}}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(images); got != "[map[filename:a.png]]" {
		t.Errorf("images %s", got)
	}
	want := "execution_start\nprogress 1/2\nprogress 2/2\nexecuted\nexecution_success\n"
	if out.String() != want {
		t.Errorf("printed %q, want %q", out.String(), want)
	}
}
