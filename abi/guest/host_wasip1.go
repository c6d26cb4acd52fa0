//go:build wasip1

package guest

import "unsafe"

// The host functions of abi.ImportModule.

//go:wasmimport wsplug_v1 input_read
func hostInputRead(ptr unsafe.Pointer, cap uint32) int32

//go:wasmimport wsplug_v1 output_set
func hostOutputSet(ptr unsafe.Pointer, len uint32) int32

//go:wasmimport wsplug_v1 error_set
func hostErrorSet(ptr unsafe.Pointer, len uint32)

//go:wasmimport wsplug_v1 config_read
func hostConfigRead(ptr unsafe.Pointer, cap uint32) int32

//go:wasmimport wsplug_v1 value_read
func hostValueRead(name unsafe.Pointer, nameLen uint32, ptr unsafe.Pointer, cap uint32) int32

//go:wasmimport wsplug_v1 log
func hostLog(level int32, ptr unsafe.Pointer, len uint32)

//go:wasmimport wsplug_v1 log_enabled
func hostLogEnabled(level int32) int32

func data(b []byte) (unsafe.Pointer, uint32) {
	return unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b))
}

func inputRead(p []byte) int32  { return hostInputRead(data(p)) }
func configRead(p []byte) int32 { return hostConfigRead(data(p)) }
func outputSet(p []byte) int32  { return hostOutputSet(data(p)) }

func valueRead(name string, p []byte) int32 {
	n, nl := data(unsafe.Slice(unsafe.StringData(name), len(name)))
	ptr, c := data(p)
	return hostValueRead(n, nl, ptr, c)
}

func errorSet(msg string) {
	hostErrorSet(data(unsafe.Slice(unsafe.StringData(msg), len(msg))))
}

func logWrite(level int32, msg string) {
	hostLog(level, unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg)))
}

func logEnabled(level int32) bool { return hostLogEnabled(level) != 0 }

// The exports of the ABI.

//go:wasmexport wsplug_abi_v1
func exportMarker() {}

//go:wasmexport wsplug_init
func exportInit() int32 { return int32(runInit()) }

//go:wasmexport wsplug_describe
func exportDescribe() int32 { return int32(runDescribe()) }

//go:wasmexport wsplug_client_id
func exportClientID(index int32) int32 { return int32(runClientID(index)) }

//go:wasmexport wsplug_placeholder
func exportPlaceholder(index int32) int32 { return int32(runPlaceholder(index)) }

//go:wasmexport wsplug_transform
func exportTransform(index, flags int32) int32 { return int32(runTransform(index, flags)) }
