package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// parts splits a snowflake id into its fields, the way a reader of the id
// would, to check the layout.
func parts(t *testing.T, id string) (ms, node, seq int64) {
	t.Helper()
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n < 0 {
		t.Fatalf("id %q is not a non-negative int64: %v", id, err)
	}
	return n >> (nodeBits + seqBits), n >> seqBits & maxNode, n & maxSeq
}

// TestSnowflakeLayout checks the bits of the first ids of a generator.
func TestSnowflakeLayout(t *testing.T) {
	tests := []struct {
		name        string
		node, epoch int64
		offset      int64 // ms after the epoch on the clock
		step        time.Duration
		wantSeq     []int64
	}{
		{name: "still clock", node: 7, epoch: DefaultSnowflakeEpoch, offset: 1000,
			wantSeq: []int64{0, 1, 2}},
		{name: "moving clock", node: 1023, epoch: 0, offset: 1700000000000,
			step: time.Millisecond, wantSeq: []int64{0, 0, 0}},
		{name: "node zero", node: 0, epoch: 1600000000000, offset: 1<<41 - 1,
			wantSeq: []int64{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := fakeClock{t: time.UnixMilli(tt.epoch + tt.offset), step: tt.step}
			g := newSnowflake(tt.node, tt.epoch, clock.now)
			for i, want := range tt.wantSeq {
				id, err := g.next()
				if err != nil {
					t.Fatal(err)
				}
				ms, node, seq := parts(t, id)
				wantMs := tt.offset + int64(i)*tt.step.Milliseconds()
				if ms != wantMs || node != tt.node || seq != want {
					t.Errorf("id %d: ms %d node %d seq %d; want %d %d %d",
						i, ms, node, seq, wantMs, tt.node, want)
				}
			}
		})
	}
}

// TestSnowflakeOverflow checks that the 4097th id of a millisecond waits
// for the next one, and that ids increase across the wait and when the
// clock goes back.
func TestSnowflakeOverflow(t *testing.T) {
	tests := []struct {
		name  string
		clock fakeClock
		// failAt is the first id that fails for want of a next millisecond,
		// or 0 when none does.
		failAt int
	}{
		// Readings 1..4096 are the first millisecond; the 4097th id reads
		// the clock once more (still the same) and then waits.
		{name: "next millisecond", clock: fakeClock{after: 4098, jump: time.Millisecond}},
		// The clock goes a second back after 2000 ids: the generator keeps
		// its millisecond, whose sequence runs out at id 4096.
		{name: "clock goes back", clock: fakeClock{after: 2000, jump: -time.Second},
			failAt: maxSeq + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := tt.clock
			clock.t = time.UnixMilli(DefaultSnowflakeEpoch + 5000)
			g := newSnowflake(3, DefaultSnowflakeEpoch, clock.now)
			g.wait = 10 * time.Millisecond
			var prev int64 = -1
			for i := range 6000 {
				id, err := g.next()
				if i == tt.failAt && tt.failAt > 0 {
					if err == nil {
						t.Fatalf("id %d: %s, want an error", i, id)
					}
					return
				}
				if err != nil {
					t.Fatalf("id %d: %v", i, err)
				}
				n, _ := strconv.ParseInt(id, 10, 64)
				if n <= prev {
					t.Fatalf("id %d: %d after %d", i, n, prev)
				}
				prev = n
			}
		})
	}
}

// TestSnowflakeStuckClock checks that a clock that never moves (a plugin
// without the clock capability) fails the 4097th id clearly, and that the
// failure does not let a later call repeat an id.
func TestSnowflakeStuckClock(t *testing.T) {
	clock := fakeClock{t: time.UnixMilli(DefaultSnowflakeEpoch + 1)}
	g := newSnowflake(1, DefaultSnowflakeEpoch, clock.now)
	g.wait = time.Millisecond
	for i := range maxSeq + 1 {
		if _, err := g.next(); err != nil {
			t.Fatalf("id %d: %v", i, err)
		}
	}
	for range 2 {
		id, err := g.next()
		if err == nil || !strings.Contains(err.Error(), "clock capability") {
			t.Errorf("id after the sequence ran out: %q, %v", id, err)
		}
	}
}

// TestSnowflakeTimeRange checks clocks the 41 bits cannot hold.
func TestSnowflakeTimeRange(t *testing.T) {
	tests := []struct {
		name  string
		now   int64 // Unix ms
		epoch int64
		error string
	}{
		{name: "before the epoch", now: 1000, epoch: DefaultSnowflakeEpoch,
			error: "before snowflake.epoch"},
		{name: "past 41 bits", now: 1 << 41, epoch: 0, error: "41 bits"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := fakeClock{t: time.UnixMilli(tt.now)}
			id, err := newSnowflake(1, tt.epoch, clock.now).next()
			if err == nil || !strings.Contains(err.Error(), tt.error) {
				t.Errorf("next() = %q, %v; want an error with %q", id, err, tt.error)
			}
		})
	}
}
