package main

import (
	"errors"
	"math/rand/v2"
	"time"
)

// fakeClock is a wall clock that tests move by hand, so that what happens
// within one millisecond, or when time goes back, can be made to happen.
type fakeClock struct {
	t time.Time
	// step is added after each reading; 0 keeps the clock still.
	step time.Duration
	// after, when > 0, counts readings down; at 0 the clock jumps by jump.
	after int
	jump  time.Duration
}

// now reads the clock, then moves it as step, after and jump say.
func (c *fakeClock) now() time.Time {
	t := c.t
	c.t = c.t.Add(c.step)
	if c.after > 0 {
		if c.after--; c.after == 0 {
			c.t = c.t.Add(c.jump)
		}
	}
	return t
}

// seeded returns a deterministic random source, so that failures repeat.
func seeded(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

// constReader gives the same byte forever, to drive a generator to edge
// cases such as an all-ones ULID random part.
type constReader byte

// Read fills p with the byte.
func (c constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(c)
	}
	return len(p), nil
}

// bytesReader gives the bytes it holds, then zeros, so that a test knows
// exactly which random bytes a generator used.
type bytesReader struct{ b []byte }

// Read copies the next bytes, and zeros once they are used up.
func (r *bytesReader) Read(p []byte) (int, error) {
	n := copy(p, r.b)
	r.b = r.b[n:]
	clear(p[n:])
	return len(p), nil
}

// errReader is a random source that always fails.
type errReader struct{}

// Read fails.
func (errReader) Read([]byte) (int, error) { return 0, errors.New("no entropy") }
