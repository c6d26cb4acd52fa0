package main

import (
	"io"
	"math/big"
	"strings"
	"testing"
	"time"
)

// ulidBig encodes a ULID another way, through math/big's base 32 digits
// mapped onto Crockford's alphabet, to check encodeULID independently.
func ulidBig(ms uint64, entropy [10]byte) string {
	var b [16]byte
	for i := 0; i < 6; i++ {
		b[i] = byte(ms >> (8 * (5 - i)))
	}
	copy(b[6:], entropy[:])
	digits := new(big.Int).SetBytes(b[:]).Text(32)
	const std = "0123456789abcdefghijklmnopqrstuv"
	var out strings.Builder
	out.WriteString(strings.Repeat("0", 26-len(digits)))
	for _, d := range digits {
		out.WriteByte(crockford[strings.IndexRune(std, d)])
	}
	return out.String()
}

// TestEncodeULID checks the encoding against the ULID spec's time example
// and against math/big.
func TestEncodeULID(t *testing.T) {
	tests := []struct {
		name    string
		ms      uint64
		entropy [10]byte
		want    string // a prefix of the id
	}{
		{name: "zero", want: "00000000000000000000000000"},
		{name: "spec time example", ms: 1469918176385, want: "01ARYZ6S41"},
		{
			name:    "largest",
			ms:      1<<48 - 1,
			entropy: [10]byte{255, 255, 255, 255, 255, 255, 255, 255, 255, 255},
			want:    "7ZZZZZZZZZZZZZZZZZZZZZZZZZ",
		},
		{
			name:    "mixed",
			ms:      1700000000000,
			entropy: [10]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
			want:    "01HF",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out [26]byte
			encodeULID(&out, tt.ms, &tt.entropy)
			got := string(out[:])
			if !strings.HasPrefix(got, tt.want) {
				t.Errorf("encodeULID = %s, want prefix %s", got, tt.want)
			}
			if want := ulidBig(tt.ms, tt.entropy); got != want {
				t.Errorf("encodeULID = %s, math/big says %s", got, want)
			}
		})
	}
}

// TestIncrement checks the carry and that an overflow changes nothing.
func TestIncrement(t *testing.T) {
	ff := byte(0xff)
	tests := []struct {
		name string
		in   [10]byte
		want [10]byte
		ok   bool
	}{
		{name: "last byte", in: [10]byte{9: 1}, want: [10]byte{9: 2}, ok: true},
		{name: "carry", in: [10]byte{7: 1, 8: ff, 9: ff}, want: [10]byte{7: 2}, ok: true},
		{
			name: "overflow",
			in:   [10]byte{ff, ff, ff, ff, ff, ff, ff, ff, ff, ff},
			want: [10]byte{ff, ff, ff, ff, ff, ff, ff, ff, ff, ff},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.in
			if ok := increment(&e); ok != tt.ok || e != tt.want {
				t.Errorf("increment(%x) = %x, %v; want %x, %v",
					tt.in, e, ok, tt.want, tt.ok)
			}
		})
	}
}

// TestULIDMonotonic checks that ids of one generator increase, within a
// millisecond, across milliseconds and when the clock goes back.
func TestULIDMonotonic(t *testing.T) {
	base := time.UnixMilli(1700000000000)
	tests := []struct {
		name     string
		clock    fakeClock
		sameTime bool // whether every id keeps the first id's time
	}{
		{name: "still clock", clock: fakeClock{t: base}, sameTime: true},
		{name: "moving clock", clock: fakeClock{t: base, step: time.Millisecond}},
		{name: "clock goes back", clock: fakeClock{t: base, step: -time.Second},
			sameTime: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := tt.clock
			g := newULID(clock.now, seeded(1))
			prev, err := g.next()
			if err != nil {
				t.Fatal(err)
			}
			for range 1000 {
				id, err := g.next()
				if err != nil {
					t.Fatal(err)
				}
				if len(id) != 26 || id <= prev {
					t.Fatalf("id %s after %s", id, prev)
				}
				if tt.sameTime && id[:10] != prev[:10] {
					t.Fatalf("time part changed: %s after %s", id, prev)
				}
				prev = id
			}
		})
	}
}

// TestULIDErrors checks the cases where no id can be made, and that a
// failed call does not make the next one repeat an id.
func TestULIDErrors(t *testing.T) {
	base := time.UnixMilli(1700000000000)
	t.Run("overflow", func(t *testing.T) {
		clock := fakeClock{t: base}
		g := newULID(clock.now, constReader(0xff))
		first, err := g.next()
		if err != nil || !strings.HasSuffix(first, "ZZZZZZZZZZZZZZZZ") {
			t.Fatalf("first id %s, %v", first, err)
		}
		for range 2 {
			id, err := g.next()
			if err == nil || !strings.Contains(err.Error(), "overflow") {
				t.Errorf("after an all-ones random part: %q, %v", id, err)
			}
		}
	})
	tests := []struct {
		name  string
		now   time.Time
		rand  io.Reader
		error string
	}{
		{name: "before 1970", now: time.UnixMilli(-1), error: "48 bits"},
		{name: "after 10889", now: time.UnixMilli(1 << 48), error: "48 bits"},
		{name: "no entropy", now: base, rand: errReader{}, error: "random source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := fakeClock{t: tt.now}
			r := tt.rand
			if r == nil {
				r = &bytesReader{}
			}
			if id, err := newULID(clock.now, r).next(); err == nil ||
				!strings.Contains(err.Error(), tt.error) {
				t.Errorf("next() = %q, %v; want an error with %q", id, err, tt.error)
			}
		})
	}
}
