package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/wsplug/wsplug/host"
)

// demoConfig is a ComfyUI client as ad_discordbot's example has it, with a
// client id from the ids plugin, a JWT from the jwt plugin in its
// Authorization header, and the json plugin's transforms.
const demoConfig = `apis:
  - name: ComfyUI
    url: http://%[1]s
    default_headers: {Content-Type: application/json}
    default_timeout: 10
    endpoints:
      - {name: Queue prompt, path: /prompt, method: POST, payload_type: json}
    websocket:
      url: ws://%[1]s/ws
      client_id_required: true
      client_id_format: ulid
      token_required: true
      auth_token: demo-secret-token
      headers: {Authorization: "Bearer {jwt}"}
      query_params: {clientId: "{client_id}"}
      session_id_from: {type: status, path: data.sid}
      transforms: {outgoing: [wrap], incoming: [filter]}
plugins:
  - name: ids
    path: %[2]s/ids.wasm
    allow: [clock, random]
    limits: {instances: 1}
  - name: jwt
    path: %[2]s/jwt.wasm
    allow: [clock, secrets]
    config: {jwt: {key_from: token, lifetime: 10m, issuer: wsplug-demo}}
  - name: json
    path: %[2]s/json.wasm
    config:
      wrap: {envelope: {type: hello}, field: data}
      filter: {drop: [crystools.monitor]}
`

func runDemo(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	plugins := fs.String("plugins", "plugins",
		"the directory with ids.wasm, jwt.wasm and json.wasm (make plugins)")
	steps := fs.Int("steps", 5, "progress steps of the demo prompt")
	if _, code := parse(fs, args, stdout, 0, 0); code >= 0 {
		return code
	}
	for _, name := range []string{"ids", "jwt", "json"} {
		if _, err := os.Stat(filepath.Join(*plugins, name+".wasm")); err != nil {
			fmt.Fprintf(stderr, "wsplug demo: %v\n"+
				"Build the plugins first: make plugins (or run make demo).\n", err)
			return exitInput
		}
	}
	if err := demo(context.Background(), *plugins, *steps, stdout); err != nil {
		fmt.Fprintf(stderr, "wsplug demo: %v\n", err)
		return exitInput
	}
	return exitOK
}

// demo runs the whole job against a server in this process.
func demo(ctx context.Context, pluginDir string, steps int, w io.Writer) error {
	start := time.Now()
	say := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	srv, err := startComfy(say)
	if err != nil {
		return err
	}
	defer srv.close()
	say("A ComfyUI-like server listens on %s, in this process.", srv.addr)

	s, err := demoLoad(ctx, pluginDir, srv.addr, say)
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	// The job has a minute; loading, which compiles the plugins when their
	// compiled code is not cached yet, is not part of it.
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()

	h, err := host.New(s, &host.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer h.Close(context.Background())
	c, _ := h.Client("ComfyUI")
	everything := c.Subscribe(host.Filter{Frames: host.AllFrames, Buffer: 1024})
	if err := demoConnect(ctx, h, c, srv, say); err != nil {
		return err
	}

	if err := demoHello(ctx, c, srv, say); err != nil {
		return err
	}

	image, err := demoPrompt(ctx, c, steps, say)
	if err != nil {
		return err
	}

	demoReport(everything, srv, say)
	say("Done: %v in %s.", image, time.Since(start).Round(time.Millisecond))
	return nil
}

// demoLoad writes the demo's config for the server and loads it with the
// plugins, telling what each provides.
func demoLoad(ctx context.Context, pluginDir, addr string, say sayFunc) (*host.Setup, error) {
	abs, err := filepath.Abs(pluginDir)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "wsplug-demo")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir) // read once, by LoadConfig
	path := filepath.Join(dir, "wsplug.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, demoConfig, addr, abs), 0o600); err != nil {
		return nil, err
	}
	s, err := host.LoadConfig(ctx, path, nil, nil)
	if err != nil {
		return nil, err
	}
	for _, p := range s.Plugins {
		pv := p.Provides()
		var what []string
		for _, n := range pv.ClientIDs {
			what = append(what, "client_id "+n)
		}
		for _, ph := range pv.Placeholders {
			what = append(what, "{"+ph.Name+"}")
		}
		for _, n := range pv.Transforms {
			what = append(what, "transform "+n)
		}
		say("Loaded plugin %-5s %s", p.Name(), strings.Join(what, ", "))
	}
	return s, nil
}

// demoConnect starts the client and tells what it dialled with, what the
// server saw, and the session id the server gave.
func demoConnect(ctx context.Context, h *host.Host, c *host.Client, srv *comfy, say sayFunc) error {
	if err := h.Start(ctx); err != nil {
		return err
	}
	say("Client id (ulid, from the ids plugin): %s", c.ClientID())
	say("Dialled %s  (the token is redacted)", c.Stats().URL)
	if hs := srv.lastHandshake(); hs != nil {
		jwt := strings.TrimPrefix(hs.Get("Authorization"), "Bearer ")
		say("The server saw Authorization: Bearer "+
			"<a JWT of %d characters, signed by the jwt plugin>", len(jwt))
	}
	if _, err := c.Wait(ctx, host.StateConnected); err != nil {
		return err
	}
	for c.Values().SessionID == "" {
		if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
			return fmt.Errorf("no session id from the server's status message: %w", err)
		}
	}
	say("Session id, read from ComfyUI's status message (data.sid): %s", c.Values().SessionID)
	return nil
}

// demoHello sends a message and shows what the outgoing transform made of
// it.
func demoHello(ctx context.Context, c *host.Client, srv *comfy, say sayFunc) error {
	if err := c.Send(ctx, map[string]any{"client": "{client_id}", "note": "hi"}, nil); err != nil {
		return err
	}
	say("Sent {\"client\":\"{client_id}\",\"note\":\"hi\"}; the json plugin's wrap made it:")
	say("    %s", srv.waitReceived(ctx))
	return nil
}

// demoPrompt queues a prompt over HTTP with the client's id and follows its
// events on the websocket to the end; it returns the image's name.
func demoPrompt(ctx context.Context, c *host.Client, steps int, say sayFunc) (any, error) {
	promptID := fmt.Sprintf("demo-%d", time.Now().UnixNano())
	track := c.Subscribe(host.Filter{
		Types: []string{"execution_start", "executing", "progress", "executed",
			"execution_success"},
		Where:   map[string]any{"data.prompt_id": promptID},
		Until:   map[string]any{"type": "execution_success"},
		Extract: map[string]string{"image": "data.output.images.0.filename"},
		Idle:    20 * time.Second,
	})
	resp, err := c.Call(ctx, "Queue prompt", map[string]any{
		"prompt":    map[string]any{"3": map[string]any{"class_type": "KSampler"}, "_steps": steps},
		"client_id": "{client_id}",
		"prompt_id": "{id}",
	}, host.Vars{"id": promptID})
	if err != nil {
		return nil, err
	}
	say("POST /prompt with the same client id: HTTP %d %s", resp.Status,
		strings.TrimSpace(string(resp.Body)))
	for {
		in, err := track.Next(ctx)
		if err != nil {
			return nil, err
		}
		if in == nil {
			break
		}
		switch in.Type {
		case "progress":
			v, _ := in.Field("data.value")
			m, _ := in.Field("data.max")
			say("    progress %v/%v %s", v, m, bar(v, m))
		case "executed":
			img, _ := in.Field("data.output.images.0.filename")
			say("    executed: %v", img)
		default:
			say("    %s", in.Type)
		}
	}
	result, err := track.Wait(ctx)
	if err != nil {
		return nil, err
	}
	return result["image"], nil
}

// demoReport tells what came in besides the prompt's events: the previews,
// and what the filter let through of the noise.
func demoReport(everything *host.Subscription, srv *comfy, say sayFunc) {
	time.Sleep(20 * time.Millisecond) // for the last frames in flight
	everything.Close()
	previews, monitors := 0, 0
	for in := range everything.Messages() {
		switch {
		case in.Binary:
			previews++
		case in.Type == "crystools.monitor":
			monitors++
		}
	}
	say("Binary preview frames received: %d", previews)
	say("crystools.monitor messages: the server sent %d, the json plugin's filter let %d through",
		srv.monitors(), monitors)
}

// sayFunc prints one line of the demo's story.
type sayFunc func(format string, args ...any)

func bar(v, m any) string {
	vf, _ := v.(float64)
	mf, _ := m.(float64)
	if mf <= 0 {
		return ""
	}
	n := int(20 * vf / mf)
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", 20-n) + "]"
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// comfy is the demo's ComfyUI-like server: a status greeting with the
// session id, POST /prompt running a prompt's events on the client's
// websocket, a preview frame, and crystools.monitor noise for the filter.
type comfy struct {
	addr string
	srv  *http.Server
	say  sayFunc

	mu        sync.Mutex
	conns     map[string]*websocket.Conn
	handshake http.Header
	received  chan string
	monitor   int
	wg        sync.WaitGroup
}

func startComfy(say sayFunc) (*comfy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	c := &comfy{addr: ln.Addr().String(), say: say, conns: map[string]*websocket.Conn{},
		received: make(chan string, 16)}
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", c.serveWS)
	mux.HandleFunc("POST /prompt", c.servePrompt)
	c.srv = &http.Server{Handler: mux}
	go c.srv.Serve(ln)
	return c, nil
}

func (c *comfy) close() {
	c.srv.Close()
	c.mu.Lock()
	for _, conn := range c.conns {
		conn.CloseNow()
	}
	c.mu.Unlock()
	c.wg.Wait()
}

func (c *comfy) lastHandshake() http.Header {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.handshake
}

func (c *comfy) monitors() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.monitor
}

func (c *comfy) waitReceived(ctx context.Context) string {
	select {
	case m := <-c.received:
		return m
	case <-ctx.Done():
		return "(nothing arrived)"
	}
}

func (c *comfy) serveWS(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("clientId")
	conn, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	c.wg.Add(1)
	defer c.wg.Done()
	c.mu.Lock()
	c.conns[id] = conn
	c.handshake = r.Header.Clone()
	c.mu.Unlock()
	c.event(id, "status", map[string]any{
		"status": map[string]any{"exec_info": map[string]any{"queue_remaining": 0}},
		"sid":    id,
	})
	for {
		_, data, err := conn.Read(r.Context())
		if err != nil {
			return
		}
		select {
		case c.received <- string(data):
		default:
		}
	}
}

// event sends {"type":typ,"data":data} to the client's connection.
func (c *comfy) event(id, typ string, data any) {
	b, _ := json.Marshal(map[string]any{"type": typ, "data": data})
	c.send(id, websocket.MessageText, b)
}

func (c *comfy) send(id string, typ websocket.MessageType, b []byte) {
	c.mu.Lock()
	conn := c.conns[id]
	c.mu.Unlock()
	if conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn.Write(ctx, typ, b)
	}
}

func (c *comfy) servePrompt(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Prompt   map[string]any `json:"prompt"`
		ClientID string         `json:"client_id"`
		PromptID string         `json:"prompt_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Prompt == nil {
		http.Error(w, `{"error":"a prompt is needed"}`, http.StatusBadRequest)
		return
	}
	if req.PromptID == "" {
		req.PromptID = fmt.Sprintf("p-%d", time.Now().UnixNano())
	}
	steps := 3
	if n, ok := req.Prompt["_steps"].(float64); ok {
		steps = int(n)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"prompt_id": req.PromptID, "number": 0, "node_errors": map[string]any{},
	})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run(req.ClientID, req.PromptID, steps)
	}()
}

// run sends a prompt's events, as ComfyUI does while it renders.
func (c *comfy) run(id, p string, steps int) {
	pause := func() { time.Sleep(40 * time.Millisecond) }
	c.event(id, "execution_start", map[string]any{"prompt_id": p})
	c.event(id, "executing", map[string]any{"node": "3", "prompt_id": p})
	for v := 1; v <= steps; v++ {
		pause()
		c.event(id, "progress",
			map[string]any{"value": v, "max": steps, "prompt_id": p, "node": "3"})
		c.send(id, websocket.MessageBinary, append([]byte{0, 0, 0, 1, 0, 0, 0, 2}, "PNGDATA"...))
		c.mu.Lock()
		c.monitor++
		c.mu.Unlock()
		c.event(id, "crystools.monitor", map[string]any{"cpu_utilization": 40 + v})
	}
	pause()
	image := map[string]any{"filename": "ComfyUI_00001_.png", "type": "output"}
	c.event(id, "executed", map[string]any{"node": "9", "prompt_id": p,
		"output": map[string]any{"images": []any{image}}})
	c.event(id, "execution_success", map[string]any{"prompt_id": p})
}
