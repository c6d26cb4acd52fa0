//go:build !wasip1

package main

import (
	"strings"
	"testing"

	"github.com/wsplug/wsplug/abi/guest"
)

// TestDescribe checks what the host is told the plugin provides, in the
// order that gives each transform its index.
func TestDescribe(t *testing.T) {
	var s guest.Sim
	want := "transform wrap\ntransform filter\ntransform redact\n"
	if got := s.Describe(); got != want {
		t.Errorf("describe = %q, want %q", got, want)
	}
}

// TestSim runs the transforms through the simulated host, which checks
// that the verdicts become the right statuses.
func TestSim(t *testing.T) {
	s := &guest.Sim{Config: map[string]any{
		"wrap":   map[string]any{"envelope": map[string]any{"type": "prompt"}},
		"filter": map[string]any{"drop": []any{"crystools.monitor"}},
		"redact": map[string]any{"fields": []any{"token"}, "mask": "-"},
	}}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		transform string
		in        string
		incoming  bool
		want      string
		dropped   bool
	}{
		{name: "wrap", transform: "wrap", in: `{"a":1}`,
			want: `{"type":"prompt","data":{"a":1}}`},
		{name: "wrap passes incoming", transform: "wrap", in: `{"a":1}`, incoming: true,
			want: `{"a":1}`},
		{name: "filter drops", transform: "filter", in: `{"type":"crystools.monitor"}`,
			incoming: true, dropped: true},
		{name: "filter passes", transform: "filter", in: `{"type":"status"}`,
			incoming: true, want: `{"type":"status"}`},
		{name: "redact", transform: "redact", in: `{"token":"t","a":1}`,
			want: `{"token":"-","a":1}`},
		{name: "redact passes", transform: "redact", in: `{"a":1}`, want: `{"a":1}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			out, dropped, err := s.Transform(tt.transform, in, tt.incoming, false)
			if err != nil || dropped != tt.dropped || string(out) != tt.want {
				t.Errorf("%s(%s) = %s, dropped %v, %v; want %s, dropped %v", tt.transform,
					tt.in, out, dropped, err, tt.want, tt.dropped)
			}
		})
	}
}

// TestSimErrors checks that a bad config fails the instance and a missing
// section fails the call, both naming the key, as the host sees them.
func TestSimErrors(t *testing.T) {
	s := &guest.Sim{Config: map[string]any{"filter": map[string]any{
		"drop": []any{"a"}, "keep": []any{"b"}}}}
	if err := s.Init(); err == nil || !strings.Contains(err.Error(), "filter.drop") {
		t.Errorf("init: %v", err)
	}
	s = &guest.Sim{}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Transform("wrap", []byte(`{}`), false, false); err == nil ||
		!strings.Contains(err.Error(), "wrap.envelope") {
		t.Errorf("wrap without config: %v", err)
	}
}
