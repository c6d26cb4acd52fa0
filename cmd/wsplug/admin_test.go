package main

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestTotalsOnlyGrow: a client or plugin replaced under its name starts
// counting at zero; the exported total goes on from what the old one
// counted.
func TestTotalsOnlyGrow(t *testing.T) {
	tt := totals{}
	oldCount := []float64{5, 6}
	a, b := new(int), new(int)
	readA := func() []float64 { return oldCount }
	steps := []struct {
		owner *int
		now   []float64
		want  []float64
	}{
		{a, []float64{1, 2}, []float64{1, 2}},
		{a, []float64{3, 4}, []float64{3, 4}},
		// b replaces a, which counted to 5, 6 after the last scrape.
		{b, []float64{0, 0}, []float64{5, 6}},
		{b, []float64{1, 1}, []float64{6, 7}},
	}
	for i, s := range steps {
		read := readA
		if s.owner == b {
			read = func() []float64 { return s.now }
		}
		if got := tt.add("x", s.owner, s.now, read); !slices.Equal(got, s.want) {
			t.Errorf("step %d: %v, want %v", i, got, s.want)
		}
	}
}

// metricValues reads a scrape's counters and summaries: name{labels} to
// value, a summary as its _sum and _count.
func metricValues(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("/metrics is not Prometheus text: %v", err)
	}
	out := map[string]float64{}
	for name, f := range families {
		for _, m := range f.Metric {
			var labels []string
			for _, l := range m.Label {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			l := "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[name+l] = m.Counter.GetValue()
			case m.Summary != nil:
				out[name+"_sum"+l] = m.Summary.GetSampleSum()
				out[name+"_count"+l] = float64(m.Summary.GetSampleCount())
			}
		}
	}
	return out
}

// checkGrown fails for every counter of before that is lower, or gone, in
// after.
func checkGrown(t *testing.T, before, after map[string]float64) {
	t.Helper()
	for k, v := range before {
		if w, ok := after[k]; !ok || w < v {
			t.Errorf("%s went from %v to %v (present: %v)", k, v, w, ok)
		}
	}
}
