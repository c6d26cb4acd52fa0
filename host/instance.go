package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wsplug/wsplug/abi"
	"github.com/wsplug/wsplug/config"
)

// instance is one instantiated module of a plugin. It serves one call at a
// time; the pool hands it out. An instance whose call went wrong (trap,
// timeout, fault) is broken and is never used again.
type instance struct {
	plugin *Plugin
	mod    api.Module
	mem    api.Memory

	// The exports, looked up once.
	fnInit, fnDescribe, fnClientID, fnPlaceholder, fnTransform api.Function

	stack  [2]uint64
	limit  time.Duration // the time limit of the next call
	cc     callContext
	timer  *time.Timer
	fired  chan struct{} // closed when a call runs out of time
	stdout *lineWriter
	stderr *lineWriter

	// The current call, set by call and read by the host functions.
	active     bool
	input      []byte
	dst        *[]byte // where output_set copies to: a caller's buffer, or out
	out        []byte
	outputSet  bool
	tooLarge   uint32 // the length of an output_set refused as too large
	errMsg     string
	client     *ClientInfo
	readSecret bool
	// secrets are the secret values this instance has read, newest last,
	// so that what it says (logs, stdout, stderr, errors) never repeats
	// them; kept across calls, since a plugin may keep what it read.
	secrets []string
	fault   string // what a host function refused, when it trapped the call

	broken bool
	calls  atomic.Int64
}

// callContext is the context of a call into the plugin: the caller's, plus
// the instance, which the host functions find through it without a map
// lookup or an allocation. With a time limit, Done and Err report the
// instance's own timer instead of the caller's context: a call is bounded
// by the limit, not by the caller.
//
// wazero watches Done and Err from a goroutine of its own that may outlive
// the call; so for a limited instance they read only what never changes
// after the instance is made (limited, in, in.fired), never the Context that
// the next call replaces.
type callContext struct {
	context.Context
	in      *instance
	limited bool
}

type instanceKey struct{}

func (c *callContext) Value(key any) any {
	if key == (instanceKey{}) {
		return c.in
	}
	return c.Context.Value(key)
}

func (c *callContext) Done() <-chan struct{} {
	if c.limited {
		return c.in.fired
	}
	return c.Context.Done()
}

func (c *callContext) Err() error {
	if c.limited {
		select {
		case <-c.in.fired:
			return context.DeadlineExceeded
		default:
			return nil
		}
	}
	return c.Context.Err()
}

// newInstance instantiates the plugin's module, runs its start and init
// functions, and looks up its exports.
func (p *Plugin) newInstance(ctx context.Context) (*instance, error) {
	in := &instance{plugin: p, fired: make(chan struct{}), limit: p.timeout}
	in.stdout = newLineWriter(p.log, "stdout", slog.LevelInfo, in.scrub)
	in.stderr = newLineWriter(p.log, "stderr", slog.LevelWarn, in.scrub)
	in.cc.in = in

	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(abi.ExportInitialize).
		WithSysNanotime().
		WithStdout(in.stdout).
		WithStderr(in.stderr)
	if p.caps.clock {
		mc = mc.WithSysWalltime()
	}
	if p.caps.random {
		mc = mc.WithRandSource(cryptoRand{})
	}

	ictx := ctx
	if p.timeout > 0 {
		var cancel context.CancelFunc
		ictx, cancel = context.WithTimeout(ctx, p.startTimeout())
		defer cancel()
	}
	mod, err := p.runtime.InstantiateModule(ictx, p.compiled, mc)
	if err != nil {
		err = p.startError(ctx, ictx, in, err)
		in.close()
		return nil, err
	}
	in.mod = mod
	in.mem = mod.ExportedMemory(abi.ExportMemory)
	in.fnInit = mod.ExportedFunction(abi.ExportInit)
	in.fnDescribe = mod.ExportedFunction(abi.ExportDescribe)
	in.fnClientID = mod.ExportedFunction(abi.ExportClientID)
	in.fnPlaceholder = mod.ExportedFunction(abi.ExportPlaceholder)
	in.fnTransform = mod.ExportedFunction(abi.ExportTransform)
	if p.timeout > 0 {
		in.timer = time.AfterFunc(time.Hour, func() { close(in.fired) })
		in.timer.Stop()
		in.cc.limited = true
	}

	if in.fnInit != nil {
		in.limit = p.startTimeout()
		status, err := in.call(ctx, "init", in.fnInit, nil)
		in.limit = p.timeout
		if err == nil && status != abi.StatusOK {
			err = p.error("init", ErrPluginFailed, resultProblem(status, in))
		}
		if err != nil {
			in.close()
			return nil, err
		}
	}
	return in, nil
}

// startError explains why instantiation failed: ctx is the caller's, ictx
// the one that bounds the start.
func (p *Plugin) startError(ctx, ictx context.Context, in *instance, err error) error {
	msg := err.Error()
	switch {
	case ctx.Err() != nil:
		// The caller stopped waiting: the module did nothing wrong.
		return p.error("start", ctx.Err(), "")
	case ictx.Err() != nil:
		return p.error("start", ErrTimeout, fmt.Sprintf("%s did not return within %s",
			abi.ExportInitialize, p.startTimeout()))
	case strings.Contains(msg, errOutsideCall.Error()):
		return p.error("start", ErrTrap, "a host function was called while the module started "+
			"(from its start function or "+abi.ExportInitialize+"): "+
			"host functions work only during a call")
	}
	return p.error("start", ErrTrap, firstLine(msg)+lastWords(in))
}

// lastWords quotes the first line the instance wrote to stderr in its last
// call, which often says why a guest died.
func lastWords(in *instance) string {
	if line := in.stderr.firstLine(); line != "" {
		return fmt.Sprintf(" (stderr: %q)", in.scrub(line))
	}
	return ""
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// close closes the module, logs what it wrote to stdout and stderr without
// ending the line, and reports the log lines dropped so far.
func (in *instance) close() {
	if in.timer != nil {
		in.timer.Stop()
	}
	if in.mod != nil {
		_ = in.mod.Close(context.Background())
	}
	in.stdout.close()
	in.stderr.close()
	in.plugin.log.flush()
}

// sampleEvery is how many calls an instance makes per timed one.
const sampleEvery = 16

// callArgs are the inputs of one call. The parameters are an array, not a
// slice, so that building them allocates nothing.
type callArgs struct {
	params [2]uint64
	input  []byte
	dst    *[]byte
	client *ClientInfo
}

// call calls fn with the arguments and returns its status. Any failure other
// than an error status breaks the instance.
func (in *instance) call(
	ctx context.Context,
	what string,
	fn api.Function,
	a *callArgs,
) (abi.Status, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	in.out = in.out[:0]
	in.dst = &in.out
	if a != nil {
		in.stack = a.params
		in.input, in.client = a.input, a.client
		if a.dst != nil {
			in.dst = a.dst
		}
	}
	in.active, in.outputSet, in.tooLarge = true, false, 0
	in.errMsg, in.readSecret, in.fault = "", false, ""
	in.stderr.reset()
	in.cc.Context = ctx
	limited := in.cc.limited
	if limited {
		in.timer.Reset(in.limit)
	}

	// Reading the clock costs more than a call on some machines: time one
	// call in sampleEvery.
	sample := in.calls.Load()%sampleEvery == 0
	var start time.Time
	if sample {
		start = time.Now()
	}
	err := fn.CallWithStack(&in.cc, in.stack[:])
	if sample {
		in.plugin.sampled.Add(1)
		in.plugin.sampledNanos.Add(int64(time.Since(start)))
	}

	if limited && !in.timer.Stop() {
		// The timer fired: the call ran out of time, or finished just as
		// it did. Either way the module is, or may soon be, closed.
		in.broken = true
		if err == nil {
			in.plugin.log.log(slog.LevelWarn, "call finished at its time limit; instance replaced",
				slog.String("call", what))
		}
	}
	in.active, in.input, in.client, in.dst = false, nil, nil, nil
	in.calls.Add(1)
	if err != nil {
		in.broken = true
		return 0, in.callError(what, err)
	}
	status := abi.Status(int32(uint32(in.stack[0])))
	switch status {
	case abi.StatusOK, abi.StatusReplace, abi.StatusDrop, abi.StatusJSON:
		return status, nil
	case abi.StatusError:
		msg := in.errMsg
		if msg == "" {
			msg = "returned an error status without a message"
		}
		return status, in.plugin.error(what, ErrPluginFailed, msg)
	}
	return status, in.plugin.error(what, ErrPluginFailed,
		fmt.Sprintf("returned unknown status %d", int32(status)))
}

// callError explains why a call did not return.
func (in *instance) callError(what string, err error) error {
	p := in.plugin
	if in.fault != "" {
		return p.error(what, ErrTrap, in.fault)
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return p.error(what, ErrTimeout, fmt.Sprintf("did not return within %s", in.limit))
		case sys.ExitCodeContextCanceled:
			return p.error(what, ErrTimeout, "canceled")
		}
		return p.error(what, ErrTrap,
			fmt.Sprintf("exited with code %d%s", exit.ExitCode(), lastWords(in)))
	}
	msg := strings.TrimPrefix(firstLine(err.Error()), "wasm error: ")
	return p.error(what, ErrTrap, msg+lastWords(in))
}

// ClientInfo is the client a provider is called for: what value_read gives
// a plugin.
type ClientInfo struct {
	// API is the client's name.
	API string
	// Values are the client's connection values (client id, token,
	// session id, channel, version) as they were when the call began.
	Values *config.Values
	// Auth is the API's basic authentication, or nil; a plugin may read it
	// only with the secrets capability.
	Auth *config.Auth
}

// value returns a named value of the client, and whether it is a secret.
func (c *ClientInfo) value(name string) (v string, secret, ok bool) {
	if c == nil {
		return "", false, false
	}
	switch name {
	case abi.ValueAPI:
		return c.API, false, c.API != ""
	case abi.ValueAuthUsername, abi.ValueAuthPassword:
		if c.Auth == nil {
			return "", true, false
		}
		if name == abi.ValueAuthUsername {
			v = c.Auth.Username
		} else {
			v = c.Auth.Password.Reveal()
		}
		return v, true, v != ""
	}
	if c.Values == nil {
		return "", name == abi.ValueToken, false
	}
	switch name {
	case abi.ValueClientID:
		v = c.Values.ClientID
	case abi.ValueSessionID:
		v = c.Values.SessionID
	case abi.ValueChannel:
		v = c.Values.Channel
	case abi.ValueVersion:
		v = c.Values.Version
	case abi.ValueToken:
		return c.Values.Token.Reveal(), true, c.Values.Token != ""
	default:
		return "", false, false
	}
	return v, false, v != ""
}
