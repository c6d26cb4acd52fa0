package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestChaosAgainstPython sends 20,000 numbered messages from 8 goroutines
// while the server drops the connection at random, and checks delivery
// against what the server recorded. The server records every frame that
// reached it before it dropped the connection (it reads its socket dry
// first); so each drop loses only the frames still on their way, which
// their Sends reported written (websocket has no acknowledgements): a few
// per drop, and the test bounds them by the number of drops.
func TestChaosAgainstPython(t *testing.T) {
	const senders, each = 8, 2500
	if testing.Short() {
		t.Skip("20,000 messages")
	}
	py := startPython(t, 0, 0)
	h, c, _, err := startObserved(t, comfyConfig(py.httpURL(), py.wsURL(),
		"      retry: -1\n      backoff: {initial: 1ms, max: 20ms}\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close(context.Background())
	py.control("POST", "chaos?p=0.02&seed=7", "")

	// The senders go at most pace messages a second in all. Unpaced, they
	// outrun the Python server many times over: their frames wait in the
	// sockets' buffers, counted written, and a drop loses them by the
	// thousand, which is the kernel's buffering and says nothing of the
	// client. Paced, the server reads about as fast as frames are written.
	const pace = 10_000
	tokens := make(chan struct{}, pace/100)
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				for range pace / 100 {
					select {
					case tokens <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	defer close(stop)

	// Each Send's result, by sender and number: nil (written) or its error.
	ctx := context.Background()
	var sent atomic.Int64
	results := make([][]error, senders)
	answered := make([][]bool, senders)
	var wg sync.WaitGroup
	for g := range senders {
		results[g], answered[g] = make([]error, each), make([]bool, each)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				<-tokens
				sent.Add(1)
				results[g][n] = c.Send(ctx, fmt.Sprintf(`{"g":%d,"n":%d}`, g, n), nil)
				answered[g][n] = true
			}
		}()
	}
	wg.Wait()
	py.control("POST", "chaos?p=0", "")
	// An echo that comes back proves the server has read everything before
	// it on the connection.
	echo := c.Subscribe(Filter{Types: []string{"echo"}})
	if err := c.Send(ctx, `{"type":"echo"}`, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := echo.Next(ctx); err != nil {
		t.Fatal(err)
	}
	echo.Close()

	written, errored := 0, 0
	for g := range senders {
		for n, err := range results[g] {
			switch {
			case !answered[g][n]:
				t.Fatalf("sender %d message %d: no answer", g, n)
			case err == nil:
				written++
			case errors.Is(err, ErrConnectionLost):
				errored++
			default:
				errored++
				t.Errorf("sender %d message %d: %v", g, n, err)
			}
		}
	}
	if total := int(sent.Load()); written+errored != total {
		t.Fatalf("%d written + %d errored, but %d sends made", written, errored, total)
	}
	drops := len(py.handshakes()) - 1
	if drops < 10 {
		t.Fatalf("only %d reconnects: the chaos did not bite", drops)
	}

	// What the server saw: per sender in order, none twice, each reported
	// written.
	last := make([]int, senders)
	for i := range last {
		last[i] = -1
	}
	seen := 0
	for _, m := range py.received(c.ClientID(), 1) {
		if !strings.HasPrefix(m, `{"g":`) {
			continue
		}
		var g, n int
		fmt.Sscanf(m, `{"g":%d,"n":%d}`, &g, &n)
		if n <= last[g] {
			t.Fatalf("sender %d: message %d after %d: out of order or twice", g, n, last[g])
		}
		if results[g][n] != nil {
			t.Errorf("sender %d: the server saw %d, whose Send failed: %v", g, n, results[g][n])
		}
		last[g] = n
		seen++
	}
	unseen, bound := written-seen, perDropInFlight*drops
	t.Logf("%d sends: %d written, %d failed as the connection died; %d drops; "+
		"%d written ones went down with their connection (bound %d)",
		written+errored, written, errored, drops, unseen, bound)
	if unseen > bound {
		t.Errorf("%d written frames never reached the server over %d drops: more than %d a drop",
			unseen, drops, perDropInFlight)
	}
	if s := c.Stats(); s.Reconnects < int64(drops)-1 {
		t.Errorf("stats count %d reconnects, the server %d", s.Reconnects, drops)
	}
}

// perDropInFlight bounds the written frames a drop may lose: those written
// between the server's last read of its socket and the moment the client
// learns of the drop, which the server tells it at once (it shuts the
// socket down right after reading it dry). About one a drop was measured
// on a 2-core machine; four leaves room for a loaded one.
const perDropInFlight = 4
