package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/wsplug/wsplug/config"
	"github.com/wsplug/wsplug/host"
)

// echoServer answers every text message with "echo: " and the message.
func echoServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			_, msg, err := c.Read(r.Context())
			if err != nil {
				return
			}
			c.Write(r.Context(), websocket.MessageText, append([]byte("echo: "), msg...))
		}
	}))
}

// writeConfig writes a config file in a directory of its own, which
// cleanup removes.
func writeConfig(yaml string) (path string, cleanup func()) {
	dir, _ := os.MkdirTemp("", "wsplug-example")
	path = filepath.Join(dir, "wsplug.yaml")
	os.WriteFile(path, []byte(yaml), 0o600)
	return path, func() { os.RemoveAll(dir) }
}

// promptServer plays ComfyUI for a prompt: asked for one by its id, it
// sends the prompt's events, interleaved with another prompt's progress, a
// preview frame and monitoring noise, as ComfyUI does; and one event after
// the prompt is done.
func promptServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		_, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		var req struct {
			PromptID string `json:"prompt_id"`
		}
		json.Unmarshal(msg, &req)
		for _, e := range []string{
			`{"type":"execution_start","data":{"prompt_id":"PROMPT"}}`,
			`{"type":"progress","data":{"prompt_id":"other","value":1,"max":9}}`,
			`{"type":"progress","data":{"prompt_id":"PROMPT","value":1,"max":2}}`,
			`{"type":"crystools.monitor","data":{"cpu_utilization":40}}`,
			"preview",
			`{"type":"progress","data":{"prompt_id":"PROMPT","value":2,"max":2}}`,
			`{"type":"executed","data":{"prompt_id":"PROMPT",` +
				`"output":{"images":[{"filename":"ComfyUI_00001_.png"}]}}}`,
			`{"type":"execution_success","data":{"prompt_id":"PROMPT"}}`,
			`{"type":"progress","data":{"prompt_id":"PROMPT","value":3,"max":2}}`,
		} {
			if e == "preview" {
				c.Write(r.Context(), websocket.MessageBinary, []byte{0, 0, 0, 1, 'P', 'N', 'G'})
				continue
			}
			e = strings.ReplaceAll(e, "PROMPT", req.PromptID)
			c.Write(r.Context(), websocket.MessageText, []byte(e))
		}
		c.Read(r.Context()) // until the client closes
	}))
}

// A program that embeds the host: a Go client id format registered beside
// whatever plugins the config loads, a message sent, the answer read.
func Example() {
	srv := echoServer()
	defer srv.Close()
	ctx := context.Background()

	reg := host.NewRegistry()
	reg.RegisterClientIDFormat("ticket", config.ClientIDFunc(func(context.Context) (string, error) {
		return "ticket-0042", nil
	}))
	path, cleanup := writeConfig(`apis:
  - name: Echo
    url: ` + srv.URL + `
    websocket:
      client_id_required: true
      client_id_format: ticket
`)
	defer cleanup()
	s, err := host.LoadConfig(ctx, path, reg, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close(ctx)
	h, _ := host.New(s, nil)
	defer h.Close(ctx)
	if err := h.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}

	c, _ := h.Client("Echo")
	replies := c.Subscribe(host.Filter{})
	c.Send(ctx, `{"from":"{client_id}"}`, nil)
	in, _ := replies.Next(ctx)
	fmt.Println(c.ClientID())
	fmt.Println(strings.TrimPrefix(c.Stats().URL, "ws"+strings.TrimPrefix(srv.URL, "http")))
	fmt.Println(string(in.Data))
	// Output:
	// ticket-0042
	// /ws?clientId=ticket-0042
	// echo: {"from":"ticket-0042"}
}

// A Go transform registered by the embedding program runs on every
// outgoing message of the clients that name it.
func ExampleRegistry_RegisterTransform() {
	reg := host.NewRegistry()
	shout := func(_ context.Context, m *host.Message) (host.Action, error) {
		if m.Binary {
			return host.Pass, nil
		}
		m.Data = []byte(strings.ToUpper(string(m.Data)))
		return host.Replace, nil
	}
	reg.RegisterTransform("shout", host.TransformFunc(shout))
	fmt.Println(reg.Transforms(), reg.Provider("transform", "shout"))
	// Output:
	// [shout] go
}

// Subscriptions pick messages by type and data, end on a condition, and
// collect values on the way: the ComfyUI prompt-tracking pattern. Of what
// the server sends, only the prompt's progress and results come through,
// and nothing after its execution_success.
func ExampleClient_Subscribe() {
	srv := promptServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	path, cleanup := writeConfig("apis:\n  - name: ComfyUI\n    url: " + srv.URL +
		"\n    websocket: {}\n")
	defer cleanup()
	s, err := host.LoadConfig(ctx, path, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close(ctx)
	h, _ := host.New(s, nil)
	defer h.Close(ctx)
	if err := h.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}
	c, _ := h.Client("ComfyUI")

	sub := c.Subscribe(host.Filter{
		Types:   []string{"progress", "executed", "execution_success"},
		Where:   map[string]any{"data.prompt_id": "p-1"},
		Until:   map[string]any{"type": "execution_success"},
		Extract: map[string]string{"image": "data.output.images.0.filename"},
	})
	if err := c.Send(ctx, `{"prompt_id":"p-1"}`, nil); err != nil {
		fmt.Println(err)
		return
	}
	for {
		in, err := sub.Next(ctx)
		if in == nil {
			fmt.Println("ended:", err)
			break
		}
		if v, ok := in.Field("data.value"); ok {
			m, _ := in.Field("data.max")
			fmt.Printf("%s %v/%v\n", in.Type, v, m)
			continue
		}
		fmt.Println(in.Type)
	}
	values, err := sub.Wait(ctx)
	fmt.Println(values["image"], err)
	// Output:
	// progress 1/2
	// progress 2/2
	// executed
	// execution_success
	// ended: <nil>
	// ComfyUI_00001_.png <nil>
}

// A subscription on the host, made before Start, sees the messages of
// every client, those of a client that a Reload adds included, from its
// connection's first message on.
func ExampleHost_Subscribe() {
	srv := echoServer()
	defer srv.Close()
	ctx := context.Background()
	config := func(names ...string) string {
		yaml := "apis:\n"
		for _, name := range names {
			yaml += "  - {name: " + name + ", url: " + srv.URL + ", websocket: {}}\n"
		}
		return yaml
	}
	path, cleanup := writeConfig(config("A"))
	defer cleanup()
	first, err := host.LoadConfig(ctx, path, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	h, _ := host.New(first, nil)
	all := h.Subscribe(host.Filter{})
	if err := h.Start(ctx); err != nil {
		fmt.Println(err)
		return
	}

	os.WriteFile(path, []byte(config("A", "B")), 0o600)
	second, err := host.LoadConfig(ctx, path, nil, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	h.Reload(ctx, second) // B connects in the background
	first.Close(ctx)
	b, _ := h.Client("B")
	b.Wait(ctx, host.StateConnected)

	for _, name := range []string{"A", "B"} {
		c, _ := h.Client(name)
		c.Send(ctx, "hello from "+name, nil)
		in, _ := all.Next(ctx)
		fmt.Printf("%s: %s\n", in.API, in.Data)
	}
	h.Close(ctx)
	second.Close(ctx)
	// Output:
	// A: echo: hello from A
	// B: echo: hello from B
}
