// Package transform is the work of the benchjson plugin as a plain Go
// function, so that the host can time the same code run natively and run
// in a Wasm plugin, and see what the sandbox costs.
package transform

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Apply parses in, a JSON object, sets its "seen" member to true,
// upper-cases its "text" member when that is a string, and encodes it
// again. It is a typical decode-change-encode message transform: the
// object goes through a map, so its keys come out sorted, and numbers go
// through json.Number, so they come out as they were written.
func Apply(in []byte) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(in))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if m == nil {
		return nil, errors.New("bench: the message is null, not a JSON object")
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("bench: the message has more after its JSON object")
	}
	if s, ok := m["text"].(string); ok {
		m["text"] = strings.ToUpper(s)
	}
	m["seen"] = true
	return json.Marshal(m)
}
