package wstest

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// defaultSteps is the number of progress events of a prompt without a
// "_steps" entry.
const defaultSteps = 3

// maxSteps keeps a test's "_steps" from flooding the connection.
const maxSteps = 10000

// PreviewFrame returns the binary message sent after a prompt's first
// progress event, for tests to compare with: ComfyUI's preview framing, a
// big-endian event type 1 (preview image) and image format 2 (PNG), then
// the image bytes, here "PNGDATA".
func PreviewFrame() []byte {
	return append([]byte{0, 0, 0, 1, 0, 0, 0, 2}, "PNGDATA"...)
}

// prompt is one queued prompt; done is guarded by Server.mu.
type prompt struct {
	id       string
	number   int
	clientID string
	steps    int
	done     bool
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func badRequest(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": msg})
}

// servePrompt queues a prompt and runs it in the background, as ComfyUI's
// POST /prompt does. A "_steps" number in the prompt sets how many
// progress events it sends (default 3); a "prompt_id" beside the prompt
// names it.
func (s *Server) servePrompt(rn *run, w http.ResponseWriter, r *http.Request) {
	var req struct {
		Prompt   json.RawMessage `json:"prompt"`
		ClientID string          `json:"client_id"`
		// PromptID, as ComfyUI allows, is chosen by the client so that it
		// can watch for the prompt's events before it posts it.
		PromptID string `json:"prompt_id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		badRequest(w, "invalid JSON: "+err.Error())
		return
	}
	if len(req.Prompt) == 0 || string(req.Prompt) == "null" {
		badRequest(w, "no prompt")
		return
	}
	var graph map[string]any
	if err := json.Unmarshal(req.Prompt, &graph); err != nil {
		badRequest(w, "prompt is not a JSON object")
		return
	}
	steps := defaultSteps
	if v, ok := graph["_steps"].(float64); ok {
		steps = min(max(int(v), 0), maxSteps)
	}

	id := req.PromptID
	if id == "" {
		id = newID()
	}
	p := &prompt{id: id, clientID: req.ClientID, steps: steps}
	s.mu.Lock()
	p.number = s.promptCount
	s.promptCount++
	s.prompts[p.id] = p
	s.mu.Unlock()

	// The handler is tracked, so adding to rn.tasks here cannot race
	// with Stop's Wait; track still refuses once Stop has begun.
	if s.track(rn) {
		go func() {
			defer rn.tasks.Done()
			s.execute(rn, p)
		}()
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"prompt_id":   p.id,
		"number":      p.number,
		"node_errors": map[string]any{},
	})
}

// execute sends a prompt's events to its client's open connections, or
// to every connection when the prompt named no client, as ComfyUI does, in
// ComfyUI's order. A client that reconnects midway gets the rest.
func (s *Server) execute(rn *run, p *prompt) {
	emit := func(typ websocket.MessageType, b []byte) bool {
		if d := s.opts.StepDelay; d > 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-t.C:
			case <-rn.stop:
				return false
			}
		}
		select {
		case <-rn.stop:
			return false
		default:
		}
		if p.clientID == "" {
			s.broadcast(typ, b)
		} else {
			s.Send(p.clientID, typ, b)
		}
		return true
	}
	text := func(typ string, data map[string]any) bool {
		return emit(websocket.MessageText, event(typ, data))
	}
	id := p.id
	if !text("execution_start", map[string]any{"prompt_id": id}) ||
		!text("executing", map[string]any{"node": "3", "prompt_id": id}) {
		return
	}
	for v := 1; v <= p.steps; v++ {
		if !text("progress", map[string]any{
			"value": v, "max": p.steps, "prompt_id": id, "node": "3",
		}) {
			return
		}
		if v == 1 && !emit(websocket.MessageBinary, PreviewFrame()) {
			return
		}
	}
	if !text("executed", map[string]any{
		"node": "9", "prompt_id": id, "output": outputs()["9"],
	}) {
		return
	}
	// Done before execution_success goes out, so that a client that
	// fetches the history on seeing it finds the prompt complete.
	s.mu.Lock()
	p.done = true
	s.mu.Unlock()
	if !text("execution_success", map[string]any{"prompt_id": id}) {
		return
	}
	// ComfyUI then reports the idle node (null), which older clients
	// take as the end of the prompt, and the now empty queue.
	if !text("executing", map[string]any{"node": nil, "prompt_id": id}) {
		return
	}
	text("status", map[string]any{
		"status": map[string]any{
			"exec_info": map[string]any{"queue_remaining": 0},
		},
	})
}

// broadcast writes a message to every open connection.
func (s *Server) broadcast(typ websocket.MessageType, data []byte) {
	s.mu.Lock()
	var cs []*conn
	for _, m := range s.conns {
		for c := range m {
			cs = append(cs, c)
		}
	}
	s.mu.Unlock()
	for _, c := range cs {
		_ = c.send(typ, data)
	}
}

func outputs() map[string]any {
	return map[string]any{
		"9": map[string]any{
			"images": []any{map[string]any{
				"filename": "out.png", "subfolder": "", "type": "output",
			}},
		},
	}
}

// serveHistory answers GET /history/{id}: {} until the prompt is done,
// then the prompt's entry with status.completed true.
func (s *Server) serveHistory(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	p := s.prompts[id]
	done := p != nil && p.done
	s.mu.Unlock()
	if !done {
		writeJSON(w, http.StatusOK, map[string]any{})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		id: map[string]any{
			"outputs": outputs(),
			"status": map[string]any{
				"status_str": "success",
				"completed":  true,
				"messages":   []any{},
			},
		},
	})
}
