package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Errors that end a subscription.
var (
	// ErrIdle: no message matched within Filter.Idle.
	ErrIdle = errors.New("no matching message within the idle timeout")
	// ErrSubscriptionClosed: Close was called, or the host closed.
	ErrSubscriptionClosed = errors.New("subscription closed")
)

// Inbound is one message from the server as a subscriber gets it. Data is
// shared between subscribers: read it, do not change it.
type Inbound struct {
	// API is the name of the client it came to, for a subscriber that
	// serves several.
	API string
	// Binary is true for a binary frame, such as ComfyUI's previews.
	Binary bool
	// Data is the message as it left the incoming transforms.
	Data []byte
	// At is when the frame was read, before the transforms ran.
	At time.Time
	// Type is the "type" member of a JSON object message, else "".
	Type string
	obj  map[string]any
}

// Field returns the value at a dotted path (data.prompt_id, items.0.name)
// of a JSON message.
func (in *Inbound) Field(path string) (any, bool) {
	if in.obj == nil {
		return nil, false
	}
	return lookupPath(in.obj, path)
}

// JSON returns the message decoded, for a JSON object message.
func (in *Inbound) JSON() (map[string]any, bool) { return in.obj, in.obj != nil }

// Overflow is what a subscription does with a message when its buffer is
// full. Either way the message is counted in Dropped: a slow subscriber
// never makes the client queue without bound or stall.
type Overflow int

const (
	// DropOldest makes room by discarding the oldest buffered message.
	DropOldest Overflow = iota
	// DropNewest discards the message that does not fit.
	DropNewest
)

// Filter chooses the messages of a subscription. Paths are dotted paths
// into a JSON message; a wanted value of "*" means the member is present.
type Filter struct {
	// Types keeps messages whose "type" is one of these; empty keeps all.
	Types []string
	// Where keeps messages whose value at each path equals the given one.
	Where map[string]any
	// Until ends the subscription after the first kept message that
	// matches all of it, which is delivered too.
	Until map[string]any
	// Extract collects, from each kept message, the value at each path,
	// under its name; Wait returns them (a later message overwrites).
	Extract map[string]string
	// Idle ends the subscription with ErrIdle when no message is kept for
	// this long; 0 never.
	Idle time.Duration
	// Frames says which frames to keep: text (the default), binary, or
	// both. A binary frame has no type or members, so Types and Where,
	// when set, keep no binary frame.
	Frames Frames
	// Buffer is how many messages wait for the subscriber; 0 means 256.
	Buffer int
	// Overflow says which message a full buffer loses: DropOldest (the
	// default) keeps the latest state, as a progress display wants;
	// DropNewest keeps the start of a stream intact. Either way the
	// client's reader never waits for a slow subscriber.
	Overflow Overflow
}

func (f *Filter) needsJSON() bool {
	return len(f.Types) > 0 || len(f.Where) > 0 || len(f.Until) > 0 || len(f.Extract) > 0
}

// Frames are the kinds of frame a subscription keeps.
type Frames int

// Frames a subscription keeps.
const (
	// TextFrames: text messages only, the default.
	TextFrames Frames = iota
	// BinaryFrames: binary messages only, such as ComfyUI's previews.
	BinaryFrames
	// AllFrames: both.
	AllFrames
)

// Subscription receives the messages of a client (or of every client of a
// host) that its Filter keeps, through reconnects, until Until matches, Idle
// passes, or Close.
type Subscription struct {
	list    *subscriptions // the client's or the host's
	f       Filter
	ch      chan *Inbound
	dropped atomic.Int64

	mu     sync.Mutex
	ended  bool
	err    error
	result map[string]any
	idle   *time.Timer
}

// Subscribe starts a subscription to the client's messages.
func (c *Client) Subscribe(f Filter) *Subscription { return c.subs.subscribe(f) }

// Subscribe starts a subscription to the messages of every client of the
// host, in the order each client receives them, those of clients that a
// Reload adds included; Inbound.API says whose each is. Made before Start
// or Reload, it misses none of a new connection's first messages (such as
// ComfyUI's status greeting), which a subscription made on the new client
// after Reload could. The host's Close ends it.
func (h *Host) Subscribe(f Filter) *Subscription { return h.subs.subscribe(f) }

func (l *subscriptions) subscribe(f Filter) *Subscription {
	if f.Buffer <= 0 {
		f.Buffer = 256
	}
	s := &Subscription{list: l, f: f, ch: make(chan *Inbound, f.Buffer), result: map[string]any{}}
	if f.Idle > 0 {
		s.mu.Lock() // the timer may fire before it is stored
		s.idle = time.AfterFunc(f.Idle, func() { s.end(ErrIdle) })
		s.mu.Unlock()
	}
	l.add(s)
	return s
}

// Messages is the subscription's channel, closed when it ends.
func (s *Subscription) Messages() <-chan *Inbound { return s.ch }

// Next returns the next message. When the subscription has ended it
// returns nil and Err (nil after Until matched).
func (s *Subscription) Next(ctx context.Context) (*Inbound, error) {
	select {
	case in, ok := <-s.ch:
		if !ok {
			return nil, s.Err()
		}
		return in, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Wait reads the subscription to its end and returns the values of
// Extract. The error is nil when Until matched; otherwise why it ended.
func (s *Subscription) Wait(ctx context.Context) (map[string]any, error) {
	for {
		in, err := s.Next(ctx)
		if in != nil {
			continue
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if err == nil && len(s.f.Until) == 0 {
			err = ErrSubscriptionClosed
		}
		return s.result, err
	}
}

// Err says why the subscription ended: nil while it runs and after Until
// matched; ErrIdle or ErrSubscriptionClosed otherwise.
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Dropped counts the messages lost to a full buffer.
func (s *Subscription) Dropped() int64 { return s.dropped.Load() }

// Close ends the subscription.
func (s *Subscription) Close() { s.end(ErrSubscriptionClosed) }

func (s *Subscription) end(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.endLocked(err)
}

func (s *Subscription) endLocked(err error) {
	if s.ended {
		return
	}
	s.ended, s.err = true, err
	if s.idle != nil {
		s.idle.Stop()
	}
	close(s.ch)
	s.list.remove(s)
}

// offer gives the subscription a message of c that it matches.
func (s *Subscription) offer(c *Client, in *Inbound) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	for name, path := range s.f.Extract {
		if v, ok := in.Field(path); ok {
			s.result[name] = v
		}
	}
	select {
	case s.ch <- in:
	default:
		s.dropped.Add(1)
		c.stats.subDrops.Add(1)
		if s.f.Overflow == DropOldest {
			select {
			case <-s.ch:
			default:
			}
			select {
			case s.ch <- in:
			default:
			}
		}
	}
	if s.idle != nil {
		s.idle.Reset(s.f.Idle)
	}
	if len(s.f.Until) > 0 && matchAll(in, s.f.Until) {
		s.endLocked(nil)
	}
}

// matches says whether the filter keeps the message.
func (f *Filter) matches(in *Inbound) bool {
	if in.Binary {
		return f.Frames != TextFrames && len(f.Types) == 0 && len(f.Where) == 0
	}
	if f.Frames == BinaryFrames {
		return false
	}
	if len(f.Types) > 0 && !slices.Contains(f.Types, in.Type) {
		return false
	}
	return matchAll(in, f.Where)
}

func matchAll(in *Inbound, want map[string]any) bool {
	for path, w := range want {
		v, ok := in.Field(path)
		if !ok || w != "*" && !sameValue(v, w) {
			return false
		}
	}
	return true
}

// sameValue compares a decoded JSON value with a wanted one from Go or YAML,
// numbers by value whatever their Go type.
func sameValue(got, want any) bool {
	if g, ok := toFloat(got); ok {
		w, ok := toFloat(want)
		return ok && g == w
	}
	switch g := got.(type) {
	case string:
		w, ok := want.(string)
		return ok && g == w
	case bool:
		w, ok := want.(bool)
		return ok && g == w
	case nil:
		return want == nil
	}
	return fmt.Sprint(got) == fmt.Sprint(want)
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

// lookupPath walks a dotted path through objects and arrays.
func lookupPath(v any, path string) (any, bool) {
	for _, seg := range strings.Split(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = node[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(node) {
				return nil, false
			}
			v = node[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// subscriptions is a client's list, copied on change so that the reader
// walks it without a lock.
type subscriptions struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*Subscription]
}

func (l *subscriptions) load() []*Subscription {
	if p := l.list.Load(); p != nil {
		return *p
	}
	return nil
}

func (l *subscriptions) add(s *Subscription) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := append(slices.Clone(l.load()), s)
	l.list.Store(&next)
}

func (l *subscriptions) remove(s *Subscription) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := slices.DeleteFunc(slices.Clone(l.load()), func(x *Subscription) bool { return x == s })
	l.list.Store(&next)
}

// closeAll ends every subscription of the list.
func (l *subscriptions) closeAll() {
	for _, s := range l.load() {
		s.Close()
	}
}

// closeSubscriptions ends every subscription, when the host closes.
func (c *Client) closeSubscriptions() { c.subs.closeAll() }

// deliver hands a message that passed the transforms to the subscribers,
// the client's and the host's, and captures the session id when
// session_id_from asks for it.
func (c *Client) deliver(m *Message) {
	subs, all := c.subs.load(), c.host.subs.load()
	capture := c.wantsSession()
	if len(subs) == 0 && len(all) == 0 && !capture {
		return
	}
	needJSON := capture
	for _, list := range [2][]*Subscription{subs, all} {
		for _, s := range list {
			needJSON = needJSON || s.f.needsJSON()
		}
	}
	in := &Inbound{API: c.name, Binary: m.Binary, At: time.Now()}
	if needJSON && !m.Binary {
		var obj map[string]any
		if json.Unmarshal(m.Data, &obj) == nil && obj != nil {
			in.obj = obj
			in.Type, _ = obj["type"].(string)
		}
	}
	if capture {
		c.captureSession(in)
	}
	copied := false
	for _, list := range [2][]*Subscription{subs, all} {
		for _, s := range list {
			if !s.f.matches(in) {
				continue
			}
			if !copied {
				in.Data = append([]byte(nil), m.Data...)
				copied = true
			}
			s.offer(c, in)
		}
	}
}

func (c *Client) wantsSession() bool {
	if c.ws.SessionIDFrom == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.captured == "" && !c.override.sessionID
}

// captureSession reads the session id from the first message of the type
// session_id_from names.
func (c *Client) captureSession(in *Inbound) {
	from := c.ws.SessionIDFrom
	if in.Type != from.Type {
		return
	}
	v, ok := in.Field(from.Path)
	if !ok {
		return
	}
	var sid string
	switch x := v.(type) {
	case string:
		sid = x
	case float64:
		sid = strconv.FormatFloat(x, 'f', -1, 64)
	default:
		return
	}
	if sid == "" {
		return
	}
	c.mu.Lock()
	c.captured = sid
	c.publishValues(*c.info.Load().Values)
	c.mu.Unlock()
	c.log.Info("session id captured", "type", from.Type, "path", from.Path)
}
