package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// stateLog records a host's state changes.
type stateLog struct {
	mu      sync.Mutex
	changes []StateChange
}

func (l *stateLog) record(c StateChange) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.changes = append(l.changes, c)
}

// states lists the states entered, in order, as "connecting connected ...".
func (l *stateLog) states() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s []string
	for _, c := range l.changes {
		s = append(s, c.To.String())
	}
	return strings.Join(s, " ")
}

func (l *stateLog) all() []StateChange {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]StateChange(nil), l.changes...)
}

// startObserved starts a host with a state log; Start's error is
// returned, not fatal.
func startObserved(t *testing.T, yaml string) (*Host, *Client, *stateLog, error) {
	t.Helper()
	log := &stateLog{}
	h, c, err := runHost(t, yaml, nil, &Options{OnStateChange: log.record})
	return h, c, log, err
}

// TestFaultsAgainstPython injects faults with the Python peer and checks
// that the client notices, says so in its states, reconnects with the same
// client id, and that no Send made meanwhile goes unanswered.
func TestFaultsAgainstPython(t *testing.T) {
	tests := []struct {
		name  string
		extra string // more websocket keys
		fault func(py *pyServer, c *Client)
		// The client's states from the fault on, and words one of the
		// reasons has.
		states string
		errHas string
		// deaf: the peer stops reading, so what the client wrote just
		// before it noticed was written to a socket nobody reads.
		deaf bool
	}{
		{
			name:   "server drops the connection",
			fault:  func(py *pyServer, c *Client) { py.control("POST", "drop?client="+c.ClientID(), "") },
			states: "reconnecting connected", errHas: "",
		},
		{
			name:   "server closes with a code",
			fault:  func(py *pyServer, c *Client) { py.control("POST", "close?code=4001&reason=bye", "") },
			states: "reconnecting connected", errHas: "4001",
		},
		{
			name:  "server stops answering pings",
			extra: "      ping_interval: 100ms\n      pong_timeout: 150ms\n",
			fault: func(py *pyServer, c *Client) {
				py.control("POST", "mute?client="+c.ClientID(), "")
			},
			states: "reconnecting connected", errHas: "no pong within 150ms", deaf: true,
		},
		{
			name:  "invalid UTF-8 in a text frame",
			fault: func(py *pyServer, c *Client) { py.control("POST", "badutf8?client="+c.ClientID(), "") },
			// The client fails the connection with 1007, as RFC 6455 says.
			states: "reconnecting connected", errHas: "not valid UTF-8",
		},
		{
			name:   "oversize frame",
			extra:  "      max_message_size: 1KiB\n",
			fault:  func(py *pyServer, c *Client) { py.control("POST", "oversize?bytes=4096&client="+c.ClientID(), "") },
			states: "reconnecting connected", errHas: "read limited at 1025 bytes",
		},
		{
			name: "handshake refused twice after a drop",
			fault: func(py *pyServer, c *Client) {
				py.control("POST", "refuse?status=503&count=2", "")
				py.control("POST", "drop", "")
			},
			extra:  "      retry: 5\n",
			states: "reconnecting reconnecting reconnecting connected", errHas: "HTTP 503",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			py := startPython(t, 0, 0)
			extra := tt.extra
			if !strings.Contains(extra, "retry:") {
				extra += "      retry: 3\n"
			}
			h, c, log, err := startObserved(t, comfyConfig(py.httpURL(), py.wsURL(), extra))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			id := c.ClientID()
			if err := c.Send(ctx, `{"type":"hello","n":0}`, nil); err != nil {
				t.Fatal(err)
			}
			py.received(id, 1)
			before := len(log.all())

			// Sends keep flowing through the fault.
			var wg sync.WaitGroup
			results := make(chan error, 20)
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 1; i <= 20; i++ {
					results <- c.Send(ctx, fmt.Sprintf(`{"type":"hello","n":%d}`, i), nil)
					time.Sleep(5 * time.Millisecond)
				}
			}()
			tt.fault(py, c)
			waitFor(t, "the client to reconnect", func() bool {
				changes := log.all()
				return len(changes) > before+1 && changes[len(changes)-1].To == StateConnected
			})
			wg.Wait()
			close(results)

			var got, reasons []string
			for _, ch := range log.all()[before:] {
				got = append(got, ch.To.String())
				if ch.Err != nil {
					reasons = append(reasons, ch.Err.Error())
				}
			}
			if strings.Join(got, " ") != tt.states {
				t.Errorf("states %q, want %q", strings.Join(got, " "), tt.states)
			}
			if !strings.Contains(strings.Join(reasons, "\n"), tt.errHas) {
				t.Errorf("no reason says %q: %q", tt.errHas, reasons)
			}
			checkBackoff(t, log.all()[before:], 20*time.Millisecond, 200*time.Millisecond)
			if c.ClientID() != id {
				t.Errorf("the client id changed from %s to %s", id, c.ClientID())
			}
			hs := py.handshakes()
			if q := hs[len(hs)-1]["query"]; q != "clientId="+id {
				t.Errorf("the reconnect's query is %v", q)
			}
			// Every Send was answered: written, or an error that says why.
			// The server saw what was written in order and none twice. A
			// frame written in the instant the connection died is lost with
			// it (a websocket has no acknowledgements): at most two here,
			// unless the peer had stopped reading altogether.
			written := map[int]bool{0: true}
			i := 0
			for err := range results {
				i++
				if err == nil {
					written[i] = true
				} else if !errors.Is(err, ErrConnectionLost) {
					t.Errorf("send %d failed with %v", i, err)
				}
			}
			if i != 20 {
				t.Fatalf("%d sends answered, 20 made", i)
			}
			want := len(written) - 2
			if tt.deaf {
				want = 1
			}
			last := -1
			for _, m := range py.received(id, want) {
				var n int
				fmt.Sscanf(m[strings.Index(m, `"n":`)+4:], "%d", &n)
				if n <= last || !written[n] {
					t.Errorf("message %d after %d: out of order, twice, or not reported written", n, last)
				}
				last = n
			}
			h.Close(ctx)
		})
	}
}

// TestRetriesExhausted: a server that refuses every handshake makes the
// client give up after its retries, with backoff between the attempts,
// and Start report it.
func TestRetriesExhausted(t *testing.T) {
	py := startPython(t, 0, 0)
	py.control("POST", "refuse?status=401&count=-1", "")
	start := time.Now()
	_, c, log, err := startObserved(t, comfyConfig(py.httpURL(), py.wsURL(),
		"      retry: 3\n      backoff: {initial: 50ms, max: 80ms}\n"))
	elapsed := time.Since(start)
	var de *DialError
	if !errors.Is(err, ErrRetriesExhausted) || !errors.As(err, &de) || de.Status != 401 {
		t.Fatalf("Start: %v", err)
	}
	if c.State() != StateFailed {
		t.Errorf("state %v", c.State())
	}
	if got := log.states(); got != "connecting reconnecting reconnecting reconnecting failed" {
		t.Errorf("states %q", got)
	}
	if n := len(py.handshakes()); n != 4 {
		t.Errorf("%d handshakes, want 1 + 3 retries", n)
	}
	// Full jitter: each wait is in (0, ceiling]; ceilings 50, 80, 80 ms.
	var waited time.Duration
	for _, ch := range log.all() {
		if ch.To == StateReconnecting {
			if ch.Delay <= 0 || ch.Delay > 80*time.Millisecond {
				t.Errorf("attempt %d waits %s, outside (0, 80ms]", ch.Attempt, ch.Delay)
			}
			waited += ch.Delay
		}
	}
	if elapsed < waited {
		t.Errorf("took %s, less than the %s of backoff", elapsed, waited)
	}
	if err := c.Send(context.Background(), "x", nil); !errors.Is(err, ErrRetriesExhausted) &&
		!errors.Is(err, ErrClientOff) {
		t.Errorf("send after giving up: %v", err)
	}
}

// checkBackoff checks each reconnect's wait against full jitter: above 0,
// at most initial doubled once per earlier attempt, and never above max.
func checkBackoff(t *testing.T, changes []StateChange, initial, max time.Duration) {
	t.Helper()
	for _, ch := range changes {
		if ch.To != StateReconnecting {
			continue
		}
		ceiling := initial
		for i := 1; i < ch.Attempt && ceiling < max; i++ {
			ceiling *= 2
		}
		ceiling = min(ceiling, max)
		if ch.Delay <= 0 || ch.Delay > ceiling {
			t.Errorf("attempt %d waited %s, outside (0, %s]", ch.Attempt, ch.Delay, ceiling)
		}
	}
}
