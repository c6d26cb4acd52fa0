// Command ids is a wsplug plugin that makes client ids in three formats:
// ulid, nanoid and snowflake. The generators live in the other files of this
// package, where they can be tested with a fake clock and random source;
// this file only wires them to the host. See README.md.
package main

import (
	"crypto/rand"
	"errors"
	"time"

	"github.com/wsplug/wsplug/abi/guest"
)

// gens are this instance's generators. OnInit builds them from the config;
// they keep state (the last millisecond, the sequence) between calls.
var gens *generators

// init registers the formats; a reactor never runs main, so this is the
// only place where registration can happen.
func init() {
	guest.OnInit(func() error {
		cfg, err := decodeConfig(guest.DecodeConfig)
		if err != nil {
			return err
		}
		gens, err = newGenerators(cfg, time.Now, rand.Reader)
		return err
	})
	guest.ClientIDFormat("ulid", func() (string, error) {
		if gens == nil {
			return "", errNotInit
		}
		return gens.ulid.next()
	})
	guest.ClientIDFormat("nanoid", func() (string, error) {
		if gens == nil {
			return "", errNotInit
		}
		return gens.nanoid.next()
	})
	guest.ClientIDFormat("snowflake", func() (string, error) {
		if gens == nil {
			return "", errNotInit
		}
		return gens.snowflake()
	})
}

// errNotInit is returned by a call that comes before OnInit ran, which a
// host never does; it keeps a broken test from panicking on a nil pointer.
var errNotInit = errors.New("ids: plugin not initialised")

// main is empty: the plugin is built as a reactor, whose main never runs.
func main() {}
