package host

import (
	"errors"
	"fmt"
	"testing"
)

// TestPluginErrorNamesTheExport: the message names the plugin, the call and
// the export it ran, and errors.Is and errors.As see through wrapping.
func TestPluginErrorNamesTheExport(t *testing.T) {
	p := &Plugin{name: "json"}
	tests := []struct {
		name string
		err  *PluginError
		want string
	}{
		{name: "transform", err: p.error("transform[wrap]", ErrTrap, "unreachable"),
			want: "plugin[json] transform[wrap] (wsplug_transform): trapped: unreachable"},
		{name: "placeholder", err: p.error("placeholder[jwt]", ErrPluginFailed, "no key"),
			want: "plugin[json] placeholder[jwt] (wsplug_placeholder): failed: no key"},
		{name: "client id", err: p.error("client_id[ulid]", ErrTimeout, "did not return within 1s"),
			want: "plugin[json] client_id[ulid] (wsplug_client_id): timed out: did not return within 1s"},
		{name: "init", err: p.error("init", ErrTrap, "unreachable"),
			want: "plugin[json] init (wsplug_init): trapped: unreachable"},
		{name: "describe", err: p.error("describe", ErrRefused, "it provides nothing"),
			want: "plugin[json] describe (wsplug_describe): refused: it provides nothing"},
		{name: "start", err: p.error("start", ErrTrap, "unreachable"),
			want: "plugin[json] start: trapped: unreachable"},
		{name: "load without detail", err: p.error("load", ErrClosed, ""),
			want: "plugin[json] load: plugin closed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			wrapped := fmt.Errorf("api[A]: %w", tt.err)
			var pe *PluginError
			if !errors.Is(wrapped, tt.err.Kind) || !errors.As(wrapped, &pe) || pe != tt.err {
				t.Errorf("errors.Is or errors.As does not see %v", tt.err)
			}
		})
	}
}
