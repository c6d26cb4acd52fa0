package transform

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestApply checks the change Apply makes and the inputs it refuses.
func TestApply(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  string
		error string
	}{
		{name: "text", in: `{"text":"héllo","n":1}`,
			want: `{"n":1,"seen":true,"text":"HÉLLO"}`},
		{name: "no text", in: `{"b":[1,2],"a":null}`,
			want: `{"a":null,"b":[1,2],"seen":true}`},
		{name: "text not a string", in: `{"text":5}`, want: `{"seen":true,"text":5}`},
		{name: "big number kept", in: ` {"id":12345678901234567890} `,
			want: `{"id":12345678901234567890,"seen":true}`},
		{name: "seen replaced", in: `{"seen":"no"}`, want: `{"seen":true}`},
		{name: "array", in: `[1]`, error: "cannot unmarshal array"},
		{name: "null", in: `null`, error: "null, not a JSON object"},
		{name: "not JSON", in: `hello`, error: "invalid character"},
		{name: "trailing data", in: `{} {}`, error: "more after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Apply([]byte(tt.in))
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Errorf("Apply(%s) = %s, %v; want an error with %q",
						tt.in, out, err, tt.error)
				}
				return
			}
			if err != nil || string(out) != tt.want {
				t.Errorf("Apply(%s) = %s, %v; want %s", tt.in, out, err, tt.want)
			}
		})
	}
}

// TestSample checks that Sample is the size the benchmarks claim and that
// Apply keeps every member of it.
func TestSample(t *testing.T) {
	if n := len(Sample); n < 900 || n > 1200 {
		t.Errorf("Sample is %d bytes, want about 1 KiB", n)
	}
	out, err := Apply(Sample)
	if err != nil {
		t.Fatal(err)
	}
	var in, got map[string]any
	if err := json.Unmarshal(Sample, &in); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(in)+1 || got["seen"] != true ||
		got["text"] != strings.ToUpper(in["text"].(string)) {
		t.Errorf("Apply(Sample) = %s", out)
	}
}

// BenchmarkApply is the native side of the comparison with the plugin.
func BenchmarkApply(b *testing.B) {
	b.SetBytes(int64(len(Sample)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Apply(Sample); err != nil {
			b.Fatal(err)
		}
	}
}

func TestUpper(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"ascii", "Hello, world 42", "HELLO, WORLD 42"},
		{"empty", "", ""},
		{"non-ascii stays", "été ß", "éTé ß"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(Upper(make([]byte, 3), []byte(tt.in))); got != tt.want {
				t.Errorf("Upper(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
