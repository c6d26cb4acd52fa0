package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"
)

// crockford is Crockford's base32 alphabet: digits and upper-case letters
// without I, L, O and U, so that ids read aloud or retyped stay unambiguous.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulidGen makes ULIDs: 48 bits of Unix milliseconds then 80 random bits,
// as 26 characters of Crockford base32. Within one millisecond it adds one
// to the random part instead of drawing it again, so that the ids of one
// instance sort in the order they were made (the ULID spec's monotonic
// mode).
type ulidGen struct {
	now  func() time.Time
	rand io.Reader

	started bool
	lastMs  uint64   // the time part of the last id
	entropy [10]byte // the random part of the last id
}

// newULID returns a generator on the clock now and the random source rand,
// which are time.Now and crypto/rand.Reader in the plugin and fakes in
// tests.
func newULID(now func() time.Time, rand io.Reader) *ulidGen {
	return &ulidGen{now: now, rand: rand}
}

// next returns a new ULID. When the clock has not moved on since the last
// id, or has gone back, the id keeps the last id's time and increments its
// random part, so ids of one instance never repeat and always increase.
func (g *ulidGen) next() (string, error) {
	ms := g.now().UnixMilli()
	if ms < 0 || ms >= 1<<48 {
		return "", fmt.Errorf("ulid: the time %d ms is outside what 48 bits hold", ms)
	}
	if g.started && uint64(ms) <= g.lastMs {
		if !increment(&g.entropy) {
			return "", errors.New("ulid: the 80-bit random part overflowed " +
				"within one millisecond")
		}
	} else {
		if _, err := io.ReadFull(g.rand, g.entropy[:]); err != nil {
			return "", fmt.Errorf("ulid: random source: %w", err)
		}
		g.lastMs, g.started = uint64(ms), true
	}
	var out [26]byte
	encodeULID(&out, g.lastMs, &g.entropy)
	return string(out[:]), nil
}

// increment adds one to the big-endian number e. It returns false, and
// leaves e alone, when e is all ones, so that an overflow never wraps
// around to an id made before.
func increment(e *[10]byte) bool {
	i := len(e) - 1
	for i >= 0 && e[i] == 0xff {
		i--
	}
	if i < 0 {
		return false
	}
	e[i]++
	for j := i + 1; j < len(e); j++ {
		e[j] = 0
	}
	return true
}

// encodeULID writes the 128 bits ms<<80 | entropy as 26 base32 digits, most
// significant first. 26 digits hold 130 bits, so the first digit is 0..7.
func encodeULID(dst *[26]byte, ms uint64, entropy *[10]byte) {
	hi := ms<<16 | uint64(entropy[0])<<8 | uint64(entropy[1])
	lo := binary.BigEndian.Uint64(entropy[2:])
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
}
