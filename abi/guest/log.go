package guest

import (
	"context"
	"log/slog"
	"strings"
)

// Logger returns a logger whose lines go to the host's log, tagged with the
// plugin's name. The host rate-limits them.
func Logger() *slog.Logger { return logger }

var logger = slog.New(hostHandler{})

// hostHandler writes records through the log host function as
// "message key=value ...".
type hostHandler struct {
	attrs []slog.Attr
	group string
}

func (hostHandler) Enabled(_ context.Context, l slog.Level) bool {
	return logEnabled(int32(l))
}

func (h hostHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	write := func(a slog.Attr) bool {
		b.WriteByte(' ')
		if h.group != "" {
			b.WriteString(h.group + ".")
		}
		b.WriteString(a.Key)
		b.WriteByte('=')
		b.WriteString(a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		write(a)
	}
	r.Attrs(write)
	logWrite(int32(r.Level), b.String())
	return nil
}

func (h hostHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	h.attrs = append(append([]slog.Attr{}, h.attrs...), attrs...)
	return h
}

func (h hostHandler) WithGroup(name string) slog.Handler {
	if h.group != "" {
		name = h.group + "." + name
	}
	h.group = name
	return h
}
