// Command jwt is a wsplug plugin with two placeholder sources whose values
// are secrets: {jwt}, an HS256 JSON Web Token for the client, and
// {hmac:FIELD}, the HMAC-SHA256 of one of the client's values. The logic is
// in the other files of this package; this file wires it to the host. See
// README.md.
package main

import (
	"errors"
	"time"

	"github.com/wsplug/wsplug/abi/guest"
)

// signer is this instance's config, checked by OnInit.
var signer *settings

// init registers the placeholders; a reactor never runs main, so this is
// the only place where registration can happen.
func init() {
	guest.OnInit(func() error {
		cfg, err := decodeConfig(guest.DecodeConfig)
		if err != nil {
			return err
		}
		signer, err = newSettings(cfg, time.Now)
		return err
	})
	guest.SecretPlaceholder("jwt", func(arg string) (string, error) {
		if signer == nil {
			return "", errNotInit
		}
		return signer.token(arg, guest.Value)
	})
	guest.SecretPlaceholder("hmac", func(arg string) (string, error) {
		if signer == nil {
			return "", errNotInit
		}
		return signer.hmac(arg, guest.Value)
	})
}

// errNotInit is returned by a call that comes before OnInit ran, which a
// host never does; it keeps a broken test from panicking on a nil pointer.
var errNotInit = errors.New("jwt: plugin not initialised")

// main is empty: the plugin is built as a reactor, whose main never runs.
func main() {}
