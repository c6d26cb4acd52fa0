//go:build race

package host

// raceEnabled: the race detector allows 8128 live goroutines at most.
const raceEnabled = true
