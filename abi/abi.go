// Package abi holds what the wsplug host and its plugins share: the names of
// the host module and of the exports, the status codes, and the flags. It
// builds for the host and for GOOS=wasip1, and imports only the standard
// library. The specification is README.md in this directory.
package abi

import "fmt"

// Version is the ABI version this package describes.
const Version = 1

// ImportModule is the module the host's functions are imported from.
const ImportModule = "wsplug_v1"

// Host functions, in ImportModule. Signatures are in README.md.
const (
	FuncInputRead  = "input_read"
	FuncOutputSet  = "output_set"
	FuncErrorSet   = "error_set"
	FuncConfigRead = "config_read"
	FuncValueRead  = "value_read"
	FuncLog        = "log"
	FuncLogEnabled = "log_enabled"
)

// HostFuncs lists every host function of this version.
var HostFuncs = []string{
	FuncInputRead, FuncOutputSet, FuncErrorSet, FuncConfigRead, FuncValueRead, FuncLog,
	FuncLogEnabled,
}

// Exports of a plugin.
const (
	// ExportMarker is a function export with no parameters and no results
	// whose presence says the plugin speaks this version.
	ExportMarker = "wsplug_abi_v1"
	// ExportMarkerPrefix begins the marker of every version.
	ExportMarkerPrefix = "wsplug_abi_v"
	// ExportMemory is the plugin's linear memory.
	ExportMemory = "memory"
	// ExportInitialize is the reactor's start function, called first.
	ExportInitialize = "_initialize"
	// ExportInit, optional: () -> i32, called once per instance.
	ExportInit = "wsplug_init"
	// ExportDescribe: () -> i32; its output lists what the plugin provides.
	ExportDescribe = "wsplug_describe"
	// ExportClientID: (index i32) -> i32; its output is a client id.
	ExportClientID = "wsplug_client_id"
	// ExportPlaceholder: (index i32) -> i32; input is the argument, output
	// the value.
	ExportPlaceholder = "wsplug_placeholder"
	// ExportTransform: (index i32, flags i32) -> i32; input is the payload.
	ExportTransform = "wsplug_transform"
)

// Status is what an export returns.
type Status int32

// Statuses. A call that returns anything else fails.
const (
	// StatusOK: done. For a transform: the payload passes unchanged, and
	// nothing is copied.
	StatusOK Status = 0
	// StatusReplace: a transform's output replaces the payload.
	StatusReplace Status = 1
	// StatusDrop: a transform drops the message.
	StatusDrop Status = 2
	// StatusJSON: a placeholder's output is a JSON value, which keeps its
	// type where the placeholder stands alone in a payload.
	StatusJSON Status = 3
	// StatusError: the call failed; error_set gave the reason.
	StatusError Status = -1
)

// String names the status, as the specification does.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusReplace:
		return "replace"
	case StatusDrop:
		return "drop"
	case StatusJSON:
		return "json"
	case StatusError:
		return "error"
	}
	return fmt.Sprintf("status(%d)", int32(s))
}

// Results of the host functions that read (input_read, config_read,
// value_read) when they do not return a length.
const (
	// ReadNotFound: value_read does not know the name.
	ReadNotFound int32 = -1
	// ReadDenied: the plugin lacks the capability to read the value.
	ReadDenied int32 = -2
)

// Results of output_set.
const (
	OutputOK       int32 = 0
	OutputTooLarge int32 = -3
)

// Transform flags, the second parameter of ExportTransform.
const (
	// FlagIncoming is set for a message from the server, clear for one
	// going to it.
	FlagIncoming int32 = 1 << 0
	// FlagBinary is set for a binary frame, clear for a text frame.
	FlagBinary int32 = 1 << 1
)

// Log levels, as log/slog numbers them.
const (
	LevelDebug int32 = -4
	LevelInfo  int32 = 0
	LevelWarn  int32 = 4
	LevelError int32 = 8
)

// Kinds of provider in the describe output.
const (
	KindClientID    = "client_id"
	KindPlaceholder = "placeholder"
	KindTransform   = "transform"
)

// FlagSecret, after a placeholder's name in the describe output, marks its
// values as secrets.
const FlagSecret = "secret"

// Values a plugin can read with value_read.
const (
	ValueAPI       = "api"
	ValueClientID  = "client_id"
	ValueSessionID = "session_id"
	ValueChannel   = "channel"
	ValueVersion   = "version"
	// The secret values need the secrets capability.
	ValueToken        = "token"
	ValueAuthUsername = "auth.username"
	ValueAuthPassword = "auth.password"
)
