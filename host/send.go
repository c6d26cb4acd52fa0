package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"

	"github.com/coder/websocket"

	"github.com/wsplug/wsplug/config"
)

// Vars are per-call placeholder values: {name} resolves from Vars first,
// then from the client's values, the environment and the plugins.
type Vars map[string]any

// Lookup implements config.Lookup.
func (v Vars) Lookup(_ context.Context, name, arg string) (any, error) {
	if arg == "" {
		if val, ok := v[name]; ok {
			return val, nil
		}
	}
	return nil, config.ErrUnknownPlaceholder
}

// Send writes one text message and returns once it is written, or with the
// reason it never will be. msg is a string or []byte (JSON or not), or any
// value that encodes as JSON. Its placeholders resolve from vars, the
// client's values, the environment and the plugins; a string that is
// exactly one placeholder keeps its value's type in JSON, and JSON text
// keeps its members' order. Text without placeholders goes as it is. The
// outgoing transforms run next. While the client reconnects, the message
// waits in the send queue, in order.
//
// The error is nil only when the frame was written; otherwise it says why:
// ErrQueueFull, ErrClientOff, ErrRetriesExhausted, ErrConnectionLost,
// ErrDropped (a transform dropped it), a transform's or a placeholder's
// failure, or ctx's error.
func (c *Client) Send(ctx context.Context, msg any, vars Vars) error {
	data, err := c.render(ctx, msg, vars)
	if err != nil {
		c.stats.sendErrors.Add(1)
		return err
	}
	return c.send(ctx, data, false)
}

// SendBinary writes one binary message; the outgoing transforms see it as
// binary, and nothing in it is resolved.
func (c *Client) SendBinary(ctx context.Context, data []byte) error {
	return c.send(ctx, data, true)
}

// render resolves msg's placeholders into the bytes to send.
func (c *Client) render(ctx context.Context, msg any, vars Vars) ([]byte, error) {
	if c.ws == nil {
		return nil, fmt.Errorf("api[%s]: %w", c.name, ErrNoWebsocket)
	}
	info := c.info.Load()
	setup, hd := c.host.useSetup()
	defer hd.release()
	lk := config.Chain(vars, info.Values, c.sources(setup, info))
	var text string
	switch m := msg.(type) {
	case string:
		text = m
	case []byte:
		text = string(m)
	case json.RawMessage:
		text = string(m)
	default:
		p, err := config.ParsePayload(msg)
		if err != nil {
			b, merr := json.Marshal(msg)
			if merr != nil {
				return nil, fmt.Errorf("api[%s] send: %w", c.name, merr)
			}
			text = string(b)
			break
		}
		return c.resolvePayload(ctx, p, lk)
	}
	t := config.ParseTemplate(text)
	if s, ok := t.Literal(); ok {
		return []byte(s), nil
	}
	if json.Valid([]byte(text)) {
		p, err := config.ParsePayloadJSON([]byte(text))
		if err == nil {
			return c.resolvePayload(ctx, p, lk)
		}
	}
	s, err := t.Resolve(ctx, lk)
	if err != nil {
		return nil, fmt.Errorf("api[%s] send: %w", c.name, err)
	}
	return []byte(s), nil
}

// resolvePayload writes a payload as JSON, in its members' own order.
func (c *Client) resolvePayload(
	ctx context.Context,
	p *config.Payload,
	lk config.Lookup,
) ([]byte, error) {
	b, err := p.AppendJSON(ctx, nil, lk, config.ResolveOptions{})
	if err != nil {
		return nil, fmt.Errorf("api[%s] send: %w", c.name, err)
	}
	return b, nil
}

func (c *Client) send(ctx context.Context, data []byte, binary bool) error {
	err := c.sendRaw(ctx, data, binary)
	if err != nil {
		c.stats.sendErrors.Add(1)
	}
	return err
}

func (c *Client) sendRaw(ctx context.Context, data []byte, binary bool) error {
	if c.ws == nil {
		return fmt.Errorf("api[%s]: %w", c.name, ErrNoWebsocket)
	}
	if len(c.transforms.Load().outgoing) > 0 {
		b, hd := c.useTransforms()
		m := &Message{Data: data, Binary: binary, Client: c.info.Load()}
		ok, err := c.runTransforms(ctx, m, b.outgoing)
		hd.release()
		if !ok {
			return err
		}
		data = m.Data // the Message is this Send's own: its buffers are ours to keep
	}
	req := &sendReq{ctx: ctx, data: data, binary: binary, done: make(chan error, 1)}
	if err := c.queue.push(req); err != nil {
		return fmt.Errorf("api[%s]: %w", c.name, err)
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		if c.queue.withdraw(req) {
			return ctx.Err()
		}
		// The writer has it. A write whose context ends closes the
		// connection (a partial frame cannot be taken back), so the
		// outcome comes at once.
		return <-req.done
	}
}

// sendReq is one message waiting to be written.
type sendReq struct {
	// ctx is the sender's: its end withdraws the message, or cuts its
	// write short.
	ctx    context.Context
	data   []byte
	binary bool
	taken  bool       // the writer or close has it; under the queue's mu
	done   chan error // gets the outcome, once
}

// sendQueue is the ordered queue of a client's outgoing messages. It holds
// at most send_queue messages (at least one while connected, so that a
// queue of 0 still lets a connected client write); a message withdrawn by
// its sender leaves at once and frees its place.
type sendQueue struct {
	mu        sync.Mutex
	items     []*sendReq
	head      int
	max       int
	connected bool
	closedErr error // set while the client is off: pushes fail with it
	notify    chan struct{}
}

func (q *sendQueue) init(max int) {
	q.max = max
	q.notify = make(chan struct{}, 1)
	q.closedErr = ErrClientOff
}

func (q *sendQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

func (q *sendQueue) push(r *sendReq) error {
	q.mu.Lock()
	if q.closedErr != nil {
		err := q.closedErr
		q.mu.Unlock()
		return err
	}
	limit := q.max
	if q.connected {
		limit = max(limit, 1)
	}
	if len(q.items)-q.head >= limit {
		q.mu.Unlock()
		if limit == 0 {
			return fmt.Errorf("%w: not connected, and send_queue is 0", ErrQueueFull)
		}
		return fmt.Errorf("%w: %d messages wait", ErrQueueFull, limit)
	}
	q.items = append(q.items, r)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return nil
}

// withdraw takes a message out of the queue; false if the writer (or
// close) has it already, and will answer it.
func (q *sendQueue) withdraw(r *sendReq) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if r.taken {
		return false
	}
	if i := slices.Index(q.items[q.head:], r); i >= 0 {
		q.items = slices.Delete(q.items, q.head+i, q.head+i+1)
	}
	return true
}

// next waits for the first message and takes it, while ctx (the
// connection's) lasts: a message pushed as the connection dies waits for
// the next one.
func (q *sendQueue) next(ctx context.Context) (*sendReq, bool) {
	for {
		q.mu.Lock()
		if ctx.Err() != nil {
			q.mu.Unlock()
			return nil, false
		}
		if q.head < len(q.items) {
			r := q.items[q.head]
			r.taken = true
			q.items[q.head] = nil
			q.head++
			if q.head == len(q.items) {
				q.items, q.head = q.items[:0], 0
			}
			q.mu.Unlock()
			return r, true
		}
		q.mu.Unlock()
		select {
		case <-q.notify:
		case <-ctx.Done():
			return nil, false
		}
	}
}

func (q *sendQueue) setConnected(on bool) {
	q.mu.Lock()
	q.connected = on
	q.mu.Unlock()
}

// open lets pushes in again.
func (q *sendQueue) open() {
	q.mu.Lock()
	q.closedErr = nil
	q.mu.Unlock()
}

// close fails every waiting message with err, and every later push.
func (q *sendQueue) close(err error) {
	q.mu.Lock()
	q.closedErr = err
	items := q.items[q.head:]
	for _, r := range items {
		r.taken = true
	}
	q.items, q.head = nil, 0
	q.mu.Unlock()
	for _, r := range items {
		r.done <- err
	}
}

// writeLoop writes the queue's messages in order while the connection
// lives. Each write has its sender's context: when that ends mid-frame the
// connection is closed, since a partial frame cannot be taken back. A
// failed write ends the connection.
func (c *Client) writeLoop(ctx context.Context, conn *websocket.Conn, abort func(error)) {
	for {
		r, ok := c.queue.next(ctx)
		if !ok {
			return
		}
		if err := r.ctx.Err(); err != nil {
			r.done <- err // its sender gave up as it was taken: not written
			continue
		}
		typ := websocket.MessageText
		if r.binary {
			typ = websocket.MessageBinary
		}
		if err := conn.Write(r.ctx, typ, r.data); err != nil {
			if cerr := r.ctx.Err(); cerr != nil {
				err = fmt.Errorf("api[%s]: %w: the send's context ended during the write, "+
					"so the connection was closed: %w", c.name, ErrConnectionLost, cerr)
				r.done <- err
				abort(err)
				return
			}
			r.done <- fmt.Errorf("api[%s]: %w: %w", c.name, ErrConnectionLost, err)
			if !errors.Is(err, net.ErrClosed) {
				abort(fmt.Errorf("write: %w", err))
			}
			// else whoever closed the connection (the reader refusing a
			// frame, the heartbeat) says why it ended.
			return
		}
		c.stats.messagesOut.Add(1)
		c.stats.bytesOut.Add(int64(len(r.data)))
		r.done <- nil
	}
}
