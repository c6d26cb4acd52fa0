package main

import (
	"strings"
	"testing"
)

// TestNanoidShape checks length and alphabet for sizes across the range.
func TestNanoidShape(t *testing.T) {
	tests := []struct {
		name string
		size int
	}{
		{name: "shortest", size: 2},
		{name: "default", size: DefaultNanoidSize},
		{name: "longest", size: 255},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := newNanoid(urlAlphabet, tt.size, seeded(2))
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for range 100 {
				id, err := g.next()
				if err != nil {
					t.Fatal(err)
				}
				if len(id) != tt.size || strings.Trim(id, urlAlphabet) != "" {
					t.Fatalf("id %q: want %d characters of the URL alphabet", id, tt.size)
				}
				seen[id] = true
			}
			if tt.size >= 8 && len(seen) != 100 {
				t.Errorf("%d distinct ids of 100", len(seen))
			}
		})
	}
}

// TestNanoidRejection checks that bytes beyond the alphabet are skipped,
// not folded onto it, with an alphabet whose size is not a power of two.
func TestNanoidRejection(t *testing.T) {
	tests := []struct {
		name  string
		bytes []byte
		want  string
	}{
		{name: "all in range", bytes: []byte{0, 1, 2, 0}, want: "abca"},
		{name: "masked", bytes: []byte{4, 5, 6, 8}, want: "abca"},
		{name: "rejected", bytes: []byte{3, 7, 0, 255, 1, 2, 3, 0}, want: "abca"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := newNanoid("abc", 4, &bytesReader{b: tt.bytes})
			if err != nil {
				t.Fatal(err)
			}
			if id, err := g.next(); id != tt.want || err != nil {
				t.Errorf("next() = %q, %v; want %q", id, err, tt.want)
			}
		})
	}
}

// TestNanoidUniform draws many characters of a 5-character alphabet (mask
// 7, three of eight bytes rejected) and checks each is near one fifth.
func TestNanoidUniform(t *testing.T) {
	g, err := newNanoid("abcde", 200, seeded(3))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[rune]int{}
	const draws = 500
	for range draws {
		id, err := g.next()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range id {
			counts[c]++
		}
	}
	// 100000 draws: a fifth is 20000, with a standard deviation near 126.
	for c, n := range counts {
		if n < 19300 || n > 20700 {
			t.Errorf("%q drawn %d times of %d", c, n, draws*200)
		}
	}
	if len(counts) != 5 {
		t.Errorf("characters drawn: %v", counts)
	}
}

// TestNanoidErrors checks a bad alphabet and a failing random source.
func TestNanoidErrors(t *testing.T) {
	tests := []struct {
		name     string
		alphabet string
		error    string
	}{
		{name: "one character", alphabet: "a", error: "alphabet"},
		{name: "too long", alphabet: strings.Repeat("a", 257), error: "alphabet"},
		{name: "no entropy", alphabet: urlAlphabet, error: "random source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := newNanoid(tt.alphabet, 21, errReader{})
			if err == nil {
				_, err = g.next()
			}
			if err == nil || !strings.Contains(err.Error(), tt.error) {
				t.Errorf("error %v, want one with %q", err, tt.error)
			}
		})
	}
}
