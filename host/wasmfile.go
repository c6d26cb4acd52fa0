package host

import (
	"bytes"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/tetratelabs/wazero/api"
)

// wasmModule is what the host reads of a binary module before compiling it.
type wasmModule struct {
	Imports []wasmImport
	Exports []wasmExport
}

// A wasmImport is one entry of a module's import section.
type wasmImport struct {
	Module, Name string
	Kind         importKind
	// Type is a function import's signature; nil when the type section
	// holds something this reader does not know (compiling will say what).
	Type *funcType
}

// A wasmExport is one entry of a module's export section.
type wasmExport struct {
	Name string
	Kind importKind // exports number their kinds as imports do
}

// funcType is a function signature.
type funcType struct {
	Params, Results []api.ValueType
}

func (t funcType) String() string { return signature(t.Params, t.Results) }

type importKind byte

// Import kinds, as the binary format numbers them.
const (
	importFunc   importKind = 0
	importTable  importKind = 1
	importMemory importKind = 2
	importGlobal importKind = 3
	importTag    importKind = 4
)

func (k importKind) String() string {
	switch k {
	case importFunc:
		return "function"
	case importTable:
		return "table"
	case importMemory:
		return "memory"
	case importGlobal:
		return "global"
	case importTag:
		return "tag"
	}
	return fmt.Sprintf("kind %d", byte(k))
}

func (i wasmImport) String() string { return i.Module + "." + i.Name }

var wasmMagic = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// errNotWasm is wrapped by readWasm when the bytes are not a module.
var errNotWasm = errors.New("not a WebAssembly module")

// Section ids of the binary format.
const (
	sectionType   = 1
	sectionImport = 2
	sectionExport = 7
)

// readWasm reads the type, import and export sections of a binary module
// without compiling it, so that a module can be refused for what it
// imports before any work is spent on it, and described when it does not
// compile. It checks the module's framing (magic, version, section sizes)
// and those sections, but nothing else.
func readWasm(b []byte) (*wasmModule, error) {
	if len(b) < len(wasmMagic) || !bytes.Equal(b[:4], wasmMagic[:4]) {
		return nil, fmt.Errorf("%w: it does not start with \\0asm (it starts with %q)",
			errNotWasm, head(b))
	}
	if !bytes.Equal(b[4:8], wasmMagic[4:]) {
		return nil, fmt.Errorf("%w: binary format version %x is not 1", errNotWasm, b[4:8])
	}
	r := &reader{b: b, off: 8}
	m := &wasmModule{}
	var types []funcType
	for !r.done() {
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			break
		}
		if uint64(size) > uint64(len(r.b)-r.off) {
			r.fail("section %d of %d bytes runs past the end of the file", id, size)
			break
		}
		body := &reader{b: r.b[:r.off+int(size)], off: r.off}
		r.off += int(size)
		var what string
		switch id {
		case sectionType:
			// A form this reader does not know ends the list; the types
			// after it stay unknown, and compiling refuses the module.
			types = body.types()
			continue
		case sectionImport:
			what = "import section"
			m.Imports = body.imports(types)
		case sectionExport:
			what = "export section"
			m.Exports = body.exports()
		default:
			continue
		}
		if body.err == nil && !body.done() {
			body.fail("%d bytes left over", len(body.b)-body.off)
		}
		if body.err != nil {
			return nil, fmt.Errorf("%w: %s: %v", errNotWasm, what, body.err)
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("%w: %v", errNotWasm, r.err)
	}
	return m, nil
}

// types reads the function types of a type section, up to the first one it
// does not know.
func (r *reader) types() []funcType {
	n := r.u32()
	var out []funcType
	for i := uint32(0); i < n && r.err == nil; i++ {
		if r.byte() != 0x60 {
			break
		}
		var t funcType
		var ok bool
		if t.Params, ok = r.valueTypes(); !ok {
			break
		}
		if t.Results, ok = r.valueTypes(); !ok {
			break
		}
		out = append(out, t)
	}
	return out
}

// valueTypes reads a vector of number, vector and plain reference types.
func (r *reader) valueTypes() ([]api.ValueType, bool) {
	n := r.u32()
	if r.err != nil || uint64(n) > uint64(len(r.b)-r.off) {
		return nil, false
	}
	var out []api.ValueType
	for range n {
		switch t := r.byte(); t {
		case api.ValueTypeI32, api.ValueTypeI64, api.ValueTypeF32, api.ValueTypeF64,
			0x7b, api.ValueTypeExternref, 0x70: // v128, funcref
			out = append(out, t)
		default:
			return nil, false
		}
	}
	return out, r.err == nil
}

func (r *reader) imports(types []funcType) []wasmImport {
	n := r.u32()
	var out []wasmImport
	for i := uint32(0); i < n && r.err == nil; i++ {
		imp := wasmImport{Module: r.name(), Name: r.name(), Kind: importKind(r.byte())}
		if imp.Kind == importFunc {
			if idx := r.u32(); uint64(idx) < uint64(len(types)) {
				imp.Type = &types[idx]
			}
		} else {
			r.skipImportDesc(imp.Kind)
		}
		out = append(out, imp)
	}
	return out
}

func (r *reader) exports() []wasmExport {
	n := r.u32()
	var out []wasmExport
	for i := uint32(0); i < n && r.err == nil; i++ {
		e := wasmExport{Name: r.name(), Kind: importKind(r.byte())}
		if e.Kind > importTag {
			r.fail("unknown export kind %d", byte(e.Kind))
		}
		r.u32() // the index
		out = append(out, e)
	}
	return out
}

func head(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return string(b)
}

// reader reads the binary format; the first error sticks and makes every
// later read return zero.
type reader struct {
	b   []byte
	off int
	err error
}

func (r *reader) done() bool { return r.err != nil || r.off >= len(r.b) }

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.fail("unexpected end at byte %d", r.off)
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

// u32 reads an unsigned LEB128 number of at most 32 bits.
func (r *reader) u32() uint32 {
	var v uint32
	for shift := 0; shift < 35; shift += 7 {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if shift == 28 && c > 0x0f {
			r.fail("number at byte %d is larger than 32 bits", r.off-1)
			return 0
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail("number at byte %d is too long", r.off)
	return 0
}

func (r *reader) name() string {
	n := r.u32()
	if r.err != nil {
		return ""
	}
	if uint64(n) > uint64(len(r.b)-r.off) {
		r.fail("name of %d bytes runs past the section", n)
		return ""
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	if !utf8.ValidString(s) {
		r.fail("name %q is not UTF-8", s)
	}
	return s
}

func (r *reader) limits() {
	switch flags := r.byte(); flags {
	case 0x00, 0x02, 0x04: // min only (0x02: shared, 0x04: 64-bit)
		r.u32()
	case 0x01, 0x03, 0x05: // min and max
		r.u32()
		r.u32()
	default:
		r.fail("unknown limits flags 0x%02x", flags)
	}
}

func (r *reader) skipImportDesc(k importKind) {
	switch k {
	case importFunc:
		r.u32()
	case importTable:
		r.byte() // reference type
		r.limits()
	case importMemory:
		r.limits()
	case importGlobal:
		r.byte() // value type
		r.byte() // mutability
	case importTag:
		r.byte() // attribute
		r.u32()
	default:
		r.fail("unknown import kind %d", byte(k))
	}
}
