//go:build !wasip1

package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wsplug/wsplug/abi/guest"
	"github.com/wsplug/wsplug/plugins/benchjson/transform"
)

// TestBench runs the transform through the simulated host and checks it
// gives what transform.Apply gives, which the host's benchmark relies on.
func TestBench(t *testing.T) {
	want, err := transform.Apply(transform.Sample)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		in     []byte
		binary bool
		want   []byte
		error  string
	}{
		{name: "sample", in: transform.Sample, want: want},
		{name: "binary passes", in: []byte{0, 1, 2}, binary: true, want: []byte{0, 1, 2}},
		{name: "not an object", in: []byte(`[]`), error: "bench:"},
	}
	var s guest.Sim
	if got := s.Describe(); got != "transform bench\ntransform bench_upper\n" {
		t.Errorf("describe = %q", got)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, dropped, err := s.Transform("bench", tt.in, false, tt.binary)
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Errorf("error %v, want one with %q", err, tt.error)
				}
				return
			}
			if err != nil || dropped || !bytes.Equal(out, tt.want) {
				t.Errorf("bench = %s, %v, %v; want %s", out, dropped, err, tt.want)
			}
		})
	}
}

func TestBenchUpper(t *testing.T) {
	var s guest.Sim
	for _, in := range []string{"Hello, World", "", "second call reuses the buffer"} {
		out, _, err := s.Transform("bench_upper", []byte(in), false, false)
		if want := strings.ToUpper(in); err != nil || string(out) != want {
			t.Errorf("bench_upper(%q) = %q, %v", in, out, err)
		}
	}
	if out, _, _ := s.Transform("bench_upper", []byte("binary"), false, true); string(out) != "binary" {
		t.Errorf("a binary frame must pass: %q", out)
	}
}
