package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// TestChaosAgainstPython sends 20,000 numbered messages from 8 goroutines
// while the server drops the connection at random. Every Send must answer
// once; per sender, the server must see what it sees in order, none twice,
// and only messages whose Send reported them written.
//
// It cannot see every written message: "written" means handed to TCP, and
// what sits unread in the server's socket when it aborts is gone with it
// (websocket has no acknowledgements). The test reports how many.
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

	ctx := context.Background()
	type outcome struct{ written, lost, other int }
	outcomes := make([]outcome, senders)
	writtenBy := make([]map[int]bool, senders)
	var wg sync.WaitGroup
	for g := range senders {
		writtenBy[g] = map[int]bool{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				err := c.Send(ctx, fmt.Sprintf(`{"g":%d,"n":%d}`, g, n), nil)
				switch {
				case err == nil:
					outcomes[g].written++
					writtenBy[g][n] = true
				case errors.Is(err, ErrConnectionLost):
					outcomes[g].lost++
				default:
					outcomes[g].other++
					t.Errorf("sender %d message %d: %v", g, n, err)
				}
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

	total, written := 0, 0
	for _, o := range outcomes {
		total += o.written + o.lost + o.other
		written += o.written
	}
	if total != senders*each {
		t.Fatalf("%d sends answered of %d", total, senders*each)
	}
	drops := len(py.handshakes()) - 1
	if drops < 10 {
		t.Fatalf("only %d reconnects: the chaos did not bite", drops)
	}
	msgs := py.received(c.ClientID(), 1)
	last := make([]int, senders)
	for i := range last {
		last[i] = -1
	}
	seen := 0
	for _, m := range msgs {
		if !strings.HasPrefix(m, `{"g":`) {
			continue
		}
		var g, n int
		fmt.Sscanf(m, `{"g":%d,"n":%d}`, &g, &n)
		if n <= last[g] {
			t.Fatalf("sender %d: message %d after %d: out of order or twice", g, n, last[g])
		}
		if !writtenBy[g][n] {
			t.Errorf("sender %d: the server saw %d, which Send reported lost", g, n)
		}
		last[g] = n
		seen++
	}
	t.Logf("%d sends: %d written, %d failed as the connection died; %d reconnects; "+
		"the server saw %d (%d written ones went down with their connection)",
		total, written, total-written, drops, seen, written-seen)
	if s := c.Stats(); s.Reconnects < int64(drops)-1 {
		t.Errorf("stats count %d reconnects, the server %d", s.Reconnects, drops)
	}
}
