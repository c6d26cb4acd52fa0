package host

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// comfyConfig is a ComfyUI client as the ad_discordbot example has it, plus
// wsplug's session capture, pointed at a test server. extra adds websocket
// keys; the backoff is short unless extra sets one.
func comfyConfig(httpURL, wsURL, extra string) string {
	if !strings.Contains(extra, "backoff:") {
		extra += "      backoff: {initial: 20ms, max: 200ms}\n"
	}
	return fmt.Sprintf(`apis:
  - name: ComfyUI
    url: %s
    default_headers: {Content-Type: application/json}
    default_timeout: 10
    endpoints:
      - {name: Queue prompt, path: /prompt, method: POST, payload_type: json}
      - {name: History, path: "/history/{prompt_id}", method: GET}
    websocket:
      url: %s
      client_id_required: true
      client_id_format: uuid
      query_params: {clientId: "{client_id}"}
      session_id_from: {type: status, path: data.sid}
%s`, httpURL, wsURL, extra)
}

// runPrompt is the ComfyUI flow: watch the prompt's messages, post it with
// the client id, and read its progress until execution_success.
func runPrompt(t *testing.T, c *Client, promptID string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub := c.Subscribe(Filter{
		Types: []string{"execution_start", "executing", "progress", "executed", "execution_success"},
		Where: map[string]any{"data.prompt_id": promptID},
		Until: map[string]any{"type": "execution_success"},
		Extract: map[string]string{
			"image": "data.output.images.0.filename",
			"max":   "data.max",
		},
		Idle: 10 * time.Second,
	})
	previews := c.Subscribe(Filter{Frames: BinaryFrames})
	defer previews.Close()

	resp, err := c.Call(ctx, "Queue prompt", map[string]any{
		"prompt":    map[string]any{"3": map[string]any{"class_type": "KSampler"}, "_steps": 3},
		"client_id": "{client_id}",
		"prompt_id": "{prompt_id}",
	}, Vars{"prompt_id": promptID})
	if err != nil {
		t.Fatal(err)
	}
	var queued struct {
		PromptID string `json:"prompt_id"`
	}
	if err := resp.JSON(&queued); err != nil || queued.PromptID != promptID {
		t.Fatalf("POST /prompt answered %s (%v)", resp.Body, err)
	}

	var seen []string
	for {
		in, err := sub.Next(ctx)
		if err != nil {
			t.Fatalf("subscription ended: %v after %q", err, seen)
		}
		if in == nil {
			break
		}
		label := in.Type
		if in.Type == "progress" {
			v, _ := in.Field("data.value")
			label += fmt.Sprint(v)
		}
		seen = append(seen, label)
	}
	result, err := sub.Wait(ctx)
	if err != nil || result["image"] != "out.png" || fmt.Sprint(result["max"]) != "3" {
		t.Errorf("extracted %v, %v", result, err)
	}
	preview, err := previews.Next(ctx)
	if err != nil || !preview.Binary || !strings.HasSuffix(string(preview.Data), "PNGDATA") {
		t.Errorf("preview frame: %+v, %v", preview, err)
	}
	return seen
}

var wantFlow = []string{"execution_start", "executing", "progress1", "progress2", "progress3",
	"executed", "execution_success"}

func TestComfyUIFlowAgainstPython(t *testing.T) {
	py := startPython(t, 0, 0)
	h, c := startHost(t, comfyConfig(py.httpURL(), py.wsURL(), ""))
	defer h.Close(context.Background())
	ctx := context.Background()

	// ComfyUI's greeting carries the session id; session_id_from keeps it.
	waitFor(t, "session id captured", func() bool { return c.Values().SessionID == c.ClientID() })

	if seen := runPrompt(t, c, "prompt-1"); fmt.Sprint(seen) != fmt.Sprint(wantFlow) {
		t.Errorf("messages %q\nwant     %q", seen, wantFlow)
	}

	// The websocket and the POST carried the same client id.
	hs := py.handshakes()
	if q := hs[len(hs)-1]["query"]; q != "clientId="+c.ClientID() {
		t.Errorf("handshake query %v, want clientId=%s", q, c.ClientID())
	}
	reqs := py.control("GET", "requests", "")["requests"].([]any)
	body := reqs[0].(map[string]any)["body"].(string)
	if !strings.Contains(body, `"client_id":"`+c.ClientID()+`"`) {
		t.Errorf("POST /prompt body %s lacks the client id", body)
	}

	resp, err := c.Call(ctx, "History", nil, Vars{"prompt_id": "prompt-1"})
	if err != nil || !strings.Contains(string(resp.Body), `"completed": true`) &&
		!strings.Contains(string(resp.Body), `"completed":true`) {
		t.Errorf("history: %s %v", resp.Body, err)
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
