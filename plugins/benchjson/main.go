// Command benchjson is a wsplug plugin with one transform, bench, that
// runs transform.Apply on each text frame. The host's benchmarks run the
// same function natively, so the difference is what the plugin boundary
// and the Wasm runtime cost. See README.md.
package main

import (
	"github.com/wsplug/wsplug/abi/guest"
	"github.com/wsplug/wsplug/plugins/benchjson/transform"
)

// init registers the transform; a reactor never runs main, so this is the
// only place where registration can happen.
func init() {
	guest.Transform("bench", bench)
}

// bench passes binary frames, as every wsplug JSON transform does, and
// replaces a text frame with transform.Apply's result; a frame that is not
// a JSON object is an error, which the client's policy then handles.
func bench(m guest.Message) (guest.Result, error) {
	if m.Binary {
		return guest.Pass(), nil
	}
	out, err := transform.Apply(m.Data)
	if err != nil {
		return guest.Pass(), err
	}
	return guest.Replace(out), nil
}

// main is empty: the plugin is built as a reactor, whose main never runs.
func main() {}
