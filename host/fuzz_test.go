package host

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wsplug/wsplug/config"
)

// FuzzReadWasm feeds the reader of the type, import and export sections any
// bytes: it must not panic, and it must agree with itself on a module it
// accepted.
func FuzzReadWasm(f *testing.F) {
	for _, name := range []string{"healthy", "import_sock", "import_memory", "import_signature",
		"abi_v2", "truncated", "notwasm"} {
		b, err := os.ReadFile(hostile(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x02\x80\x80\x80\x80\x10"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := readWasm(b)
		if err != nil {
			if !errors.Is(err, errNotWasm) {
				t.Fatalf("error does not say the bytes are not a module: %v", err)
			}
			return
		}
		for _, imp := range m.Imports {
			if imp.Kind > importTag || imp.Type != nil && imp.Kind != importFunc {
				t.Fatalf("accepted an unknown kind: %+v", imp)
			}
		}
		for _, e := range m.Exports {
			if e.Kind > importTag {
				t.Fatalf("accepted an unknown export kind: %+v", e)
			}
		}
		importProblems(m.Imports) // must not panic either
		versionProblem(m)
		spokenVersion(m)
	})
}

// FuzzParseDescribe: any describe output gives providers with valid names or
// an error, never a panic.
func FuzzParseDescribe(f *testing.F) {
	f.Add("client_id ulid\nplaceholder jwt secret\ntransform wrap\n")
	f.Add("transform a\ntransform a\n")
	f.Add("gadget x")
	f.Add("placeholder x secret secret\n\n\n")
	f.Fuzz(func(t *testing.T, text string) {
		p, err := parseDescribe(text)
		if err != nil {
			return
		}
		names := append(append([]string{}, p.ClientIDs...), p.Transforms...)
		for _, ph := range p.Placeholders {
			names = append(names, ph.Name)
		}
		for _, n := range names {
			if !validName(n) || strings.ContainsAny(n, " \n") {
				t.Fatalf("accepted the name %q", n)
			}
		}
	})
}

// FuzzPluginBoundary runs programs of host-function calls with the
// fuzzer's pointers and lengths in a plugin (testdata/fuzz/hostcalls.wat).
// Whatever they do, the call returns or fails with a *PluginError, the host
// does not panic, it writes the plugin's memory only inside the buffers the
// plugin passed, and the plugin keeps answering. The logger takes debug
// lines, so that log calls go all the way.
func FuzzPluginBoundary(f *testing.F) {
	seeds := [][][]byte{
		{hostcall(opOutputSet, 0, 20, 0, 0)}, // the describe text
		{hostcall(opOutputSet, 0, 9, 0, 0), hostcall(opReturn, 1, 0, 0, 0)},
		{hostcall(opInputRead, 65530, 100, 0, 0)}, // past the end
		{hostcall(opErrorSet, 0, 9, 0, 0), hostcall(opReturn, 0xffffffff, 0, 0, 0)},
		{hostcall(opValueRead, 0, 3, 100, 50)},         // "tra", unknown
		{hostcall(opValueRead, hcToken, 5, 200, 50)},   // the token
		{hostcall(opValueRead, hcClientID, 9, 250, 4)}, // too small a buffer
		{hostcall(opLog, 0xfffffffc, 0, 20, 0)},        // a debug line
		{hostcall(opConfigRead, 1000, 0xffffffff, 0, 0)},
		{hostcall(opConfigRead, 300, 100, 0, 0)},
		{hostcall(opOutputSet, wild, 0x7fffffff, 0, 0)}, // too large
		{hostcall(opInputRead, 400, 100, 0, 0), returnLast},
	}
	for _, records := range seeds {
		f.Add(bytes.Join(records, nil))
	}

	debug := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelDebug}))
	l, err := NewLoader(&LoaderOptions{CacheDir: testCacheDir, Logger: debug})
	if err != nil {
		f.Fatal(err)
	}
	p, err := l.Load(context.Background(), config.Plugin{
		Name: "hostcalls", File: filepath.Join("testdata", "fuzz", "hostcalls.wasm"),
		Config: map[string]any{"k": "v"}, Allow: []string{config.CapSecrets},
		Limits: config.Limits{Memory: 1 << 20, Timeout: time.Second, Instances: 1},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close(context.Background()); l.Close(context.Background()) })
	tr := &pluginTransform{p: p, call: "transform[hostcalls]"}
	client := &ClientInfo{
		API:    "A",
		Values: &config.Values{ClientID: "client-7", Token: "a token"},
		Auth:   &config.Auth{Username: "user", Password: "pass"},
	}

	f.Fuzz(func(t *testing.T, program []byte) {
		m := &Message{Data: program, Client: client}
		_, err := tr.Transform(context.Background(), m)
		var pe *PluginError
		if err != nil && (!errors.As(err, &pe) || pe.Plugin != "hostcalls") {
			t.Fatalf("error is not a PluginError naming the plugin: %#v", err)
		}
		checkHostWrites(t, p, program, client)
		ok := &Message{Data: hostcall(opReturn, 0, 0, 0, 0)}
		if a, err := tr.Transform(context.Background(), ok); a != Pass || err != nil {
			t.Fatalf("the plugin stopped answering: %v %v", a, err)
		}
	})
}

// checkHostWrites runs a hostcalls program on an instance and compares the
// instance's memory before and after: as the plugin writes none, every byte
// that changed outside the buffers of its read calls is the host's fault.
func checkHostWrites(t *testing.T, p *Plugin, program []byte, client *ClientInfo) {
	t.Helper()
	allowed, ok := hostWritable(program)
	if !ok {
		return
	}
	ctx := context.Background()
	in, err := p.pool.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer p.pool.put(in)
	size := in.mem.Size()
	view, _ := in.mem.Read(0, size)
	before := bytes.Clone(view)
	_, err = in.call(ctx, "transform[hostcalls]", in.fnTransform,
		&callArgs{input: program, client: client})
	if errors.Is(err, ErrTimeout) {
		return // the module is closed
	}
	after, ok := in.mem.Read(0, size)
	if !ok {
		t.Fatalf("memory of %d bytes cannot be read after the call", size)
	}
	for i := range before {
		if before[i] != after[i] && !slices.ContainsFunc(allowed, func(r [2]uint64) bool {
			return r[0] <= uint64(i) && uint64(i) < r[1]
		}) {
			t.Fatalf("the host wrote byte %#x (%#x -> %#x), outside the buffers %x; error %v",
				i, before[i], after[i], allowed, err)
		}
	}
}

// hostWritable lists the buffers, [ptr, ptr+cap), that a hostcalls program
// passes the host to write: where the program itself is read, and those of
// its input_read, config_read and value_read calls. ok is false when what
// runs is not what the program says: it is longer than the plugin reads in,
// or a read call writes over the program.
func hostWritable(program []byte) (ranges [][2]uint64, ok bool) {
	const base, room = 32768, 32768 // where the plugin reads its program
	if len(program) > room {
		return nil, false
	}
	ranges = [][2]uint64{{base, base + room}}
	end := base + uint64(len(program))
	for off := 0; off+20 <= len(program); off += 20 {
		r := program[off : off+20]
		a, b := uint64(binary.LittleEndian.Uint32(r[4:])), uint64(binary.LittleEndian.Uint32(r[8:]))
		c, d := uint64(binary.LittleEndian.Uint32(r[12:])), uint64(binary.LittleEndian.Uint32(r[16:]))
		var buf [2]uint64
		switch r[0] & 7 {
		case opInputRead, opConfigRead:
			buf = [2]uint64{a, a + b}
		case opValueRead:
			buf = [2]uint64{c, c + d}
		case opReturn:
			return ranges, true
		default:
			continue
		}
		if buf[0] < end && base < buf[1] && buf[0] < buf[1] {
			return nil, false
		}
		ranges = append(ranges, buf)
	}
	return ranges, true
}
