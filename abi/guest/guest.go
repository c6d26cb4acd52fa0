// Package guest is the Go SDK for wsplug plugins. A plugin is a main package
// that registers plain Go functions in init and is built as a reactor:
//
//	package main
//
//	import "github.com/wsplug/wsplug/abi/guest"
//
//	func init() {
//		guest.ClientIDFormat("seq", func() (string, error) { ... })
//		guest.Transform("upper", func(m guest.Message) (guest.Result, error) {
//			return guest.Replace(bytes.ToUpper(m.Data)), nil
//		})
//	}
//
//	func main() {}
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o upper.wasm .
//
// The package owns the ABI's exports (see abi/README.md), turns panics into
// errors, and reuses its buffers so that a plugin's memory stays flat over
// millions of calls. Registration must happen in init: a reactor never runs
// main.
//
// On other platforms the host is simulated (see Sim), so that a plugin's
// logic can be tested with go test. Sim exists only there: a test file that
// uses it needs the build constraint !wasip1, or GOOS=wasip1 go vet fails.
//
// Host functions work only during a call from the host: Config, Value and
// the logger may be used in OnInit functions and providers, not in package
// init functions (which run in _initialize, where the host refuses them).
package guest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/wsplug/wsplug/abi"
)

type clientIDProvider struct {
	name string
	fn   func() (string, error)
}

type placeholderProvider struct {
	name   string
	secret bool
	fn     func(arg string) (any, error)
	json   bool // fn's value is encoded as JSON (StatusJSON), not text
}

type transformProvider struct {
	name string
	fn   func(Message) (Result, error)
}

var (
	clientIDs    []clientIDProvider
	placeholders []placeholderProvider
	transforms   []transformProvider
	initFuncs    []func() error
)

// ClientIDFormat registers a client_id format.
func ClientIDFormat(name string, fn func() (string, error)) {
	clientIDs = append(clientIDs, clientIDProvider{name, fn})
}

// Placeholder registers a placeholder source: fn gets the argument of
// {name:arg} ("" for {name}) and returns the text that replaces it.
func Placeholder(name string, fn func(arg string) (string, error)) {
	placeholders = append(placeholders, placeholderProvider{name: name, fn: textValue(fn)})
}

// SecretPlaceholder registers a placeholder whose values are secrets: the
// host never logs or prints them.
func SecretPlaceholder(name string, fn func(arg string) (string, error)) {
	placeholders = append(placeholders,
		placeholderProvider{name: name, secret: true, fn: textValue(fn)})
}

// JSONPlaceholder registers a placeholder whose value is JSON data (a
// number, a bool, an object): where it stands alone in a payload string it
// keeps its type.
func JSONPlaceholder(name string, fn func(arg string) (any, error)) {
	placeholders = append(placeholders, placeholderProvider{name: name, fn: fn, json: true})
}

func textValue(fn func(string) (string, error)) func(string) (any, error) {
	return func(arg string) (any, error) { return fn(arg) }
}

// Transform registers a payload transform.
func Transform(name string, fn func(Message) (Result, error)) {
	transforms = append(transforms, transformProvider{name, fn})
}

// OnInit registers a function to run once per instance, before any call.
// An error fails the instance (and, for the first one, loading the plugin).
func OnInit(fn func() error) {
	initFuncs = append(initFuncs, fn)
}

// Message is one websocket message given to a transform. Data is valid only
// during the call (the SDK reuses its buffer): copy what you keep. Changing
// it in place changes nothing the host sees; return Replace to send a
// change.
type Message struct {
	Data []byte
	// Incoming is true for a message from the server.
	Incoming bool
	// Binary is true for a binary frame.
	Binary bool
}

// Result is what a transform does with a message.
type Result struct {
	status abi.Status
	data   []byte
}

// Pass lets the message through unchanged; nothing is copied.
func Pass() Result { return Result{status: abi.StatusOK} }

// Replace sends data instead of the message. The host copies data before
// the call returns, so the plugin may reuse it afterwards. Replacing with an
// empty slice sends an empty message.
func Replace(data []byte) Result { return Result{status: abi.StatusReplace, data: data} }

// Drop drops the message.
func Drop() Result { return Result{status: abi.StatusDrop} }

// Errors of Value.
var (
	ErrNotFound = errors.New("value not set")
	ErrDenied   = errors.New("value needs the secrets capability")
)

// Value reads one of the client's values: abi.ValueClientID, ValueAPI,
// ValueSessionID, ValueChannel, ValueVersion, and with the secrets
// capability ValueToken, ValueAuthUsername, ValueAuthPassword.
func Value(name string) (string, error) {
	b, n := readBuffer(&valueBuf, func(p []byte) int32 { return valueRead(name, p) })
	switch n {
	case abi.ReadNotFound:
		return "", ErrNotFound
	case abi.ReadDenied:
		return "", ErrDenied
	}
	return string(b), nil
}

var configCache []byte

// Config returns the plugin's config, as JSON ("null" when there is none).
func Config() []byte {
	if configCache == nil {
		var buf []byte
		b, _ := readBuffer(&buf, configRead)
		configCache = append([]byte{}, b...)
	}
	return configCache
}

// DecodeConfig decodes the plugin's config into v, strictly: a key v has no
// field for is an error, as a misspelt key should be, and a value of the
// wrong kind is an error that names its key as the config file writes it.
func DecodeConfig(v any) error { return DecodeStrict(Config(), v) }

// DecodeStrict decodes JSON into v as DecodeConfig does, for a plugin's
// tests of its config handling.
func DecodeStrict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("config: %s", explainJSON(err))
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("config: more than one JSON value")
	}
	return nil
}

// explainJSON words an encoding/json error in the terms of the config file
// ("snowflake.node: a JSON string where an integer is needed"), not of Go
// types.
func explainJSON(err error) string {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "json: ")
		return strings.Replace(msg, "unknown field ", "unknown key ", 1)
	}
	want := "a " + te.Type.Kind().String()
	switch te.Type.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "an integer"
	case reflect.Float32, reflect.Float64:
		want = "a number"
	case reflect.Struct, reflect.Map:
		want = "an object"
	case reflect.Slice, reflect.Array:
		want = "a list"
	case reflect.Bool:
		want = "true or false"
	}
	if te.Field == "" {
		return fmt.Sprintf("the config is a JSON %s; it must be %s", te.Value, want)
	}
	return fmt.Sprintf("%s: a JSON %s where %s is needed", te.Field, te.Value, want)
}

// Buffers reused from call to call.
var inputBuf, valueBuf []byte

// readBuffer reads a value with the ABI's read protocol into *buf, growing
// it once when it is too small. It returns the bytes, or nil and the
// negative result.
func readBuffer(buf *[]byte, read func(p []byte) int32) ([]byte, int32) {
	n := read((*buf)[:cap(*buf)])
	if n < 0 {
		return nil, n
	}
	if int(n) > cap(*buf) {
		*buf = make([]byte, n, n+n/4)
		if n = read((*buf)[:cap(*buf)]); n < 0 || int(n) > cap(*buf) {
			return nil, n
		}
	}
	return (*buf)[:n], n
}

func input() []byte {
	b, _ := readBuffer(&inputBuf, inputRead)
	return b
}

// describe lists the providers in the ABI's describe format.
func describe() string {
	var b strings.Builder
	for _, p := range clientIDs {
		fmt.Fprintf(&b, "%s %s\n", abi.KindClientID, p.name)
	}
	for _, p := range placeholders {
		fmt.Fprintf(&b, "%s %s", abi.KindPlaceholder, p.name)
		if p.secret {
			b.WriteString(" " + abi.FlagSecret)
		}
		b.WriteByte('\n')
	}
	for _, p := range transforms {
		fmt.Fprintf(&b, "%s %s\n", abi.KindTransform, p.name)
	}
	return b.String()
}

// guard turns a panic into an error status.
func guard(status *abi.Status) {
	if r := recover(); r != nil {
		errorSet(fmt.Sprintf("panic: %v", r))
		*status = abi.StatusError
	}
}

// fail reports err and returns the error status.
func fail(err error) abi.Status {
	errorSet(err.Error())
	return abi.StatusError
}

func runInit() (status abi.Status) {
	defer guard(&status)
	for _, fn := range initFuncs {
		if err := fn(); err != nil {
			return fail(err)
		}
	}
	return abi.StatusOK
}

func runDescribe() (status abi.Status) {
	defer guard(&status)
	outputSet([]byte(describe()))
	return abi.StatusOK
}

func runClientID(index int32) (status abi.Status) {
	defer guard(&status)
	if index < 0 || int(index) >= len(clientIDs) {
		return fail(fmt.Errorf("no client_id format #%d", index))
	}
	id, err := clientIDs[index].fn()
	if err != nil {
		return fail(err)
	}
	return output([]byte(id), abi.StatusOK)
}

func runPlaceholder(index int32) (status abi.Status) {
	defer guard(&status)
	if index < 0 || int(index) >= len(placeholders) {
		return fail(fmt.Errorf("no placeholder #%d", index))
	}
	p := placeholders[index]
	v, err := p.fn(string(input()))
	if err != nil {
		return fail(err)
	}
	if !p.json {
		return output([]byte(v.(string)), abi.StatusOK)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fail(err)
	}
	return output(b, abi.StatusJSON)
}

func runTransform(index, flags int32) (status abi.Status) {
	defer guard(&status)
	if index < 0 || int(index) >= len(transforms) {
		return fail(fmt.Errorf("no transform #%d", index))
	}
	m := Message{
		Data:     input(),
		Incoming: flags&abi.FlagIncoming != 0,
		Binary:   flags&abi.FlagBinary != 0,
	}
	r, err := transforms[index].fn(m)
	if err != nil {
		return fail(err)
	}
	if r.status == abi.StatusReplace {
		return output(r.data, abi.StatusReplace)
	}
	return r.status
}

func output(b []byte, status abi.Status) abi.Status {
	if outputSet(b) != abi.OutputOK {
		return fail(fmt.Errorf("output of %d bytes is larger than the host accepts", len(b)))
	}
	return status
}
