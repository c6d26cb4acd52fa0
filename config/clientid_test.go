package config

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestBuiltinClientIDFormats(t *testing.T) {
	t.Setenv("USER", "ada")
	host, _ := os.Hostname()
	tests := []struct {
		format string
		shape  string // a regexp the id must match
		unique bool   // whether two ids in a row differ
	}{
		{"uuid", `^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, true},
		{"uuid7", `^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, true},
		{"short", `^[A-Za-z0-9]{8}$`, true},
		{"timestamp", `^[0-9]{10,}$`, false},
		{"hex", `^[0-9a-f]{16}$`, true},
		{"opaque", `^[A-Za-z0-9_-]{22}$`, true},
		{"int", `^[0-9]{1,8}$`, false},
		{"machine", "^" + regexp.QuoteMeta(host) + "$", false},
		{"env_user", `^ada$`, false},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			f, ok := BuiltinClientIDFormat(tt.format)
			if !ok {
				t.Fatalf("no built-in format %q", tt.format)
			}
			shape := regexp.MustCompile(tt.shape)
			a, err := f.NewClientID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := f.NewClientID(ctx)
			if !shape.MatchString(a) || !shape.MatchString(b) {
				t.Errorf("ids %q, %q do not match %s", a, b, tt.shape)
			}
			if tt.unique && a == b {
				t.Errorf("two ids in a row are equal: %q", a)
			}
		})
	}
	if got := len(BuiltinClientIDFormats()); got != len(tests) {
		t.Errorf("%d built-in formats, %d tested", got, len(tests))
	}
}

func TestTimestampIsNow(t *testing.T) {
	f, _ := BuiltinClientIDFormat("timestamp")
	id, _ := f.NewClientID(context.Background())
	sec, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(time.Unix(sec, 0)); d < 0 || d > time.Minute {
		t.Errorf("timestamp %s is %s from now", id, d)
	}
}

func TestUUID7IsTimeOrdered(t *testing.T) {
	f, _ := BuiltinClientIDFormat("uuid7")
	id, _ := f.NewClientID(context.Background())
	u, err := uuid.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	sec, _ := u.Time().UnixTime()
	if d := time.Since(time.Unix(sec, 0)); d < -time.Second || d > time.Minute {
		t.Errorf("uuid7 %s carries a time %s from now", id, d)
	}
}

func TestEnvUserFallback(t *testing.T) {
	t.Setenv("USER", "")
	os.Unsetenv("USER")
	f, _ := BuiltinClientIDFormat("env_user")
	if id, _ := f.NewClientID(context.Background()); id != "unknown_user" {
		t.Errorf("env_user without USER = %q, want unknown_user", id)
	}
}

// TestRandomFormatsUseTheirWholeAlphabet draws many ids and checks that
// every character and digit of the format's alphabet shows up: a biased or
// truncated generator would miss some.
func TestRandomFormatsUseTheirWholeAlphabet(t *testing.T) {
	for _, tt := range []struct{ format, alphabet string }{
		{"short", alphanumeric},
		{"hex", "0123456789abcdef"},
		{"opaque", alphanumeric + "-_"},
	} {
		f, _ := BuiltinClientIDFormat(tt.format)
		seen := map[rune]bool{}
		for range 5000 {
			id, _ := f.NewClientID(context.Background())
			for _, r := range id {
				seen[r] = true
			}
		}
		for _, r := range tt.alphabet {
			if !seen[r] {
				t.Errorf("%s: %q never drawn", tt.format, r)
			}
		}
		if len(seen) != len(tt.alphabet) {
			t.Errorf("%s: drew %d distinct characters, alphabet has %d", tt.format, len(seen),
				len(tt.alphabet))
		}
	}
	f, _ := BuiltinClientIDFormat("int")
	largest := 0
	for range 2000 {
		id, _ := f.NewClientID(context.Background())
		n, _ := strconv.Atoi(id)
		if n >= 100_000_000 || strings.HasPrefix(id, "0") && id != "0" {
			t.Fatalf("int id %q out of range or padded", id)
		}
		largest = max(largest, n)
	}
	if largest < 90_000_000 {
		t.Errorf("int ids never came near 10^8 (largest %d)", largest)
	}
}
