package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wsplug/wsplug/abi/guest"
)

// rfc4231Case2 is HMAC-SHA256 with the key "Jefe" of "what do ya want for
// nothing?", from RFC 4231's test case 2: a value computed by others.
const rfc4231Case2 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"

// testNow is the fixed time of the tests' clock.
var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fixedClock is the clock of the tests, so that iat and exp are known.
func fixedClock() time.Time { return testNow }

// configOf decodes v, shaped as the host's config, as the plugin would
// decode the JSON the host passes.
func configOf(t *testing.T, v any) (config, error) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return decodeConfig(func(dst any) error { return guest.DecodeStrict(b, dst) })
}

// values returns a value function, as guest.Value is, that answers from m
// and denies the names in denied.
func values(m map[string]string, denied ...string) valueFunc {
	return func(name string) (string, error) {
		for _, d := range denied {
			if d == name {
				return "", guest.ErrDenied
			}
		}
		v, ok := m[name]
		if !ok {
			return "", guest.ErrNotFound
		}
		return v, nil
	}
}

// verify checks a token the way a server would, independently of the
// plugin's code: three base64url parts without padding, the exact header,
// an HMAC-SHA256 signature by key over the first two parts. It returns the
// claims.
func verify(t *testing.T, token string, key []byte) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", token, len(parts))
	}
	if strings.ContainsAny(token, "=+/") {
		t.Errorf("token %q is not unpadded base64url", token)
	}
	decode := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("part %q: %v", s, err)
		}
		return b
	}
	if h := string(decode(parts[0])); h != `{"alg":"HS256","typ":"JWT"}` {
		t.Errorf("header %s", h)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(decode(parts[2]), mac.Sum(nil)) {
		t.Errorf("signature of %q does not verify with key %q", token, key)
	}
	var claims map[string]any
	if err := json.Unmarshal(decode(parts[1]), &claims); err != nil {
		t.Fatalf("payload: %v", err)
	}
	return claims
}
