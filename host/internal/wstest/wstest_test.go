package wstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
)

const waitFor = 5 * time.Second

// dial connects a coder/websocket client to s as clientID ("" sends no
// clientId) and closes it when the test ends.
func dial(t *testing.T, s *Server, clientID string) *websocket.Conn {
	t.Helper()
	c, err := tryDial(t, s, clientID, nil)
	if err != nil {
		t.Fatalf("dial %q: %v", clientID, err)
	}
	return c
}

func tryDial(t *testing.T, s *Server, clientID string,
	opts *websocket.DialOptions) (*websocket.Conn, error) {
	t.Helper()
	u := s.URL()
	if clientID != "" {
		u += "?clientId=" + url.QueryEscape(clientID)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, u, opts)
	if err != nil {
		if resp != nil && resp.StatusCode != 0 {
			return nil, &dialError{status: resp.StatusCode, err: err}
		}
		return nil, err
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	return c, nil
}

type dialError struct {
	status int
	err    error
}

func (e *dialError) Error() string { return e.err.Error() }

// msg is a decoded ComfyUI-style event.
type msg struct {
	Type string         `json:"type"`
	Data map[string]any `json:"data"`
}

func read(t *testing.T, c *websocket.Conn) (websocket.MessageType, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	typ, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, b
}

func readEvent(t *testing.T, c *websocket.Conn) msg {
	t.Helper()
	typ, b := read(t, c)
	if typ != websocket.MessageText {
		t.Fatalf("got %v message %q, want text", typ, b)
	}
	var m msg
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %q: %v", b, err)
	}
	return m
}

// readErrs reads c in a goroutine until an error, which it delivers;
// data messages before it are discarded. While it runs, pongs are read.
func readErrs(c *websocket.Conn) <-chan error {
	errc := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.Read(context.Background()); err != nil {
				errc <- err
				return
			}
		}
	}()
	return errc
}

// readErr waits for the error that ends reading errc's connection.
func readErr(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(waitFor):
		t.Fatalf("read did not fail within %v", waitFor)
		return nil
	}
}

func write(t *testing.T, c *websocket.Conn, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(s)); err != nil {
		t.Fatalf("write %q: %v", s, err)
	}
}

func post(t *testing.T, s *Server, path, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(s.HTTPURL()+path, "application/json",
		strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	return decodeResponse(t, resp)
}

func get(t *testing.T, s *Server, path string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(s.HTTPURL() + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return decodeResponse(t, resp)
}

func decodeResponse(t *testing.T, resp *http.Response) (int, map[string]any) {
	t.Helper()
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatalf("decode response: %v", err)
	}
	return resp.StatusCode, m
}

func TestGreeting(t *testing.T) {
	tests := []struct {
		name     string
		opts     *Options
		clientID string // "" dials without clientId
		wantSID  string // "" means a generated one
	}{
		{name: "given id", clientID: "alice", wantSID: "alice"},
		{name: "generated id"},
		{name: "no greeting", opts: &Options{NoGreeting: true}, clientID: "bob"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, tt.opts)
			c := dial(t, s, tt.clientID)
			hs := s.WaitHandshakes(t, 1, waitFor)
			id := hs[0].ClientID
			s.WaitConnected(t, id, waitFor)
			if tt.opts != nil && tt.opts.NoGreeting {
				// The first message must be this one.
				s.SendEvent(id, "marker", map[string]any{})
				if m := readEvent(t, c); m.Type != "marker" {
					t.Fatalf("first message %q, want marker", m.Type)
				}
				return
			}
			m := readEvent(t, c)
			if m.Type != "status" {
				t.Fatalf("type %q, want status", m.Type)
			}
			sid, _ := m.Data["sid"].(string)
			if sid != id || (tt.wantSID != "" && sid != tt.wantSID) || sid == "" {
				t.Fatalf("sid %q, handshake id %q, want %q", sid, id, tt.wantSID)
			}
			st, _ := m.Data["status"].(map[string]any)
			ei, _ := st["exec_info"].(map[string]any)
			if q, ok := ei["queue_remaining"].(float64); !ok || q != 0 {
				t.Fatalf("queue_remaining = %v in %v", ei["queue_remaining"], m.Data)
			}
		})
	}
}

func TestEcho(t *testing.T) {
	tests := []struct {
		name string
		echo bool
		sent []string
		want []string
	}{
		{
			name: "echo on",
			echo: true,
			sent: []string{"plain", `{"type":"x"}`},
			want: []string{"plain", `{"type":"x"}`},
		},
		{
			name: "echo off: only type echo",
			sent: []string{"plain", `{"type":"x"}`, `{"type":"echo","data":1}`},
			want: []string{`{"type":"echo","data":1}`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, &Options{Echo: tt.echo})
			c := dial(t, s, "e")
			readEvent(t, c) // greeting
			for _, m := range tt.sent {
				write(t, c, m)
			}
			s.WaitReceived(t, "e", len(tt.sent), waitFor)
			for _, want := range tt.want {
				if _, b := read(t, c); string(b) != want {
					t.Fatalf("got %q, want %q", b, want)
				}
			}
			// Nothing more: a marker sent now must come next.
			s.SendEvent("e", "marker", nil)
			if m := readEvent(t, c); m.Type != "marker" {
				t.Fatalf("unexpected extra message of type %q", m.Type)
			}
		})
	}
}

func TestComfyFlow(t *testing.T) {
	tests := []struct {
		name   string
		prompt string
		steps  int
		anyone bool // no client_id: sent to every connection
	}{
		{name: "default steps", prompt: `{"3":{"class_type":"KSampler"}}`, steps: 3},
		{name: "one step", prompt: `{"_steps":1}`, steps: 1},
		{name: "five steps", prompt: `{"_steps":5,"9":{}}`, steps: 5},
		{name: "no steps", prompt: `{"_steps":0}`, steps: 0},
		{name: "no client_id", prompt: `{}`, steps: 3, anyone: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, nil)
			c := dial(t, s, "flow")
			readEvent(t, c) // greeting
			body := `{"prompt":` + tt.prompt + `,"client_id":"flow"}`
			if tt.anyone {
				body = `{"prompt":` + tt.prompt + `}`
			}
			code, resp := post(t, s, "/prompt", body)
			if code != http.StatusOK {
				t.Fatalf("status %d: %v", code, resp)
			}
			pid, _ := resp["prompt_id"].(string)
			if pid == "" || resp["number"] == nil || resp["node_errors"] == nil {
				t.Fatalf("response %v", resp)
			}
			want := []string{"execution_start", "executing"}
			for v := 1; v <= tt.steps; v++ {
				want = append(want, "progress")
				if v == 1 {
					want = append(want, "preview")
				}
			}
			want = append(want, "executed", "execution_success",
				"executing", "status")
			var got []string
			v := 0
			for range want {
				typ, b := read(t, c)
				if typ == websocket.MessageBinary {
					if !bytes.Equal(b, PreviewFrame()) {
						t.Fatalf("preview %v", b)
					}
					got = append(got, "preview")
					continue
				}
				var m msg
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				got = append(got, m.Type)
				if m.Type != "status" && m.Data["prompt_id"] != pid {
					t.Fatalf("%s has prompt_id %v, want %s", m.Type,
						m.Data["prompt_id"], pid)
				}
				switch m.Type {
				case "progress":
					v++
					if m.Data["value"] != float64(v) ||
						m.Data["max"] != float64(tt.steps) ||
						m.Data["node"] != "3" {
						t.Fatalf("progress %v, want value %d", m.Data, v)
					}
				case "executed":
					out, _ := m.Data["output"].(map[string]any)
					imgs, _ := out["images"].([]any)
					img, _ := imgs[0].(map[string]any)
					if m.Data["node"] != "9" || img["filename"] != "out.png" ||
						img["type"] != "output" {
						t.Fatalf("executed %v", m.Data)
					}
				}
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("order\n got %v\nwant %v", got, want)
			}
			_, h := get(t, s, "/history/"+pid)
			entry, _ := h[pid].(map[string]any)
			st, _ := entry["status"].(map[string]any)
			if st["completed"] != true {
				t.Fatalf("history %v", h)
			}
		})
	}
}

func TestPromptBadRequest(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{name: "bad JSON", body: `{"prompt":`},
		{name: "no prompt", body: `{"client_id":"x"}`},
		{name: "null prompt", body: `{"prompt":null}`},
		{name: "array prompt", body: `{"prompt":[1,2]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, nil)
			code, resp := post(t, s, "/prompt", tt.body)
			if msg, _ := resp["error"].(string); code != 400 || msg == "" {
				t.Fatalf("got %d %v, want 400 with error", code, resp)
			}
		})
	}
}

func TestHistoryEmptyUntilDone(t *testing.T) {
	tests := []struct {
		name string
		id   func(t *testing.T, s *Server) string
	}{
		{name: "unknown prompt", id: func(*testing.T, *Server) string { return "nope" }},
		{name: "running prompt", id: func(t *testing.T, s *Server) string {
			_, resp := post(t, s, "/prompt", `{"prompt":{},"client_id":"h"}`)
			return resp["prompt_id"].(string)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The prompt never gets past its first delay; Close
			// must still return promptly.
			s := New(t, &Options{StepDelay: time.Hour})
			code, h := get(t, s, "/history/"+tt.id(t, s))
			if code != 200 || len(h) != 0 {
				t.Fatalf("got %d %v, want 200 {}", code, h)
			}
		})
	}
}

func TestReceivedOrderAcrossReconnects(t *testing.T) {
	tests := []struct {
		name   string
		rounds [][]string // messages per connection
	}{
		{name: "one connection", rounds: [][]string{{"a", "b", "c", "d", "e"}}},
		{name: "three connections", rounds: [][]string{{"1", "2"}, {"3"}, {"4", "5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, nil)
			var want []string
			for _, round := range tt.rounds {
				c := dial(t, s, "r")
				for _, m := range round {
					write(t, c, m)
				}
				want = append(want, round...)
				s.WaitReceived(t, "r", len(want), waitFor)
				_ = c.Close(websocket.StatusNormalClosure, "")
			}
			var got []string
			for _, b := range s.Received("r") {
				got = append(got, string(b))
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("got %v, want %v", got, want)
			}
			if n := len(s.Received("other")); n != 0 {
				t.Fatalf("other client has %d messages", n)
			}
		})
	}
}

func TestRefuseNext(t *testing.T) {
	tests := []struct {
		name    string
		status  int
		n       int
		refused int // dials expected to fail before one succeeds
	}{
		{name: "401 once", status: 401, n: 1, refused: 1},
		{name: "503 twice", status: 503, n: 2, refused: 2},
		{name: "until cleared", status: 403, n: -1, refused: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, nil)
			s.RefuseNext(tt.status, tt.n)
			for i := 0; i < tt.refused; i++ {
				_, err := tryDial(t, s, "x", nil)
				var de *dialError
				if !errors.As(err, &de) || de.status != tt.status {
					t.Fatalf("dial %d: %v, want status %d", i, err, tt.status)
				}
			}
			if tt.n < 0 {
				s.RefuseNext(0, 0)
			}
			c := dial(t, s, "x")
			readEvent(t, c)
			hs := s.Handshakes()
			if len(hs) != tt.refused+1 {
				t.Fatalf("%d handshakes, want %d", len(hs), tt.refused+1)
			}
			for i, h := range hs[:tt.refused] {
				if h.Status != tt.status {
					t.Fatalf("handshake %d status %d", i, h.Status)
				}
			}
			if last := hs[tt.refused].Status; last != 101 {
				t.Fatalf("last handshake status %d, want 101", last)
			}
		})
	}
}

func TestHandshakesRecorded(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		wantStatus int
	}{
		{name: "ws path", path: "/ws", wantStatus: 101},
		{name: "wrong path", path: "/socket", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, nil)
			u := "ws://" + s.Addr() + tt.path + "?clientId=h1&token=abc"
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{
				HTTPHeader: http.Header{"Authorization": {"Bearer t"}},
			})
			if err == nil {
				defer c.CloseNow()
			}
			hs := s.WaitHandshakes(t, 1, waitFor)
			if len(hs) != 1 {
				t.Fatalf("%d handshakes", len(hs))
			}
			h := hs[0]
			if h.Path != tt.path || h.Status != tt.wantStatus ||
				h.ClientID != "h1" || h.Query.Get("token") != "abc" ||
				h.Header.Get("Authorization") != "Bearer t" {
				t.Fatalf("handshake %+v", h)
			}
			reqs := s.Requests()
			if len(reqs) != 1 || reqs[0].Path != tt.path {
				t.Fatalf("requests %+v", reqs)
			}
		})
	}
}

func TestRequestsAndHandler(t *testing.T) {
	extra := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body) // the recorded body is still readable
		_, _ = w.Write([]byte(`{"got":"` + r.URL.Path + ":" + string(b) + `"}`))
	})
	tests := []struct {
		name    string
		handler http.Handler
		wantGot any // nil means 404
	}{
		{name: "extra route", handler: extra, wantGot: "/upload:hello"},
		{name: "no handler"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, &Options{Handler: tt.handler})
			req, _ := http.NewRequest("PUT", s.HTTPURL()+"/upload?x=1",
				strings.NewReader("hello"))
			req.Header.Set("X-Test", "yes")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tt.wantGot == nil {
				if resp.StatusCode != 404 {
					t.Fatalf("status %d", resp.StatusCode)
				}
			} else {
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil || m["got"] != tt.wantGot {
					t.Fatalf("body %q (%v)", b, err)
				}
			}
			reqs := s.Requests()
			if len(reqs) != 1 {
				t.Fatalf("requests %+v", reqs)
			}
			r := reqs[0]
			if r.Method != "PUT" || r.Path != "/upload" || r.Query.Get("x") != "1" ||
				r.Header.Get("X-Test") != "yes" || string(r.Body) != "hello" {
				t.Fatalf("request %+v", r)
			}
		})
	}
}

func TestDropAndReset(t *testing.T) {
	tests := []struct {
		name  string
		cut   func(*Server, string) int
		muted bool // with a ping parked in the server's reader
	}{
		{name: "drop", cut: (*Server).Drop},
		{name: "reset", cut: (*Server).Reset},
		{name: "drop muted", cut: (*Server).Drop, muted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, nil)
			c := dial(t, s, "d")
			readEvent(t, c)
			s.WaitConnected(t, "d", waitFor)
			if got := s.Clients(); len(got) != 1 || got[0] != "d" {
				t.Fatalf("clients %v", got)
			}
			errc := readErrs(c)
			if tt.muted {
				s.Mute("d")
				ctx, cancel := context.WithTimeout(context.Background(),
					100*time.Millisecond)
				defer cancel()
				if err := c.Ping(ctx); err == nil {
					t.Fatal("muted server answered a ping")
				}
			}
			if n := tt.cut(s, "d"); n != 1 {
				t.Fatalf("cut %d connections", n)
			}
			if n := s.Connections("d"); n != 0 {
				t.Fatalf("%d connections left", n)
			}
			err := readErr(t, errc)
			if code := websocket.CloseStatus(err); code != -1 {
				t.Fatalf("close status %v (%v), want none", code, err)
			}
			ds := s.Disconnects("d")
			if len(ds) != 1 || ds[0].Code != -1 || len(s.Clients()) != 0 {
				t.Fatalf("disconnects %+v, clients %v", ds, s.Clients())
			}
			// The client can come back.
			c2 := dial(t, s, "d")
			readEvent(t, c2)
		})
	}
}

func TestCloseClient(t *testing.T) {
	tests := []struct {
		name   string
		code   websocket.StatusCode
		reason string
		muted  bool // with a ping parked in the server's reader
	}{
		{name: "normal", code: websocket.StatusNormalClosure},
		{name: "going away", code: websocket.StatusGoingAway, reason: "restart"},
		{name: "private", code: 4001, reason: "bye"},
		{name: "muted, ping pending", code: 4002, reason: "x", muted: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, nil)
			c := dial(t, s, "cc")
			readEvent(t, c)
			s.WaitConnected(t, "cc", waitFor)
			errc := readErrs(c) // the client must read to answer the close
			if tt.muted {
				s.Mute("cc")
				ctx, cancel := context.WithTimeout(context.Background(),
					100*time.Millisecond)
				defer cancel()
				if err := c.Ping(ctx); err == nil {
					t.Fatal("muted server answered a ping")
				}
			}
			start := time.Now()
			if n := s.CloseClient("cc", tt.code, tt.reason); n != 1 {
				t.Fatalf("closed %d", n)
			}
			err := readErr(t, errc)
			var ce websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != tt.code || ce.Reason != tt.reason {
				t.Fatalf("client error %v, want code %v reason %q",
					err, tt.code, tt.reason)
			}
			if n := s.Connections("cc"); n != 0 {
				t.Fatalf("%d connections left", n)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("CloseClient took %v", d)
			}
		})
	}
}

func TestMute(t *testing.T) {
	tests := []struct {
		name    string
		pending bool // a message arrives while muted, before the ping
	}{
		{name: "idle"},
		{name: "message pending", pending: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, nil)
			c := dial(t, s, "m")
			readEvent(t, c)
			s.WaitConnected(t, "m", waitFor)
			errc := readErrs(c) // pongs reach the client only while it reads
			ping := func(timeout time.Duration) error {
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				return c.Ping(ctx)
			}
			if err := ping(waitFor); err != nil {
				t.Fatalf("ping before mute: %v", err)
			}
			if n := s.Mute("m"); n != 1 {
				t.Fatalf("muted %d", n)
			}
			if tt.pending {
				write(t, c, "while muted")
			}
			err := ping(200 * time.Millisecond)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("ping while muted: %v, want deadline exceeded", err)
			}
			if n := len(s.Received("m")); n != 0 {
				t.Fatalf("%d messages read while muted", n)
			}
			if n := s.Unmute("m"); n != 1 {
				t.Fatalf("unmuted %d", n)
			}
			if err := ping(waitFor); err != nil {
				t.Fatalf("ping after unmute: %v", err)
			}
			if tt.pending {
				s.WaitReceived(t, "m", 1, waitFor)
			}
			_ = c.CloseNow()
			readErr(t, errc)
		})
	}
}

func TestMuteDoesNotBlockClose(t *testing.T) {
	s := New(t, nil)
	c := dial(t, s, "m")
	s.WaitConnected(t, "m", waitFor)
	readErrs(c)
	s.Mute("m")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = c.Ping(ctx) // parks the server's reader in the muted ping
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Close took %v with a muted connection", d)
	}
}

// TestInvalidUTF8 pins down what coder/websocket does with a text frame
// that is not UTF-8: it checks UTF-8 neither when writing nor when reading,
// so the client gets the bytes as a text message with no error and the
// connection stays usable. A client must validate text messages itself.
func TestInvalidUTF8(t *testing.T) {
	tests := []struct {
		name string
		send func(*Server, string) int
		want []byte
	}{
		{name: "ff fe fd", send: (*Server).SendInvalidUTF8,
			want: []byte{0xff, 0xfe, 0xfd}},
		{name: "lone continuation byte", send: func(s *Server, id string) int {
			return s.Send(id, websocket.MessageText, []byte("a\x80b"))
		}, want: []byte("a\x80b")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, nil)
			c := dial(t, s, "u")
			readEvent(t, c)
			if n := tt.send(s, "u"); n != 1 {
				t.Fatalf("sent to %d", n)
			}
			typ, b := read(t, c)
			if typ != websocket.MessageText || !bytes.Equal(b, tt.want) ||
				utf8.Valid(b) {
				t.Fatalf("got %v %x, want text %x", typ, b, tt.want)
			}
			s.SendEvent("u", "after", nil)
			if m := readEvent(t, c); m.Type != "after" {
				t.Fatalf("next message %q", m.Type)
			}
		})
	}
}

// TestOversize pins down coder/websocket's read limit: a message over the
// limit fails Read with an error wrapping ErrMessageTooBig whose
// CloseStatus is -1 (it is not a CloseError); the 1009 status goes to the
// peer in the close frame the reader sends, which the server records.
func TestOversize(t *testing.T) {
	const limit = 1024
	tests := []struct {
		name    string
		size    int
		tooBig  bool
		minimal bool
	}{
		{name: "at limit", size: limit},
		{name: "one over", size: limit + 1, tooBig: true},
		{name: "far over", size: 1 << 20, tooBig: true},
		{name: "tiny", size: 5, minimal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, nil)
			c := dial(t, s, "o")
			c.SetReadLimit(limit)
			readEvent(t, c)
			s.WaitConnected(t, "o", waitFor)
			if n := s.SendOversize("o", tt.size); n != 1 {
				t.Fatalf("sent to %d", n)
			}
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			typ, b, err := c.Read(ctx)
			if !tt.tooBig {
				if err != nil || typ != websocket.MessageText || len(b) != tt.size {
					t.Fatalf("read %v %d bytes, err %v", typ, len(b), err)
				}
				if !tt.minimal && !json.Valid(b) {
					t.Fatalf("not JSON: %.40q", b)
				}
				return
			}
			if !errors.Is(err, websocket.ErrMessageTooBig) {
				t.Fatalf("err %v, want ErrMessageTooBig", err)
			}
			if code := websocket.CloseStatus(err); code != -1 {
				t.Fatalf("client CloseStatus %v, want -1", code)
			}
			// The client told the server why, in its close frame.
			d := s.WaitDisconnects(t, "o", 1, waitFor)[0]
			if d.Code != websocket.StatusMessageTooBig {
				t.Fatalf("server saw %+v, want code 1009", d)
			}
		})
	}
}

// TestServerReadLimit checks the other direction: the server enforces
// Options.ReadLimit and the client sees close status 1009.
func TestServerReadLimit(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		closed bool
	}{
		{name: "within", size: 100},
		{name: "over", size: 101, closed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, &Options{ReadLimit: 100, NoGreeting: true})
			c := dial(t, s, "l")
			write(t, c, strings.Repeat("y", tt.size))
			if !tt.closed {
				s.WaitReceived(t, "l", 1, waitFor)
				return
			}
			err := readErr(t, readErrs(c))
			if code := websocket.CloseStatus(err); code != websocket.StatusMessageTooBig {
				t.Fatalf("close status %v (%v), want 1009", code, err)
			}
		})
	}
}

func TestStopRestart(t *testing.T) {
	s := New(t, nil)
	addr := s.Addr()
	c := dial(t, s, "sr")
	readEvent(t, c)
	write(t, c, "before")
	s.WaitReceived(t, "sr", 1, waitFor)

	s.Stop()
	if code := websocket.CloseStatus(readErr(t, readErrs(c))); code != -1 {
		t.Fatalf("close status %v after Stop, want none", code)
	}
	if _, err := tryDial(t, s, "sr", nil); err == nil {
		t.Fatal("dial succeeded while stopped")
	}
	if _, err := http.Get(s.HTTPURL() + "/history/x"); err == nil {
		t.Fatal("HTTP succeeded while stopped")
	}

	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("address %s, want %s", s.Addr(), addr)
	}
	c2 := dial(t, s, "sr")
	readEvent(t, c2)
	write(t, c2, "after")
	got := s.WaitReceived(t, "sr", 2, waitFor)
	if string(got[0]) != "before" || string(got[1]) != "after" {
		t.Fatalf("received %q", got)
	}
	if n := len(s.Handshakes()); n != 2 {
		t.Fatalf("%d handshakes, want 2 (the refused dial never reached it)", n)
	}
	// Restart of a running server stops it first.
	s.Restart()
	if code := websocket.CloseStatus(readErr(t, readErrs(c2))); code != -1 {
		t.Fatalf("close status %v", code)
	}
	readEvent(t, dial(t, s, "sr"))
}

func TestChaos(t *testing.T) {
	tests := []struct {
		name      string
		p         float64
		sent      int
		wantDrops bool
	}{
		{name: "always", p: 1, sent: 1, wantDrops: true},
		{name: "never", p: 0, sent: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, &Options{Echo: true})
			s.Chaos(tt.p, 1)
			c := dial(t, s, "ch")
			readEvent(t, c)
			for i := 0; i < tt.sent; i++ {
				write(t, c, "m")
			}
			s.WaitReceived(t, "ch", tt.sent, waitFor)
			if !tt.wantDrops {
				for i := 0; i < tt.sent; i++ {
					read(t, c) // echoes
				}
				if n := s.Connections("ch"); n != 1 {
					t.Fatalf("%d connections", n)
				}
				return
			}
			err := readErr(t, readErrs(c)) // no echo, just the drop
			if code := websocket.CloseStatus(err); code != -1 {
				t.Fatalf("close status %v", code)
			}
			if n := len(s.Received("ch")); n != 1 {
				t.Fatalf("received %d", n)
			}
		})
	}
}

// fakeTB turns Fatalf into a recorded failure that ends only the calling
// goroutine, so a test can check that a Wait method fails.
type fakeTB struct {
	testing.TB
	mu     sync.Mutex
	failed string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.failed = format
	f.mu.Unlock()
	runtime.Goexit()
}

func TestWaitTimeoutFails(t *testing.T) {
	tests := []struct {
		name string
		wait func(*Server, testing.TB)
	}{
		{name: "received", wait: func(s *Server, tb testing.TB) {
			s.WaitReceived(tb, "nobody", 1, 50*time.Millisecond)
		}},
		{name: "connected", wait: func(s *Server, tb testing.TB) {
			s.WaitConnected(tb, "nobody", 50*time.Millisecond)
		}},
		{name: "handshakes", wait: func(s *Server, tb testing.TB) {
			s.WaitHandshakes(tb, 1, 50*time.Millisecond)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t, nil)
			f := &fakeTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				tt.wait(s, f)
			}()
			<-done
			if f.failed == "" {
				t.Fatal("wait did not fail")
			}
		})
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	tests := []struct {
		name string
		use  func(t *testing.T, s *Server)
	}{
		{name: "idle", use: func(*testing.T, *Server) {}},
		{name: "busy", use: func(t *testing.T, s *Server) {
			for _, id := range []string{"a", "b", "c"} {
				c := dial(t, s, id)
				readEvent(t, c)
				write(t, c, "hi")
			}
			s.WaitReceived(t, "c", 1, waitFor)
			s.Mute("a")
			s.Drop("b")
			post(t, s, "/prompt", `{"prompt":{"_steps":50},"client_id":"c"}`)
			get(t, s, "/history/x")
			s.Stop()
			s.Restart()
			dial(t, s, "d")
			s.WaitConnected(t, "d", waitFor)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			http.DefaultClient.CloseIdleConnections()
			before := runtime.NumGoroutine()
			s := New(t, &Options{StepDelay: time.Millisecond})
			tt.use(t, s)
			s.Close()
			s.Close() // idempotent
			http.DefaultClient.CloseIdleConnections()
			deadline := time.Now().Add(waitFor)
			for runtime.NumGoroutine() > before {
				if time.Now().After(deadline) {
					buf := make([]byte, 1<<20)
					buf = buf[:runtime.Stack(buf, true)]
					t.Fatalf("%d goroutines, %d before:\n%s",
						runtime.NumGoroutine(), before, buf)
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
