//go:build !wasip1

package guest

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/wsplug/wsplug/abi"
)

// The providers of this test binary, registered as a plugin would.
func init() {
	ClientIDFormat("seq", func() (string, error) { return "id-7", nil })
	Placeholder("greet", func(arg string) (string, error) {
		if arg == "" {
			return "", errors.New("greet needs a name")
		}
		return "hello " + arg, nil
	})
	SecretPlaceholder("tok", func(string) (string, error) { return Value(abi.ValueToken) })
	JSONPlaceholder("num", func(string) (any, error) { return 42, nil })
	Transform("upper", func(m Message) (Result, error) {
		switch {
		case m.Binary:
			return Pass(), nil
		case bytes.Equal(m.Data, []byte("drop")):
			return Drop(), nil
		case bytes.Equal(m.Data, []byte("panic")):
			panic("asked to")
		}
		return Replace(bytes.ToUpper(m.Data)), nil
	})
}

func TestDescribe(t *testing.T) {
	var s Sim
	want := "client_id seq\nplaceholder greet\nplaceholder tok secret\nplaceholder num\ntransform upper\n"
	if got := s.Describe(); got != want {
		t.Errorf("describe:\n%s\nwant\n%s", got, want)
	}
}

func TestCalls(t *testing.T) {
	s := &Sim{Values: map[string]string{abi.ValueToken: "t0k"}}
	if id, err := s.ClientID("seq"); id != "id-7" || err != nil {
		t.Errorf("client id = %q, %v", id, err)
	}
	if v, err := s.Placeholder("greet", "ada"); v != "hello ada" || err != nil {
		t.Errorf("greet = %v, %v", v, err)
	}
	if _, err := s.Placeholder("greet", ""); err == nil || err.Error() != "greet needs a name" {
		t.Errorf("greet error = %v", err)
	}
	if v, err := s.Placeholder("tok", ""); v != "t0k" || err != nil {
		t.Errorf("tok = %v, %v", v, err)
	}
	if v, err := s.Placeholder("num", ""); v != float64(42) || err != nil {
		t.Errorf("num = %#v, %v", v, err)
	}

	tests := []struct {
		in, want string
		binary   bool
		dropped  bool
		err      string
	}{
		{in: "abc", want: "ABC"},
		{in: "abc", want: "abc", binary: true},
		{in: "drop", dropped: true},
		{in: "panic", err: "panic: asked to"},
	}
	for _, tt := range tests {
		out, dropped, err := s.Transform("upper", []byte(tt.in), false, tt.binary)
		if string(out) != tt.want || dropped != tt.dropped || (err == nil) != (tt.err == "") ||
			err != nil && err.Error() != tt.err {
			t.Errorf("upper(%q) = %q, %v, %v", tt.in, out, dropped, err)
		}
	}
}

func TestValueErrors(t *testing.T) {
	s := &Sim{Denied: map[string]bool{abi.ValueToken: true}}
	if _, err := s.Placeholder("tok", ""); err == nil || !strings.Contains(err.Error(), "secrets capability") {
		t.Errorf("denied token: %v", err)
	}
	s = &Sim{}
	if _, err := s.Placeholder("tok", ""); err == nil || err.Error() != ErrNotFound.Error() {
		t.Errorf("unset token: %v", err)
	}
}

func TestReadBufferGrows(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 5000)
	var buf []byte
	calls := 0
	got, n := readBuffer(&buf, func(p []byte) int32 { calls++; return readInto(p, long) })
	if n != 5000 || !bytes.Equal(got, long) || calls != 2 {
		t.Fatalf("n=%d calls=%d", n, calls)
	}
	calls = 0
	if got, _ := readBuffer(&buf, func(p []byte) int32 { calls++; return readInto(p, long[:10]) }); calls != 1 ||
		len(got) != 10 {
		t.Errorf("a big enough buffer must be reused: calls=%d len=%d", calls, len(got))
	}
}

func TestConfigAndLogger(t *testing.T) {
	s := &Sim{Config: map[string]any{"n": 3}}
	s.Init()
	var cfg struct{ N int }
	if err := DecodeConfig(&cfg); err != nil || cfg.N != 3 {
		t.Errorf("config = %+v, %v", cfg, err)
	}
	Logger().With("k", "v").Info("hello", "n", 1)
	if want := []string{"0 hello k=v n=1"}; !reflect.DeepEqual(s.Logs, want) {
		t.Errorf("logs = %q, want %q", s.Logs, want)
	}
}

func TestDecodeStrict(t *testing.T) {
	type cfg struct {
		Node  int `json:"node"`
		Inner struct {
			On bool `json:"on"`
		} `json:"inner"`
	}
	for _, tt := range []struct{ name, in, want string }{
		{"ok", `{"node":7,"inner":{"on":true}}`, ""},
		{"unknown key", `{"nod":7}`, `config: unknown key "nod"`},
		{"wrong kind", `{"node":"7"}`, "config: node: a JSON string where an integer is needed"},
		{"nested", `{"inner":{"on":1}}`, "config: inner.on: a JSON number where true or false is needed"},
		{"not an object", `[1]`, "config: the config is a JSON array; it must be an object"},
		{"two values", `{} {}`, "config: more than one JSON value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c cfg
			err := DecodeStrict([]byte(tt.in), &c)
			if (err == nil) != (tt.want == "") || err != nil && err.Error() != tt.want {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}
