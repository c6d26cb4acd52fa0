package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wsplug/wsplug/abi"
)

// errOutsideCall is the fault of a host function called when no call is
// running, as from a start function.
var errOutsideCall = errors.New("host function called outside a call")

// hostFuncs are the ABI's host functions with their signatures.
var hostFuncs = []struct {
	name string
	fn   api.GoModuleFunc
	funcType
}{
	{abi.FuncInputRead, hostInputRead, funcType{types(i32, i32), types(i32)}},
	{abi.FuncOutputSet, hostOutputSet, funcType{types(i32, i32), types(i32)}},
	{abi.FuncErrorSet, hostErrorSet, funcType{types(i32, i32), nil}},
	{abi.FuncConfigRead, hostConfigRead, funcType{types(i32, i32), types(i32)}},
	{abi.FuncValueRead, hostValueRead, funcType{types(i32, i32, i32, i32), types(i32)}},
	{abi.FuncLog, hostLog, funcType{types(i32, i32, i32), nil}},
	{abi.FuncLogEnabled, hostLogEnabled, funcType{types(i32), types(i32)}},
}

func types(ts ...api.ValueType) []api.ValueType { return ts }

const i32 = api.ValueTypeI32

// hostFuncType is the signature of the host function of that name.
func hostFuncType(name string) (funcType, bool) {
	for _, f := range hostFuncs {
		if f.name == name {
			return f.funcType, true
		}
	}
	return funcType{}, false
}

// instantiateHostModule adds the ABI's host functions to a runtime.
func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ImportModule)
	for _, f := range hostFuncs {
		b.NewFunctionBuilder().WithGoModuleFunction(f.fn, f.Params, f.Results).Export(f.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// current is the instance whose call is running, found through the context
// the call was made with. A host function called at any other time traps.
func current(ctx context.Context, fn string) *instance {
	var in *instance
	if cc, ok := ctx.(*callContext); ok {
		in = cc.in
	} else if v, ok := ctx.Value(instanceKey{}).(*instance); ok {
		in = v
	}
	if in == nil || !in.active {
		panic(fmt.Errorf("%s: %w", fn, errOutsideCall))
	}
	return in
}

// trap fails the running call with a fault the error will name.
func (in *instance) trap(format string, args ...any) {
	in.fault = fmt.Sprintf(format, args...)
	panic(errors.New(in.fault))
}

// view returns the plugin's memory at [ptr, ptr+n), trapping the call when
// the range is outside it. With n 0 it looks at nothing and returns nil, as
// ABI section 4 says: a C NULL with a length of 0 is fine. The view is
// valid until the plugin runs again.
func (in *instance) view(fn string, ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	b, ok := in.mem.Read(ptr, n)
	if !ok {
		in.trap("%s: the range [%#x, %#x) is outside the plugin's memory of %d bytes",
			fn, ptr, uint64(ptr)+uint64(n), in.mem.Size())
	}
	return b
}

// readTo implements the read protocol: copy v to [ptr, ptr+cap) when it fits,
// and return its length either way. The whole buffer must be in memory.
func (in *instance) readTo(fn string, stack []uint64, v []byte) {
	dst := in.view(fn, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	if len(v) <= len(dst) {
		copy(dst, v)
	}
	stack[0] = api.EncodeI32(int32(len(v)))
}

func hostInputRead(ctx context.Context, _ api.Module, stack []uint64) {
	in := current(ctx, abi.FuncInputRead)
	in.readTo(abi.FuncInputRead, stack, in.input)
}

func hostConfigRead(ctx context.Context, _ api.Module, stack []uint64) {
	in := current(ctx, abi.FuncConfigRead)
	in.readTo(abi.FuncConfigRead, stack, in.plugin.configJSON)
}

// hostOutputSet keeps a copy of the output. One too large is refused before
// its range is looked at, and leaves the call without an output: a replace
// after it fails rather than keep an earlier one.
func hostOutputSet(ctx context.Context, _ api.Module, stack []uint64) {
	in := current(ctx, abi.FuncOutputSet)
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	if int64(n) > int64(in.plugin.maxOutput) {
		*in.dst = (*in.dst)[:0]
		in.outputSet, in.tooLarge = false, n
		stack[0] = api.EncodeI32(abi.OutputTooLarge)
		return
	}
	b := in.view(abi.FuncOutputSet, ptr, n)
	*in.dst = append((*in.dst)[:0], b...)
	in.outputSet, in.tooLarge = true, 0
	stack[0] = api.EncodeI32(abi.OutputOK)
}

func hostErrorSet(ctx context.Context, _ api.Module, stack []uint64) {
	in := current(ctx, abi.FuncErrorSet)
	ptr, n := api.DecodeU32(stack[0]), api.DecodeU32(stack[1])
	b := in.view(abi.FuncErrorSet, ptr, n)
	in.errMsg = in.say(b, errorTextMax)
	if n > errorTextMax {
		in.errMsg += fmt.Sprintf("… (%d bytes cut)", n-errorTextMax)
	}
}

func hostValueRead(ctx context.Context, _ api.Module, stack []uint64) {
	in := current(ctx, abi.FuncValueRead)
	name := in.view(abi.FuncValueRead, api.DecodeU32(stack[0]), api.DecodeU32(stack[1]))
	// The buffer must be in memory whatever the answer.
	in.view(abi.FuncValueRead, api.DecodeU32(stack[2]), api.DecodeU32(stack[3]))
	v, secret, ok := in.client.value(string(name))
	switch {
	case secret && !in.plugin.caps.secrets:
		in.plugin.deniedOnce.Do(func() {
			in.plugin.log.log(slog.LevelWarn,
				"plugin asked for a secret without the secrets capability",
				slog.String("value", string(name)))
		})
		stack[0] = api.EncodeI32(abi.ReadDenied)
		return
	case !ok:
		stack[0] = api.EncodeI32(abi.ReadNotFound)
		return
	}
	if secret {
		in.readSecret = true
		in.noteSecret(v)
	}
	in.readTo(abi.FuncValueRead, stack[2:], []byte(v))
	stack[0] = stack[2]
}

// hostLog checks the whole line's range, even at a level that is off, and
// passes on at most logLineMax bytes of it (and one more, to mark the cut).
func hostLog(ctx context.Context, _ api.Module, stack []uint64) {
	in := current(ctx, abi.FuncLog)
	level := slog.Level(api.DecodeI32(stack[0]))
	msg := in.view(abi.FuncLog, api.DecodeU32(stack[1]), api.DecodeU32(stack[2]))
	if !in.plugin.log.enabled(level) {
		return
	}
	in.plugin.log.log(level, in.say(msg, logLineMax+1))
}

func hostLogEnabled(ctx context.Context, _ api.Module, stack []uint64) {
	in := current(ctx, abi.FuncLogEnabled)
	enabled := int32(0)
	if in.plugin.log.enabled(slog.Level(api.DecodeI32(stack[0]))) {
		enabled = 1
	}
	stack[0] = api.EncodeI32(enabled)
}
