package main

import (
	"fmt"
	"io"
	"math/bits"
)

// urlAlphabet is the nanoid alphabet: 64 characters that need no escaping
// in a URL, a header or a file name.
const urlAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

// nanoidGen makes random ids of size characters from an alphabet, each
// character uniform over it.
type nanoidGen struct {
	alphabet string
	size     int
	mask     byte
	rand     io.Reader
	buf      []byte // random bytes, reused from call to call
}

// newNanoid returns a generator of ids of size characters of alphabet
// (2..256 characters) drawn from rand.
func newNanoid(alphabet string, size int, rand io.Reader) (*nanoidGen, error) {
	if len(alphabet) < 2 || len(alphabet) > 256 {
		return nil, fmt.Errorf("nanoid: an alphabet of %d characters is not in 2..256",
			len(alphabet))
	}
	// The smallest all-ones mask that covers every index of the alphabet.
	mask := byte(1<<bits.Len(uint(len(alphabet)-1)) - 1)
	return &nanoidGen{alphabet: alphabet, size: size, mask: mask, rand: rand}, nil
}

// next returns a new id. A random byte is masked to the smallest power of
// two that covers the alphabet and used only when it falls inside: taking
// it modulo the alphabet's size would favour the first characters. For the
// 64-character URL alphabet no byte is ever rejected.
func (g *nanoidGen) next() (string, error) {
	out := make([]byte, 0, g.size)
	for len(out) < g.size {
		need := g.size - len(out)
		// Enough bytes for the expected rejections, plus a margin.
		n := need*(int(g.mask)+1)/len(g.alphabet) + need/4 + 1
		if cap(g.buf) < n {
			g.buf = make([]byte, n)
		}
		buf := g.buf[:n]
		if _, err := io.ReadFull(g.rand, buf); err != nil {
			return "", fmt.Errorf("nanoid: random source: %w", err)
		}
		for _, b := range buf {
			if i := int(b & g.mask); i < len(g.alphabet) {
				out = append(out, g.alphabet[i])
				if len(out) == g.size {
					break
				}
			}
		}
	}
	return string(out), nil
}
