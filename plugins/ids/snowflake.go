package main

import (
	"fmt"
	"strconv"
	"time"
)

// The layout of a snowflake id, from the most significant bit: one zero
// bit, 41 bits of milliseconds since the epoch, 10 bits of node, 12 bits of
// sequence.
const (
	timeBits = 41
	nodeBits = 10
	seqBits  = 12
	maxNode  = 1<<nodeBits - 1
	maxSeq   = 1<<seqBits - 1
)

// snowflakeWait bounds the wait for the next millisecond when the sequence
// runs out. The wait is normally under a millisecond; if the wall clock
// stood still (the ABI only says that without the clock capability it is
// not real) it would never end, so it gives up well within the host's
// default one-second call timeout.
const snowflakeWait = 100 * time.Millisecond

// snowflakeGen makes snowflake ids for one node. It is not safe for
// concurrent use, which a plugin instance never needs.
type snowflakeGen struct {
	node  int64
	epoch int64 // Unix milliseconds
	now   func() time.Time
	wait  time.Duration

	last int64 // milliseconds since the epoch of the last id; -1 before one
	seq  int64 // sequence of the last id
}

// newSnowflake returns a generator for node (0..1023) counting milliseconds
// from epoch (Unix milliseconds) on the clock now.
func newSnowflake(node, epoch int64, now func() time.Time) *snowflakeGen {
	return &snowflakeGen{
		node: node, epoch: epoch, now: now, wait: snowflakeWait, last: -1,
	}
}

// next returns a new id as decimal text. Ids of one generator strictly
// increase: within a millisecond the sequence counts up; when it runs out
// next waits for the next millisecond; when the clock goes back, the last
// millisecond is kept until the clock catches up.
func (g *snowflakeGen) next() (string, error) {
	t, err := g.tick()
	if err != nil {
		return "", err
	}
	seq := int64(0)
	if t <= g.last {
		t = g.last
		if g.seq < maxSeq {
			seq = g.seq + 1
		} else if t, err = g.after(g.last); err != nil {
			return "", err
		}
	}
	g.last, g.seq = t, seq
	id := t<<(nodeBits+seqBits) | g.node<<seqBits | seq
	return strconv.FormatInt(id, 10), nil
}

// tick reads the clock as milliseconds since the epoch, checking that they
// fit in the id.
func (g *snowflakeGen) tick() (int64, error) {
	ms := g.now().UnixMilli()
	t := ms - g.epoch
	if t < 0 {
		return 0, fmt.Errorf("snowflake: the clock (%d ms) is before "+
			"snowflake.epoch (%d ms); without the clock capability the plugin's "+
			"time is not real", ms, g.epoch)
	}
	if t >= 1<<timeBits {
		return 0, fmt.Errorf("snowflake: %d ms since snowflake.epoch do not fit "+
			"in %d bits", t, timeBits)
	}
	return t, nil
}

// after spins on the clock until it reads a millisecond later than last,
// for at most g.wait of real (monotonic) time.
func (g *snowflakeGen) after(last int64) (int64, error) {
	start := time.Now()
	for {
		t, err := g.tick()
		if err != nil {
			return 0, err
		}
		if t > last {
			return t, nil
		}
		if time.Since(start) > g.wait {
			return 0, fmt.Errorf("snowflake: %d ids in one millisecond and the clock "+
				"did not move on within %v (grant the plugin the clock capability)",
				maxSeq+1, g.wait)
		}
	}
}
