package main

import (
	"bufio"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The exposition written by hand reads back, through Prometheus's own
// parser, as the families, types, labels and values it was given, however
// odd the label value.
func TestWriteFamilies(t *testing.T) {
	families := []family{
		{"t_total", "Things.\nCounted \\ here.", "api", counter},
		{"t_seconds", "Time.", "api", summary},
		{"t_open", "Open.", "api", gauge},
	}
	odd := "Comfy \"UI\"\\\nsecond line"
	samples := []sample{
		{"plain", []float64{3, 7, 0.25, 1}},
		{odd, []float64{1e21, 1, 1.5e-9, 0}},
	}
	var out strings.Builder
	b := bufio.NewWriter(&out)
	writeFamilies(b, families, samples)
	b.Flush()

	parser := expfmt.NewTextParser(model.LegacyValidation)
	got, err := parser.TextToMetricFamilies(strings.NewReader(out.String()))
	if err != nil {
		t.Fatalf("not Prometheus text: %v\n%s", err, out.String())
	}
	if h := got["t_total"].GetHelp(); h != "Things.\nCounted \\ here." {
		t.Errorf("help %q", h)
	}
	for _, c := range []struct {
		name, label string
		kind        string
		value       float64
	}{
		{"t_total", "plain", "COUNTER", 3},
		{"t_total", odd, "COUNTER", 1e21},
		{"t_open", "plain", "GAUGE", 1},
		{"t_open", odd, "GAUGE", 0},
	} {
		f := got[c.name]
		if f.GetType().String() != c.kind {
			t.Errorf("%s is a %s", c.name, f.GetType())
		}
		found := false
		for _, m := range f.Metric {
			if m.Label[0].GetValue() != c.label {
				continue
			}
			found = true
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			if v != c.value {
				t.Errorf("%s{%q} = %v, want %v", c.name, c.label, v, c.value)
			}
		}
		if !found {
			t.Errorf("%s has no sample for %q", c.name, c.label)
		}
	}
	s := got["t_seconds"]
	if s.GetType().String() != "SUMMARY" || len(s.Metric) != 2 {
		t.Fatalf("t_seconds: %v", s)
	}
	for i, want := range []struct{ count, sum float64 }{{7, 0.25}, {1, 1.5e-9}} {
		sm := s.Metric[i].GetSummary()
		if float64(sm.GetSampleCount()) != want.count || sm.GetSampleSum() != want.sum {
			t.Errorf("summary %d: count %d sum %v, want %v", i, sm.GetSampleCount(),
				sm.GetSampleSum(), want)
		}
	}
}
