// Command json is a wsplug plugin with three transforms of JSON text
// frames: wrap (outgoing messages into an envelope), filter (drop incoming
// messages by type) and redact (mask values at dotted paths). Binary
// frames always pass. The logic is in the other files of this package;
// this file wires it to the host. See README.md.
package main

import (
	"errors"

	"github.com/wsplug/wsplug/abi/guest"
)

// state is this instance's checked config and buffers, set by OnInit.
var state *transforms

// init registers the transforms; a reactor never runs main, so this is the
// only place where registration can happen.
func init() {
	guest.OnInit(func() error {
		cfg, err := decodeConfig(guest.DecodeConfig)
		if err != nil {
			return err
		}
		state, err = newTransforms(cfg)
		return err
	})
	guest.Transform("wrap", func(m guest.Message) (guest.Result, error) {
		return run((*transforms).wrap, m)
	})
	guest.Transform("filter", func(m guest.Message) (guest.Result, error) {
		return run((*transforms).filter, m)
	})
	guest.Transform("redact", func(m guest.Message) (guest.Result, error) {
		return run((*transforms).redact, m)
	})
}

// errNotInit is returned by a call that comes before OnInit ran, which a
// host never does; it keeps a broken test from panicking on a nil pointer.
var errNotInit = errors.New("json: plugin not initialised")

// run calls one transform of the instance and turns its verdict into what
// the SDK returns to the host. A replacement is state's reused buffer: the
// SDK copies it to the host before the next message can change it.
func run(fn func(*transforms, []byte, bool, bool) (verdict, []byte, error),
	m guest.Message) (guest.Result, error) {
	if state == nil {
		return guest.Pass(), errNotInit
	}
	v, out, err := fn(state, m.Data, m.Incoming, m.Binary)
	switch {
	case err != nil:
		return guest.Pass(), err
	case v == replace:
		return guest.Replace(out), nil
	case v == drop:
		return guest.Drop(), nil
	}
	return guest.Pass(), nil
}

// main is empty: the plugin is built as a reactor, whose main never runs.
func main() {}
