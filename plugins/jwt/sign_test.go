package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestToken makes tokens from several configs and checks each one's
// signature and claims.
func TestToken(t *testing.T) {
	iat := float64(testNow.Unix())
	tests := []struct {
		name   string
		config any
		values map[string]string
		key    string
		want   map[string]any
	}{
		{
			name:   "defaults",
			config: map[string]any{"jwt": map[string]any{"key": "s3cret"}},
			values: map[string]string{"client_id": "c-1"},
			key:    "s3cret",
			want:   map[string]any{"sub": "c-1", "iat": iat, "exp": iat + 3600},
		},
		{
			name: "no client id",
			config: map[string]any{"jwt": map[string]any{
				"key": "s3cret", "lifetime": "90m"}},
			key:  "s3cret",
			want: map[string]any{"iat": iat, "exp": iat + 5400},
		},
		{
			name: "all claims",
			config: map[string]any{"jwt": map[string]any{
				"key": "k", "issuer": "wsplug", "audience": "comfy", "lifetime": "10s",
				"claims": map[string]any{
					"role": "bot", "n": 12345678901, "tags": []any{"a"}, "q": `"<&>"`,
				},
			}},
			values: map[string]string{"client_id": "c-2"},
			key:    "k",
			want: map[string]any{
				"sub": "c-2", "iat": iat, "exp": iat + 10, "iss": "wsplug",
				"aud": "comfy", "role": "bot", "n": float64(12345678901),
				"tags": []any{"a"}, "q": `"<&>"`,
			},
		},
		{
			name: "audience list and fixed sub",
			config: map[string]any{"jwt": map[string]any{
				"key": "k", "audience": []any{"a", "b"},
				"claims": map[string]any{"sub": "service"},
			}},
			values: map[string]string{"client_id": "c-3"},
			key:    "k",
			want: map[string]any{"sub": "service", "iat": iat, "exp": iat + 3600,
				"aud": []any{"a", "b"}},
		},
		{
			name:   "key from token",
			config: map[string]any{"jwt": map[string]any{"key_from": "token"}},
			values: map[string]string{"client_id": "c-4", "token": "tok-key"},
			key:    "tok-key",
			want:   map[string]any{"sub": "c-4", "iat": iat, "exp": iat + 3600},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := configOf(t, tt.config)
			if err != nil {
				t.Fatal(err)
			}
			s, err := newSettings(cfg, fixedClock)
			if err != nil {
				t.Fatal(err)
			}
			token, err := s.token("", values(tt.values))
			if err != nil {
				t.Fatal(err)
			}
			claims := verify(t, token, []byte(tt.key))
			if !reflect.DeepEqual(claims, tt.want) {
				t.Errorf("claims %v, want %v", claims, tt.want)
			}
		})
	}
}

// TestTokenClaimOrder checks that tokens of one config differ only where
// the client or the time does, so that the fixed claims are encoded in a
// stable order.
func TestTokenClaimOrder(t *testing.T) {
	cfg, err := configOf(t, map[string]any{"jwt": map[string]any{
		"key": "k", "claims": map[string]any{"z": 1, "a": 2, "m": 3},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSettings(cfg, fixedClock)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := s.token("", values(nil))
	for range 20 {
		if again, _ := s.token("", values(nil)); again != first {
			t.Fatalf("token %s, then %s", first, again)
		}
	}
}

// TestTokenErrors checks the calls that cannot make a token.
func TestTokenErrors(t *testing.T) {
	fromToken := map[string]any{"jwt": map[string]any{"key_from": "token"}}
	tests := []struct {
		name   string
		config any
		arg    string
		values map[string]string
		denied []string
		error  string
	}{
		{name: "argument", config: map[string]any{"jwt": map[string]any{"key": "k"}},
			arg: "x", error: "takes no argument"},
		{name: "no key", config: nil, error: "set jwt.key or jwt.key_from"},
		{name: "token denied", config: fromToken, denied: []string{"token"},
			error: "add secrets to the plugin's allow"},
		{name: "no token", config: fromToken,
			error: "jwt.key_from: the client has no token"},
		{name: "empty token", config: fromToken, values: map[string]string{"token": ""},
			error: "the client has no token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := configOf(t, tt.config)
			if err != nil {
				t.Fatal(err)
			}
			s, err := newSettings(cfg, fixedClock)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := s.token(tt.arg, values(tt.values, tt.denied...))
			if err == nil || !strings.Contains(err.Error(), tt.error) {
				t.Errorf("token = %q, %v; want an error with %q", tok, err, tt.error)
			}
		})
	}
}

// TestHMAC checks {hmac:FIELD} against RFC 4231's second test case and
// against crypto/hmac, with each source of the key.
func TestHMAC(t *testing.T) {
	sum := func(key, msg string) string {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(msg))
		return hex.EncodeToString(m.Sum(nil))
	}
	vals := map[string]string{
		"api": "ComfyUI", "client_id": "what do ya want for nothing?",
		"session_id": "s-9", "channel": "main", "version": "2", "token": "tok",
	}
	tests := []struct {
		name   string
		config any
		field  string
		want   string
	}{
		{name: "RFC 4231 case 2", field: "client_id", want: rfc4231Case2,
			config: map[string]any{"hmac": map[string]any{"key": "Jefe"}}},
		{name: "jwt key as fallback", field: "session_id", want: sum("j", "s-9"),
			config: map[string]any{"jwt": map[string]any{"key": "j"}}},
		{name: "hmac key wins", field: "api", want: sum("h", "ComfyUI"),
			config: map[string]any{"jwt": map[string]any{"key": "j"},
				"hmac": map[string]any{"key": "h"}}},
		{name: "empty hmac section falls back", field: "channel", want: sum("j", "main"),
			config: map[string]any{
				"jwt": map[string]any{"key": "j"}, "hmac": map[string]any{}}},
		{name: "key from token", field: "version", want: sum("tok", "2"),
			config: map[string]any{"hmac": map[string]any{"key_from": "token"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := configOf(t, tt.config)
			if err != nil {
				t.Fatal(err)
			}
			s, err := newSettings(cfg, fixedClock)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := s.hmac(tt.field, values(vals)); got != tt.want || err != nil {
				t.Errorf("hmac(%s) = %q, %v; want %q", tt.field, got, err, tt.want)
			}
		})
	}
}

// TestHMACErrors checks the calls that cannot make an HMAC.
func TestHMACErrors(t *testing.T) {
	keyed := map[string]any{"hmac": map[string]any{"key": "k"}}
	tests := []struct {
		name   string
		config any
		field  string
		values map[string]string
		error  string
	}{
		{name: "no field", config: keyed, error: "needs a field"},
		{name: "secret field", config: keyed, field: "token",
			values: map[string]string{"token": "t"}, error: "token is not one of"},
		{name: "unknown field", config: keyed, field: "user",
			error: "user is not one of"},
		{name: "unset field", config: keyed, field: "session_id",
			error: "the client has no session_id"},
		{name: "no key", config: nil, field: "api", values: map[string]string{"api": "a"},
			error: "set hmac.key or hmac.key_from"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := configOf(t, tt.config)
			if err != nil {
				t.Fatal(err)
			}
			s, err := newSettings(cfg, fixedClock)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.hmac(tt.field, values(tt.values))
			if err == nil || !strings.Contains(err.Error(), tt.error) {
				t.Errorf("hmac(%s) = %q, %v; want an error with %q",
					tt.field, got, err, tt.error)
			}
		})
	}
}

// TestLifetime checks that exp follows jwt.lifetime with a moving clock.
func TestLifetime(t *testing.T) {
	cfg, err := configOf(t, map[string]any{"jwt": map[string]any{
		"key": "k", "lifetime": "2h"}})
	if err != nil {
		t.Fatal(err)
	}
	now := testNow
	tick := func() time.Time { now = now.Add(time.Minute); return now }
	s, err := newSettings(cfg, tick)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		tok, err := s.token("", values(nil))
		if err != nil {
			t.Fatal(err)
		}
		claims := verify(t, tok, []byte("k"))
		wantIat := float64(testNow.Add(time.Duration(i+1) * time.Minute).Unix())
		if claims["iat"] != wantIat || claims["exp"] != wantIat+7200 {
			t.Errorf("token %d: iat %v exp %v, want iat %v",
				i, claims["iat"], claims["exp"], wantIat)
		}
	}
}
