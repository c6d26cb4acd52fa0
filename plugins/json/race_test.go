//go:build race

package main

// raceEnabled says the race detector is on: its instrumentation makes some
// values escape to the heap, so allocation counts do not hold.
const raceEnabled = true
