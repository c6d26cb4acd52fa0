package host

import (
	"context"
	"slices"
	"testing"
	"time"
)

// TestInspect: the ABI line says what a module speaks even when it is
// refused or does not compile, its exports are listed either way, and a
// slow init is a reason, not a wait.
func TestInspect(t *testing.T) {
	tests := []struct {
		name        string
		file        string
		wantABI     string
		wantExports []string // among the exports
		wantProblem string   // the first problem, or its start before a *
		wantNone    bool     // no problems
	}{
		{name: "healthy", file: hostile("healthy"), wantABI: "v1", wantNone: true,
			wantExports: []string{"wsplug_abi_v1", "wsplug_describe"}},
		{name: "v2 imports under a v1 marker", file: hostile("abi_v2_import"), wantABI: "v2",
			wantProblem: "it speaks ABI v2 (it imports wsplug_v2.input_read); this host speaks v1"},
		{name: "v2 by marker and imports", file: hostile("abi_v2"), wantABI: "v2",
			wantExports: []string{"wsplug_abi_v2"},
			wantProblem: "it speaks ABI v2 (it imports wsplug_v2.input_read); this host speaks v1"},
		{name: "no marker", file: hostile("no_marker"), wantABI: "",
			wantProblem: "not a wsplug plugin: it does not export wsplug_abi_v1"},
		{name: "does not compile", file: hostile("bigmem"), wantABI: "v1",
			wantExports: []string{"wsplug_abi_v1", "wsplug_describe", "wsplug_transform"},
			wantProblem: "invalid module: section memory: min 65536 pages (4 Gi) over limit*"},
		{name: "slow init", file: hostile("slow_init"), wantABI: "v1",
			wantProblem: "init did not finish within 2s (inspect waits no longer)"},
		{name: "slow _initialize", file: hostile("slow_start"), wantABI: "v1",
			wantProblem: "init did not finish within 2s (inspect waits no longer)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			r, err := Inspect(context.Background(), tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); d > 2*inspectLimit+3*time.Second {
				t.Errorf("inspect took %s", d)
			}
			if r.ABI != tt.wantABI {
				t.Errorf("ABI %q, want %q", r.ABI, tt.wantABI)
			}
			for _, e := range tt.wantExports {
				if !slices.Contains(r.Exports, e) {
					t.Errorf("exports %q lack %s", r.Exports, e)
				}
			}
			switch {
			case tt.wantNone && len(r.Problems) > 0:
				t.Errorf("problems %q; want none", r.Problems)
			case !tt.wantNone && (len(r.Problems) == 0 || !matches(r.Problems[0], tt.wantProblem)):
				t.Errorf("problems %q\nwant first %q", r.Problems, tt.wantProblem)
			}
			if tt.wantNone && len(r.Provides.Transforms) == 0 {
				t.Errorf("provides %+v", r.Provides)
			}
		})
	}
}
