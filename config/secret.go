package config

import (
	"fmt"
	"log/slog"
)

// Secret is a value that must never reach a log, an error or a terminal: a
// token, a password, anything derived from one. Every way of printing it
// prints "***"; Reveal is the one way to the real text, for the wire.
type Secret string

// Reveal returns the secret's text.
func (s Secret) Reveal() string { return string(s) }

// String returns "***".
func (Secret) String() string { return redacted }

// GoString returns "***", so %#v is safe too.
func (Secret) GoString() string { return redacted }

// Format writes "***" for every verb.
func (Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue keeps the secret out of slog output.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalText keeps the secret out of JSON, YAML and anything else that
// encodes text. Code that must send the secret uses Reveal.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
