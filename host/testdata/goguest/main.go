// Command goguest is a Go plugin for the host's tests: well-behaved and
// misbehaving providers in one module.
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"github.com/wsplug/wsplug/abi"
	"github.com/wsplug/wsplug/abi/guest"
)

var (
	seq  int
	hold [][]byte
)

func init() {
	guest.ClientIDFormat("go_seq", func() (string, error) {
		seq++
		return "seq-" + strconv.Itoa(seq), nil
	})
	guest.Placeholder("go_client", func(string) (string, error) {
		return guest.Value(abi.ValueClientID)
	})
	guest.Placeholder("go_token_len", func(string) (string, error) {
		tok, err := guest.Value(abi.ValueToken)
		return strconv.Itoa(len(tok)), err
	})
	guest.JSONPlaceholder("go_num", func(arg string) (any, error) {
		return strconv.Atoi(arg)
	})
	guest.Transform("go_echo", func(m guest.Message) (guest.Result, error) {
		return guest.Replace(append([]byte(nil), m.Data...)), nil
	})
	guest.Transform("go_pass", func(guest.Message) (guest.Result, error) {
		return guest.Pass(), nil
	})
	guest.Transform("go_fail", func(guest.Message) (guest.Result, error) {
		return guest.Result{}, errors.New("refusing this one")
	})
	guest.Transform("go_panic", func(guest.Message) (guest.Result, error) {
		var m map[string]int
		m["x"]++ // a nil map write: a runtime panic the SDK recovers
		return guest.Pass(), nil
	})
	guest.Transform("go_exit", func(guest.Message) (guest.Result, error) {
		os.Stderr.WriteString("giving up\n")
		os.Exit(3)
		return guest.Pass(), nil
	})
	guest.Transform("go_oom", func(guest.Message) (guest.Result, error) {
		for {
			hold = append(hold, make([]byte, 1<<20))
		}
	})
	guest.Transform("go_log", func(m guest.Message) (guest.Result, error) {
		guest.Logger().Info("seen", "bytes", len(m.Data))
		os.Stdout.WriteString("to stdout\n")
		return guest.Pass(), nil
	})
	// go_stdout and go_stderr write the payload as it is, lines or not.
	guest.Transform("go_stdout", func(m guest.Message) (guest.Result, error) {
		os.Stdout.Write(m.Data)
		return guest.Pass(), nil
	})
	guest.Transform("go_stderr", func(m guest.Message) (guest.Result, error) {
		os.Stderr.Write(m.Data)
		return guest.Pass(), nil
	})
	// go_leak reads the token and tries every way a plugin has of telling
	// a person: the log, stdout, stderr, an error.
	guest.Transform("go_leak", func(guest.Message) (guest.Result, error) {
		tok, err := guest.Value(abi.ValueToken)
		if err != nil {
			return guest.Pass(), err
		}
		guest.Logger().Warn("the token is " + tok)
		fmt.Fprintf(os.Stdout, "token=%s\n", tok)
		fmt.Fprintf(os.Stderr, "stderr %s\n", tok)
		return guest.Pass(), errors.New("refused " + tok)
	})
}

func main() {}
