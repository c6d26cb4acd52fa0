package host

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wsplug/wsplug/config"
	"github.com/wsplug/wsplug/host/internal/testplugin"
)

// dropped sums the counts of the reports of dropped lines.
func (r *recorder) dropped() (reports int, total int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if rec.Message != "plugin log lines dropped" {
			continue
		}
		reports++
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "dropped" {
				total += a.Value.Int64()
			}
			return true
		})
	}
	return reports, total
}

// TestPluginLogCountsEveryLine floods the host's log through each way a
// plugin has into it: by the time the plugin is closed, every line is
// either logged or counted in a report of dropped lines.
func TestPluginLogCountsEveryLine(t *testing.T) {
	goGuest := testplugin.Build(t, "host/testdata/goguest")
	tests := []struct {
		name      string
		file      string
		transform string
		payload   string
		line      string // the line the plugin writes
		written   int    // how many times
	}{
		{name: "log", file: hostile("log_flood"), transform: "log_flood", line: "flood",
			written: 100_000},
		{name: "stdout", file: hostile("stdout_flood"), transform: "stdout_flood", line: "flood",
			written: 100_000},
		{name: "stderr", file: goGuest, transform: "go_stderr",
			payload: strings.Repeat("line\n", 20_000), line: "line", written: 20_000},
		{name: "a last line without its end", file: goGuest, transform: "go_stdout",
			payload: "ends\nno end", line: "no end", written: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log := &recorder{}
			l := newTestLoader(t, slog.New(log))
			p, err := load(t, l, "flood", tt.file, floodLimits)
			if err != nil {
				t.Fatal(err)
			}
			tr := &pluginTransform{p: p, call: "transform[" + tt.transform + "]"}
			tr.index = uint64(indexOf(p.Provides().Transforms, tt.transform))
			if _, err := tr.Transform(context.Background(), &Message{Data: []byte(tt.payload)}); err != nil {
				t.Fatal(err)
			}
			if err := p.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			logged := log.count(tt.line)
			reports, dropped := log.dropped()
			t.Logf("%d lines logged, %d dropped in %d reports", logged, dropped, reports)
			if logged+int(dropped) != tt.written {
				t.Errorf("%d lines logged and %d reported dropped; the plugin wrote %d",
					logged, dropped, tt.written)
			}
			if tt.written > logBurst && reports == 0 {
				t.Error("no report of dropped lines")
			}
		})
	}
}

// TestDroppedLinesReportedWhenTheWindowReopens: the lines dropped after the
// first report are reported when the window reopens, without a close.
func TestDroppedLinesReportedWhenTheWindowReopens(t *testing.T) {
	log := &recorder{}
	l := newPluginLog(slog.New(log), "p")
	l.gap = 50 * time.Millisecond
	const written = logBurst + 100
	for range written {
		l.log(slog.LevelInfo, "line")
	}
	if reports, dropped := log.dropped(); reports != 1 || dropped != 1 {
		t.Errorf("at once: %d reports of %d lines; want the first drop reported", reports, dropped)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		logged := log.count("line")
		reports, dropped := log.dropped()
		if logged+int(dropped) == written {
			if reports != 2 {
				t.Errorf("%d reports; want 2", reports)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d lines logged and %d reported dropped of %d", logged, dropped, written)
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.flush()
	if reports, _ := log.dropped(); reports != 2 {
		t.Errorf("a flush with nothing dropped reported: %d reports", reports)
	}
}

// A plugin allowed secrets may read the token, but what it says reaches
// people: the host takes the token out of its log lines, its stdout and
// stderr, and its error text.
func TestPluginCannotLeakTheToken(t *testing.T) {
	const token = "tok-SECRET-4711"
	log := &recorder{}
	l := newTestLoader(t, slog.New(log))
	p, err := load(t, l, "leaky", testplugin.Build(t, "host/testdata/goguest"), goLimits,
		config.CapSecrets)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRegistry()
	if err := r.AddPlugin(p); err != nil {
		t.Fatal(err)
	}
	leak, _ := r.Transform("go_leak")
	m := &Message{Client: &ClientInfo{API: "A", Values: &config.Values{Token: token}}}
	_, err = leak.Transform(context.Background(), m)
	if err == nil || strings.Contains(err.Error(), token) || !strings.Contains(err.Error(), "refused ***") {
		t.Errorf("error %v", err)
	}
	p.Close(context.Background()) // flushes stdout and stderr

	var said []string
	log.mu.Lock()
	for _, rec := range log.records {
		line := rec.Message
		rec.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
		said = append(said, line)
	}
	log.mu.Unlock()
	all := strings.Join(said, "\n")
	if strings.Contains(all, token) {
		t.Fatalf("the log has the token:\n%s", all)
	}
	for _, want := range []string{"the token is ***", "token=***", "stderr ***"} {
		if !strings.Contains(all, want) {
			t.Errorf("the log lacks %q:\n%s", want, all)
		}
	}
}

// say scrubs before it cuts: a secret across the cut leaves no part of
// itself behind.
func TestSayScrubsBeforeItCuts(t *testing.T) {
	in := &instance{}
	in.noteSecret("abcdefgh")
	in.noteSecret("ab") // too short to scrub
	for _, tt := range []struct {
		name, text string
		limit      int
		want       string
	}{
		{name: "whole", text: "x abcdefgh y", limit: 100, want: "x *** y"},
		{name: "across the cut", text: "xxxabcdefgh", limit: 5, want: "xxx**"},
		{name: "short secrets stay", text: "ab ab", limit: 100, want: "ab ab"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := in.say([]byte(tt.text), tt.limit); got != tt.want {
				t.Errorf("say(%q, %d) = %q, want %q", tt.text, tt.limit, got, tt.want)
			}
		})
	}
}
