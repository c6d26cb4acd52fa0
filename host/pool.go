package host

import (
	"context"
	"sync"
)

// pool keeps up to max instances of a plugin. Getting an idle instance is a
// mutex and a slice pop; callers wait only when every instance is busy, and
// then with their context. A broken instance is closed on return and its
// place given to the next caller, who makes a new one.
type pool struct {
	create func(ctx context.Context) (*instance, error)
	max    int

	mu      sync.Mutex
	idle    []*instance
	live    int // instances that exist or are being made
	waiting int // callers waiting for handoff
	closed  bool
	drained chan struct{} // closed when the pool is closed and empty
	// handoff passes an instance, or nil for "make one, the place is
	// yours", from put to a waiting get. It never blocks: it holds max.
	handoff chan *instance
}

func newPool(max int, create func(context.Context) (*instance, error)) *pool {
	return &pool{
		create: create, max: max,
		handoff: make(chan *instance, max), drained: make(chan struct{}),
	}
}

// get returns an instance for one call; put must follow.
func (p *pool) get(ctx context.Context) (*instance, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	if n := len(p.idle); n > 0 {
		in := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return in, nil
	}
	if p.live < p.max {
		p.live++
		p.mu.Unlock()
		return p.make(ctx)
	}
	p.waiting++
	p.mu.Unlock()

	select {
	case in := <-p.handoff:
		return p.received(ctx, in)
	case <-ctx.Done():
		p.mu.Lock()
		if p.waiting > 0 {
			// Our place in the queue is still unclaimed: give it up.
			p.waiting--
			p.mu.Unlock()
			return nil, ctx.Err()
		}
		// A put has already handed us an instance or a place: take it and
		// give it back.
		p.mu.Unlock()
		in := <-p.handoff
		if in == nil {
			p.release()
		} else {
			p.put(in)
		}
		return nil, ctx.Err()
	}
}

func (p *pool) received(ctx context.Context, in *instance) (*instance, error) {
	if in != nil {
		return in, nil
	}
	p.mu.Lock()
	closed := p.closed
	if closed {
		p.leave()
	}
	p.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	return p.make(ctx)
}

// make creates an instance in a place already counted in live.
func (p *pool) make(ctx context.Context) (*instance, error) {
	in, err := p.create(ctx)
	if err != nil {
		p.release()
		return nil, err
	}
	return in, nil
}

// release gives up a place in live, passing it to a waiter if there is one.
func (p *pool) release() {
	p.mu.Lock()
	if p.waiting > 0 && !p.closed {
		p.waiting--
		p.mu.Unlock()
		p.handoff <- nil
		return
	}
	p.leave()
	p.mu.Unlock()
}

// leave counts one instance less; p.mu is held.
func (p *pool) leave() {
	p.live--
	if p.closed && p.live == 0 {
		close(p.drained)
	}
}

// put returns an instance after its call.
func (p *pool) put(in *instance) {
	if in.broken {
		in.close()
		p.release()
		return
	}
	p.mu.Lock()
	switch {
	case p.closed:
		p.leave()
		p.mu.Unlock()
		in.close()
	case p.waiting > 0:
		p.waiting--
		p.mu.Unlock()
		p.handoff <- in
	default:
		p.idle = append(p.idle, in)
		p.mu.Unlock()
	}
}

// close closes the idle instances now and the busy ones when they return.
// Waiting and new callers get ErrClosed. The channel is closed when the
// last instance is.
func (p *pool) close() <-chan struct{} {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return p.drained
	}
	p.closed = true
	idle := p.idle
	p.idle = nil
	waiting := p.waiting
	p.waiting = 0
	// Each waiter gets a place, finds the pool closed, and gives it up.
	p.live += waiting - len(idle)
	if p.live == 0 {
		close(p.drained)
	}
	p.mu.Unlock()
	for range waiting {
		p.handoff <- nil
	}
	for _, in := range idle {
		in.close()
	}
	return p.drained
}

// stats returns how many instances exist and how many are idle.
func (p *pool) stats() (live, idle int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.live, len(p.idle)
}
