package host

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
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
// does not panic, and the plugin keeps answering.
func FuzzPluginBoundary(f *testing.F) {
	record := func(op byte, a, b, c, d uint32) []byte {
		r := make([]byte, 20)
		r[0] = op
		binary.LittleEndian.PutUint32(r[4:], a)
		binary.LittleEndian.PutUint32(r[8:], b)
		binary.LittleEndian.PutUint32(r[12:], c)
		binary.LittleEndian.PutUint32(r[16:], d)
		return r
	}
	f.Add(record(1, 0, 20, 0, 0))                                           // output_set of the describe text
	f.Add(append(record(1, 0, 9, 0, 0), record(7, 1, 0, 0, 0)...))          // replace
	f.Add(record(0, 65530, 100, 0, 0))                                      // input_read past the end
	f.Add(append(record(2, 0, 9, 0, 0), record(7, 0xffffffff, 0, 0, 0)...)) // error status
	f.Add(record(4, 0, 3, 100, 50))                                         // value_read "tra"
	f.Add(record(5, 0, 0, 20, 0))                                           // log
	f.Add(record(3, 1000, 0xffffffff, 0, 0))                                // config_read huge cap
	f.Add(record(1, 0xfffffff0, 0x7fffffff, 0, 0))                          // output_set too large

	l, err := NewLoader(&LoaderOptions{CacheDir: testCacheDir})
	if err != nil {
		f.Fatal(err)
	}
	p, err := l.Load(context.Background(), config.Plugin{
		Name: "hostcalls", File: filepath.Join("testdata", "fuzz", "hostcalls.wasm"),
		Config: map[string]any{"k": "v"},
		Limits: config.Limits{Memory: 1 << 20, Timeout: time.Second, Instances: 1},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { p.Close(context.Background()); l.Close(context.Background()) })
	tr := &pluginTransform{p: p, call: "transform[hostcalls]"}
	client := &ClientInfo{API: "A", Values: &config.Values{ClientID: "c", Token: "t"}}

	f.Fuzz(func(t *testing.T, program []byte) {
		m := &Message{Data: program, Client: client}
		_, err := tr.Transform(context.Background(), m)
		var pe *PluginError
		if err != nil && (!errors.As(err, &pe) || pe.Plugin != "hostcalls") {
			t.Fatalf("error is not a PluginError naming the plugin: %#v", err)
		}
		ok := &Message{Data: record(7, 0, 0, 0, 0)}
		if a, err := tr.Transform(context.Background(), ok); a != Pass || err != nil {
			t.Fatalf("the plugin stopped answering: %v %v", a, err)
		}
	})
}
