// Command benchjson is a wsplug plugin with two transforms for benchmarks:
// bench runs transform.Apply on each text frame, bench_upper runs
// transform.Upper. The host's benchmarks run the same functions natively,
// so the difference is what the plugin boundary and the Wasm runtime cost.
// See README.md.
package main

import (
	"github.com/wsplug/wsplug/abi/guest"
	"github.com/wsplug/wsplug/plugins/benchjson/transform"
)

// init registers the transform; a reactor never runs main, so this is the
// only place where registration can happen.
func init() {
	guest.Transform("bench", bench)
	guest.Transform("bench_upper", benchUpper)
}

// upperBuf is reused from call to call: the host copies the output before
// the call returns.
var upperBuf []byte

// benchUpper upper-cases the ASCII letters of a text frame, as the C and
// WAT examples do, so that the three languages can be compared.
func benchUpper(m guest.Message) (guest.Result, error) {
	if m.Binary {
		return guest.Pass(), nil
	}
	upperBuf = transform.Upper(upperBuf, m.Data)
	return guest.Replace(upperBuf), nil
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
