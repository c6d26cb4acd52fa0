package host

import (
	"errors"
	"strings"

	"github.com/wsplug/wsplug/abi"
)

// Errors a plugin call or load can fail with, for errors.Is. A
// *PluginError wraps one of them, or the plugin's own error.
var (
	// ErrRefused: the module is not loaded: it is not a valid plugin, asks
	// for what the sandbox does not give, or does not match its sha256.
	ErrRefused = errors.New("refused")
	// ErrTimeout: a call ran past the plugin's time limit.
	ErrTimeout = errors.New("timed out")
	// ErrTrap: the plugin trapped (a WebAssembly trap, a fault in a host
	// function call, an exit, running out of memory).
	ErrTrap = errors.New("trapped")
	// ErrPluginFailed: the plugin returned an error status; the message is
	// the plugin's.
	ErrPluginFailed = errors.New("failed")
	// ErrClosed: the plugin was closed.
	ErrClosed = errors.New("plugin closed")
)

// PluginError is how every plugin failure reaches a caller: which plugin,
// which call and export, and why.
type PluginError struct {
	// Plugin is the plugin's name from the config.
	Plugin string
	// Call is what failed: "load", "start", "init", "describe", or the
	// provider, as in "transform[wrap]".
	Call string
	// Export is the plugin's function the call ran, as "wsplug_transform";
	// empty for load and start, and when the call did not get to run it.
	Export string
	// Kind is one of the errors above.
	Kind error
	// Detail says what happened, in the plugin's words where it gave them.
	Detail string
}

// Error reads "plugin[NAME] CALL (EXPORT): KIND: DETAIL", without the
// parts that are empty.
func (e *PluginError) Error() string {
	var b strings.Builder
	b.WriteString("plugin[")
	b.WriteString(e.Plugin)
	b.WriteString("] ")
	b.WriteString(e.Call)
	if e.Export != "" {
		b.WriteString(" (")
		b.WriteString(e.Export)
		b.WriteString(")")
	}
	b.WriteString(": ")
	b.WriteString(e.Kind.Error())
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrTimeout) and the others work.
func (e *PluginError) Unwrap() error { return e.Kind }

// exportOf is the export a call runs: "transform[wrap]" runs
// wsplug_transform; load and start run none of the ABI's.
func exportOf(call string) string {
	kind, _, _ := strings.Cut(call, "[")
	switch kind {
	case "init":
		return abi.ExportInit
	case "describe":
		return abi.ExportDescribe
	case abi.KindClientID:
		return abi.ExportClientID
	case abi.KindPlaceholder:
		return abi.ExportPlaceholder
	case abi.KindTransform:
		return abi.ExportTransform
	}
	return ""
}
