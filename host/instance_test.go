package host

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wsplug/wsplug/config"
)

// TestClientValues: what value_read finds for each name; an empty value
// reads as unset, as ABI section 4 says.
func TestClientValues(t *testing.T) {
	full := &ClientInfo{
		API:    "A",
		Values: &config.Values{ClientID: "c", SessionID: "s", Token: "t"},
		Auth:   &config.Auth{Username: "u", Password: "p"},
	}
	empty := &ClientInfo{Values: &config.Values{}, Auth: &config.Auth{}}
	tests := []struct {
		name       string
		client     *ClientInfo
		value      string
		want       string
		wantSecret bool
		wantOK     bool
	}{
		{name: "api", client: full, value: "api", want: "A", wantOK: true},
		{name: "client id", client: full, value: "client_id", want: "c", wantOK: true},
		{name: "session id", client: full, value: "session_id", want: "s", wantOK: true},
		{name: "unset channel", client: full, value: "channel"},
		{name: "token", client: full, value: "token", want: "t", wantSecret: true, wantOK: true},
		{name: "username", client: full, value: "auth.username", want: "u", wantSecret: true,
			wantOK: true},
		{name: "password", client: full, value: "auth.password", want: "p", wantSecret: true,
			wantOK: true},
		{name: "unknown name", client: full, value: "nope"},
		{name: "empty api", client: empty, value: "api"},
		{name: "empty token", client: empty, value: "token", wantSecret: true},
		{name: "empty username", client: empty, value: "auth.username", wantSecret: true},
		{name: "empty password", client: empty, value: "auth.password", wantSecret: true},
		{name: "no auth", client: &ClientInfo{}, value: "auth.password", wantSecret: true},
		{name: "no client", value: "client_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, secret, ok := tt.client.value(tt.value)
			if v != tt.want || secret != tt.wantSecret || ok != tt.wantOK {
				t.Errorf("value(%q) = %q, %v, %v; want %q, %v, %v", tt.value, v, secret, ok,
					tt.want, tt.wantSecret, tt.wantOK)
			}
		})
	}
}

// TestStartHonoursTheCallersContext: when the caller's context ends while an
// instance starts, the error is the context's, not a timeout of the
// plugin's start.
func TestStartHonoursTheCallersContext(t *testing.T) {
	l := newTestLoader(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := l.Load(ctx, config.Plugin{Name: "slow", File: hostile("slow_start"), Limits: testLimits})
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v; want the context's deadline", err)
	}
	if want := "plugin[slow] start: context deadline exceeded"; err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the load took %s after its context ended", d)
	}
}
