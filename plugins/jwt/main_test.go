//go:build !wasip1

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/wsplug/wsplug/abi"
	"github.com/wsplug/wsplug/abi/guest"
)

// TestDescribe checks that both placeholders are described as secrets, so
// that the host never logs their values.
func TestDescribe(t *testing.T) {
	var s guest.Sim
	want := "placeholder jwt secret\nplaceholder hmac secret\n"
	if got := s.Describe(); got != want {
		t.Errorf("describe = %q, want %q", got, want)
	}
}

// TestSim runs the placeholders through the simulated host, with the real
// clock and guest.Value.
func TestSim(t *testing.T) {
	tests := []struct {
		name   string
		sim    guest.Sim
		holder string
		arg    string
		check  func(t *testing.T, v string)
		error  string
	}{
		{
			name: "jwt from the token",
			sim: guest.Sim{
				Config: map[string]any{"jwt": map[string]any{"key_from": "token",
					"issuer": "me", "lifetime": "5m"}},
				Values: map[string]string{
					abi.ValueToken: "k3y", abi.ValueClientID: "c-7",
				},
			},
			holder: "jwt",
			check: func(t *testing.T, v string) {
				claims := verify(t, v, []byte("k3y"))
				iat, _ := claims["iat"].(float64)
				d := time.Since(time.Unix(int64(iat), 0))
				if d < -time.Second || d > time.Minute {
					t.Errorf("iat %v is not now", iat)
				}
				if claims["exp"] != iat+300 || claims["sub"] != "c-7" ||
					claims["iss"] != "me" {
					t.Errorf("claims %v", claims)
				}
			},
		},
		{
			name: "jwt without secrets",
			sim: guest.Sim{
				Config: map[string]any{"jwt": map[string]any{"key_from": "token"}},
				Values: map[string]string{abi.ValueToken: "k3y"},
				Denied: map[string]bool{abi.ValueToken: true},
			},
			holder: "jwt",
			error:  "needs the secrets capability",
		},
		{
			name: "hmac",
			sim: guest.Sim{
				Config: map[string]any{"hmac": map[string]any{"key": "Jefe"}},
				Values: map[string]string{
					abi.ValueClientID: "what do ya want for nothing?",
				},
			},
			holder: "hmac", arg: "client_id",
			check: func(t *testing.T, v string) {
				if v != rfc4231Case2 {
					t.Errorf("hmac %s, want %s", v, rfc4231Case2)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.sim.Init(); err != nil {
				t.Fatal(err)
			}
			v, err := tt.sim.Placeholder(tt.holder, tt.arg)
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Errorf("%s = %v, %v; want an error with %q",
						tt.holder, v, err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s, ok := v.(string)
			if !ok {
				t.Fatalf("%s = %#v, want text", tt.holder, v)
			}
			tt.check(t, s)
		})
	}
}

// TestInitError checks that a bad config fails the instance, as the host
// sees it.
func TestInitError(t *testing.T) {
	s := guest.Sim{Config: map[string]any{"jwt": map[string]any{"lifetime": "forever"}}}
	if err := s.Init(); err == nil || !strings.Contains(err.Error(), "jwt.lifetime") {
		t.Errorf("init: %v", err)
	}
}
