package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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

// Backoff of the fault tests: long enough that a wait shorter than the
// client's chosen delay shows, short enough for many attempts.
const (
	faultInitial = 40 * time.Millisecond
	faultMax     = 160 * time.Millisecond
	// faultSlack is what a loaded machine may add to a wait: the dial,
	// the handshake, the scheduler.
	faultSlack = time.Second
)

// faultKeys are the websocket keys of the fault tests' clients.
var faultKeys = fmt.Sprintf("      retry: 5\n      backoff: {initial: %s, max: %s}\n",
	faultInitial, faultMax)

// recovery is what a client must do from a fault on.
type recovery struct {
	states  string         // the states it enters, in order
	retries int            // its attempts, each a handshake on the server
	errHas  *regexp.Regexp // matches one of the reasons it gives
	detect  time.Duration  // how long noticing the fault may take
}

// checkRecovery checks the client's state changes from a fault on: the
// states, the reasons, the number of attempts, and each wait measured on
// the server, from the fault (or the attempt before) to the attempt's
// handshake: at least the delay the client chose, which is within full
// jitter's (0, ceiling], and at most that ceiling plus slack, plus the time
// to notice the fault for the first.
func checkRecovery(t *testing.T, changes []StateChange, fault time.Time, shakes []time.Time,
	want recovery) {
	t.Helper()
	var states, reasons []string
	var waits []StateChange
	for _, ch := range changes {
		states = append(states, ch.To.String())
		if ch.Err != nil {
			reasons = append(reasons, ch.Err.Error())
		}
		if ch.To == StateReconnecting {
			waits = append(waits, ch)
		}
	}
	if got := strings.Join(states, " "); got != want.states {
		t.Errorf("states %q, want %q", got, want.states)
	}
	if !want.errHas.MatchString(strings.Join(reasons, "\n")) {
		t.Errorf("no reason matches %q: %q", want.errHas, reasons)
	}
	if len(waits) != want.retries || len(shakes) != want.retries {
		t.Errorf("%d attempts and %d handshakes after the fault, want %d", len(waits), len(shakes),
			want.retries)
		return
	}
	checkBackoff(t, waits, faultInitial, faultMax)
	prev := fault
	for i, ch := range waits {
		gap := shakes[i].Sub(prev)
		upper := ceilingOf(ch.Attempt, faultInitial, faultMax) + faultSlack
		if i == 0 {
			upper += want.detect
		}
		if gap < ch.Delay-2*time.Millisecond || gap > upper {
			t.Errorf("attempt %d came %s after the one before; its backoff was %s, the bound %s",
				ch.Attempt, gap, ch.Delay, upper)
		}
		prev = shakes[i]
	}
}

// checkSends checks the Sends made through a fault (results[i] is the
// answer of message i) against the numbers of the messages the server saw:
// each Send was written or failed with ErrConnectionLost; the server saw
// only written ones, in order, none twice; and at most lost written ones
// are missing, the frames in flight when the connection died.
func checkSends(t *testing.T, results []error, seen []int, lost int) {
	t.Helper()
	written := 0
	for i, err := range results {
		switch {
		case err == nil:
			written++
		case !errors.Is(err, ErrConnectionLost):
			t.Errorf("send %d: %v", i, err)
		}
	}
	last := -1
	for _, n := range seen {
		if n <= last || n >= len(results) || results[n] != nil {
			t.Errorf("the server saw message %d after %d: out of order, twice, or not written",
				n, last)
		}
		last = n
	}
	if missing := written - len(seen); missing > lost {
		t.Errorf("%d written messages never reached the server, more than the %d in flight",
			missing, lost)
	}
}

// sendThrough sends n messages numbered for sender g, one every few
// milliseconds, and returns their answers once all have one.
func sendThrough(c *Client, g, n int) <-chan []error {
	out := make(chan []error, 1)
	go func() {
		results := make([]error, n)
		for i := range results {
			msg := fmt.Sprintf(`{"type":"hello","g":%d,"n":%d}`, g, i)
			results[i] = c.Send(context.Background(), msg, nil)
			time.Sleep(5 * time.Millisecond)
		}
		out <- results
	}()
	return out
}

// numbers returns the n of each {"type":"hello","g":G,"n":N} message of
// sender g.
func numbers(msgs []string, g int) []int {
	var ns []int
	for _, m := range msgs {
		var v struct {
			Type string
			G, N int
		}
		if json.Unmarshal([]byte(m), &v) == nil && v.Type == "hello" && v.G == g {
			ns = append(ns, v.N)
		}
	}
	return ns
}

// flush waits until the server has read everything the client wrote
// before: an echo comes back after it.
func flush(t *testing.T, c *Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	echo := c.Subscribe(Filter{Types: []string{"echo"}})
	defer echo.Close()
	if err := c.Send(ctx, `{"type":"echo"}`, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := echo.Next(ctx); err != nil {
		t.Fatal(err)
	}
}

// pyShakeTimes are the arrival times of the Python server's handshakes,
// from the nth on.
func pyShakeTimes(py *pyServer, from int) []time.Time {
	var out []time.Time
	for _, h := range py.handshakes()[from:] {
		sec, _ := h["at"].(float64)
		out = append(out, time.Unix(0, int64(sec*1e9)))
	}
	return out
}

// TestFaultsAgainstPython injects each fault with the Python peer while
// messages flow, and checks how the client recovers (states, attempts,
// backoff measured on the server), that it keeps its client id, and what
// became of every Send made meanwhile.
func TestFaultsAgainstPython(t *testing.T) {
	anyLoss := regexp.MustCompile(`EOF|reset by peer|broken pipe`)
	refused := func(status int) func(py *pyServer, c *Client) {
		return func(py *pyServer, c *Client) {
			py.control("POST", fmt.Sprintf("refuse?status=%d&count=2", status), "")
			py.control("POST", "drop", "")
		}
	}
	tests := []struct {
		name  string
		extra string // more websocket keys
		fault func(py *pyServer, c *Client)
		want  recovery
		// deaf: the peer stops reading, so what the client wrote after
		// that until it noticed is lost with the connection.
		deaf bool
	}{
		{
			name: "server drops the connection",
			fault: func(py *pyServer, c *Client) {
				py.control("POST", "drop?client="+c.ClientID(), "")
			},
			want: recovery{states: "reconnecting connected", retries: 1, errHas: anyLoss},
		},
		{
			name: "server closes with a code",
			fault: func(py *pyServer, c *Client) {
				py.control("POST", "close?code=4001&reason=bye", "")
			},
			want: recovery{states: "reconnecting connected", retries: 1,
				errHas: regexp.MustCompile(`status = StatusCode\(4001\) and reason = "bye"`)},
		},
		{
			name:  "server stops answering pings",
			extra: "      ping_interval: 100ms\n      pong_timeout: 150ms\n",
			fault: func(py *pyServer, c *Client) {
				py.control("POST", "mute?client="+c.ClientID(), "")
			},
			want: recovery{states: "reconnecting connected", retries: 1,
				errHas: regexp.MustCompile(`no pong within 150ms`), detect: 250 * time.Millisecond},
			deaf: true,
		},
		{
			name:  "invalid UTF-8 in a text frame",
			fault: func(py *pyServer, c *Client) { py.control("POST", "badutf8?client="+c.ClientID(), "") },
			// The client fails the connection with 1007, as RFC 6455 says.
			want: recovery{states: "reconnecting connected", retries: 1,
				errHas: regexp.MustCompile(`not valid UTF-8: closed with 1007`)},
		},
		{
			name:  "oversize frame",
			extra: "      max_message_size: 1KiB\n",
			fault: func(py *pyServer, c *Client) {
				py.control("POST", "oversize?bytes=4096&client="+c.ClientID(), "")
			},
			want: recovery{states: "reconnecting connected", retries: 1,
				errHas: regexp.MustCompile(`read limited at 1025 bytes`)},
		},
		{
			name:  "handshake refused with 503 twice after a drop",
			fault: refused(503),
			want: recovery{states: "reconnecting reconnecting reconnecting connected", retries: 3,
				errHas: regexp.MustCompile(`handshake refused with HTTP 503`)},
		},
		{
			name:  "handshake refused with 401 twice after a drop",
			fault: refused(401),
			want: recovery{states: "reconnecting reconnecting reconnecting connected", retries: 3,
				errHas: regexp.MustCompile(`handshake refused with HTTP 401`)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			py := startPython(t, 0, 0)
			extra := tt.extra + faultKeys
			h, c, log, err := startObserved(t, comfyConfig(py.httpURL(), py.wsURL(), extra))
			if err != nil {
				t.Fatal(err)
			}
			defer h.Close(context.Background())
			id := c.ClientID()
			flush(t, c)
			before, shakes := len(log.all()), len(py.handshakes())

			sent := sendThrough(c, 0, 20)
			time.Sleep(20 * time.Millisecond) // a few go out first
			fault := time.Now()
			tt.fault(py, c)
			waitFor(t, "the client to reconnect", func() bool {
				changes := log.all()
				return len(changes) > before+1 && changes[len(changes)-1].To == StateConnected
			})
			results := <-sent
			flush(t, c)

			checkRecovery(t, log.all()[before:], fault, pyShakeTimes(py, shakes), tt.want)
			if c.ClientID() != id {
				t.Errorf("the client id changed from %s to %s", id, c.ClientID())
			}
			hs := py.handshakes()
			if q := hs[len(hs)-1]["query"]; q != "clientId="+id {
				t.Errorf("the reconnect's query is %v", q)
			}
			lost := 2
			if tt.deaf {
				lost = len(results)
			}
			checkSends(t, results, numbers(py.received(id, 0), 0), lost)
		})
	}
}

// TestRetriesExhausted: a server that refuses every handshake makes the
// client give up after its retries, with backoff between the attempts,
// and Start report it.
func TestRetriesExhausted(t *testing.T) {
	py := startPython(t, 0, 0)
	py.control("POST", "refuse?status=401&count=-1", "")
	_, c, log, err := startObserved(t, comfyConfig(py.httpURL(), py.wsURL(), fmt.Sprintf(
		"      retry: 3\n      backoff: {initial: %s, max: %s}\n", faultInitial, faultMax)))
	var de *DialError
	if !errors.Is(err, ErrRetriesExhausted) || !errors.As(err, &de) || de.Status != 401 {
		t.Fatalf("Start: %v", err)
	}
	if c.State() != StateFailed {
		t.Errorf("state %v", c.State())
	}
	// From the first refusal on: three more attempts, each after its
	// backoff, then the client gives up.
	changes := log.all()
	shakes := pyShakeTimes(py, 0)
	if len(changes) == 0 || changes[0].To != StateConnecting || len(shakes) == 0 {
		t.Fatalf("states %q, %d handshakes", log.states(), len(shakes))
	}
	checkRecovery(t, changes[1:], shakes[0], shakes[1:], recovery{
		states: "reconnecting reconnecting reconnecting failed", retries: 3,
		errHas: regexp.MustCompile(`retries exhausted: .* handshake refused with HTTP 401`),
	})
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
		if ceiling := ceilingOf(ch.Attempt, initial, max); ch.Delay <= 0 || ch.Delay > ceiling {
			t.Errorf("attempt %d waited %s, outside (0, %s]", ch.Attempt, ch.Delay, ceiling)
		}
	}
}

// ceilingOf is the most attempt n may wait: initial doubled once per
// earlier attempt, at most max.
func ceilingOf(n int, initial, max time.Duration) time.Duration {
	ceiling := initial
	for i := 1; i < n && ceiling < max; i++ {
		ceiling *= 2
	}
	return min(ceiling, max)
}
