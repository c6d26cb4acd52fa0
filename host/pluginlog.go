package host

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Limits on what a plugin can put in the host's log.
const (
	logLineMax    = 4 << 10 // longer lines are cut
	logRate       = 50      // lines per second, sustained
	logBurst      = 200     // lines at once
	errorTextMax  = 1 << 10 // error_set messages are cut here
	lastLineKept  = 256     // of the stderr line quoted in errors
	dropReportGap = 10 * time.Second
)

// pluginLog writes a plugin's log lines and its stdout and stderr to the
// host's logger, through one token bucket, so that a flood costs the host
// little and shows up as a count of dropped lines. Every dropped line is
// reported: the first at once, the ones after it in a summary when the
// report window (gap) reopens, from a timer, so a plugin that has gone
// quiet is reported too; and what is left when an instance or the plugin
// closes.
type pluginLog struct {
	logger *slog.Logger
	plugin string
	gap    time.Duration // between reports

	mu         sync.Mutex
	tokens     float64
	last       time.Time
	dropped    int64 // not reported yet
	lastReport time.Time
	timer      *time.Timer // reports dropped when the window reopens
	armed      bool        // timer is set
}

func newPluginLog(logger *slog.Logger, plugin string) *pluginLog {
	return &pluginLog{
		logger: logger, plugin: plugin, gap: dropReportGap, tokens: logBurst, last: time.Now(),
	}
}

func (l *pluginLog) enabled(level slog.Level) bool {
	return l.logger.Enabled(context.Background(), level)
}

// log writes one line, or counts it as dropped when the plugin is over its
// rate.
func (l *pluginLog) log(level slog.Level, msg string, attrs ...slog.Attr) {
	if !l.enabled(level) {
		return
	}
	now := time.Now()
	l.mu.Lock()
	l.tokens = min(logBurst, l.tokens+now.Sub(l.last).Seconds()*logRate)
	l.last = now
	if l.tokens < 1 {
		l.dropped++
		n := l.due(now)
		l.mu.Unlock()
		l.report(n)
		return
	}
	l.tokens--
	l.mu.Unlock()
	if len(msg) > logLineMax {
		msg = msg[:logLineMax] + "…"
	}
	attrs = append(attrs, slog.String("plugin", l.plugin))
	l.logger.LogAttrs(context.Background(), level, msg, attrs...)
}

// due returns the count of dropped lines to report now, when the window is
// open, and takes it; otherwise it sets the timer for when the window
// reopens and returns 0. l.mu is held.
func (l *pluginLog) due(now time.Time) int64 {
	wait := l.lastReport.Add(l.gap).Sub(now)
	if wait <= 0 {
		n := l.dropped
		l.dropped, l.lastReport = 0, now
		return n
	}
	if !l.armed {
		l.armed = true
		if l.timer == nil {
			l.timer = time.AfterFunc(wait, l.flush)
		} else {
			l.timer.Reset(wait)
		}
	}
	return 0
}

// flush reports the dropped lines not reported yet, as the window reopens
// or an instance or the plugin closes.
func (l *pluginLog) flush() {
	l.mu.Lock()
	if l.armed {
		l.timer.Stop()
		l.armed = false
	}
	n := l.dropped
	if n > 0 {
		l.dropped, l.lastReport = 0, time.Now()
	}
	l.mu.Unlock()
	l.report(n)
}

func (l *pluginLog) report(n int64) {
	if n == 0 {
		return
	}
	l.logger.LogAttrs(context.Background(), slog.LevelWarn, "plugin log lines dropped",
		slog.String("plugin", l.plugin), slog.Int64("dropped", n))
}

// lineWriter is an instance's stdout or stderr: it cuts what the plugin
// writes into lines and logs each. It also keeps the first line written
// since reset, which often says why a guest died ("fatal error: ...").
type lineWriter struct {
	log    *pluginLog
	level  slog.Level
	stream slog.Attr
	scrub  func(string) string // takes the instance's secrets out of a line
	buf    []byte
	first  []byte
}

func newLineWriter(l *pluginLog, stream string, level slog.Level,
	scrub func(string) string) *lineWriter {
	return &lineWriter{log: l, level: level, stream: slog.String("stream", stream), scrub: scrub}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := logLineMax - len(w.buf)
			if len(p) <= room {
				w.buf = append(w.buf, p...)
				break
			}
			w.buf = append(w.buf, p[:room]...)
			p = p[room:]
			w.flush()
			continue
		}
		w.buf = append(w.buf, p[:i]...)
		p = p[i+1:]
		w.flush()
	}
	return n, nil
}

func (w *lineWriter) flush() {
	line := bytes.TrimRight(w.buf, "\r")
	if len(bytes.TrimSpace(line)) > 0 {
		if len(w.first) == 0 {
			w.first = append(w.first, line[:min(len(line), lastLineKept)]...)
		}
		w.log.log(w.level, w.scrub(string(line)), w.stream)
	}
	w.buf = w.buf[:0]
}

// close logs a last line that did not end, as its instance closes.
func (w *lineWriter) close() {
	if len(w.buf) > 0 {
		w.flush()
	}
}

// reset forgets the first line, at the start of a call.
func (w *lineWriter) reset() { w.first = w.first[:0] }

// firstLine is the first line written since reset, complete or not.
func (w *lineWriter) firstLine() string {
	if len(w.first) == 0 && len(bytes.TrimSpace(w.buf)) > 0 {
		return string(w.buf[:min(len(w.buf), lastLineKept)])
	}
	return string(w.first)
}

const (
	// secretsKept bounds the secret values an instance remembers to
	// scrub: each token set at run time adds one.
	secretsKept = 8
	// scrubMin is the shortest secret scrubbed from what a plugin says:
	// taking out every "ab" would garble more than it protects, and no
	// real token is that short.
	scrubMin = 4
)

// noteSecret remembers a secret value the instance has read.
func (in *instance) noteSecret(v string) {
	if len(v) < scrubMin || slices.Contains(in.secrets, v) {
		return
	}
	if len(in.secrets) == secretsKept {
		in.secrets = slices.Delete(in.secrets, 0, 1)
	}
	in.secrets = append(in.secrets, v)
}

// scrub writes *** for every secret the instance has read: a plugin
// allowed secrets may use them, but what it logs, prints or puts in an
// error reaches people, and a token must not. A secret the plugin changed
// (encoded, hashed, cut) is not recognised.
func (in *instance) scrub(s string) string {
	for _, v := range in.secrets {
		s = strings.ReplaceAll(s, v, "***")
	}
	return s
}

// say is what a plugin wrote, scrubbed, in at most limit bytes. It scrubs
// before it cuts, so that the cut cannot leave the start of a secret.
func (in *instance) say(b []byte, limit int) string {
	longest := 0
	for _, v := range in.secrets {
		longest = max(longest, len(v))
	}
	s := in.scrub(string(b[:min(len(b), limit+longest)]))
	return s[:min(len(s), limit)]
}
