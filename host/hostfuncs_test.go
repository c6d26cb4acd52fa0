package host

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsplug/wsplug/config"
)

// hostcall is one record of a testdata/fuzz/hostcalls.wat program.
func hostcall(op byte, a, b, c, d uint32) []byte {
	r := make([]byte, 20)
	r[0] = op
	binary.LittleEndian.PutUint32(r[4:], a)
	binary.LittleEndian.PutUint32(r[8:], b)
	binary.LittleEndian.PutUint32(r[12:], c)
	binary.LittleEndian.PutUint32(r[16:], d)
	return r
}

// Operations of hostcalls.wat.
const (
	opInputRead byte = iota
	opOutputSet
	opErrorSet
	opConfigRead
	opValueRead
	opLog
	opLogEnabled
	opReturn
)

// Addresses in hostcalls.wat's memory.
const (
	hcDescribe = 0   // "transform hostcalls\n", 20 bytes
	hcToken    = 64  // "token", 5 bytes
	hcUsername = 80  // "auth.username", 13 bytes
	hcPassword = 96  // "auth.password", 13 bytes
	hcClientID = 112 // "client_id", 9 bytes
	wild       = 0xfffffff0
)

// returnLast ends a hostcalls program with the last host function's result
// as the status.
var returnLast = hostcall(opReturn, 0, 1, 0, 0)

func loadHostcalls(t testing.TB, logger *slog.Logger, allow ...string) *pluginTransform {
	t.Helper()
	l := newTestLoader(t, logger)
	p, err := l.Load(context.Background(), config.Plugin{
		Name: "hostcalls", File: filepath.Join("testdata", "fuzz", "hostcalls.wasm"),
		Config: map[string]any{"k": "v"}, Allow: allow,
		Limits: config.Limits{Memory: 1 << 20, Timeout: 5 * time.Second, Instances: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return &pluginTransform{p: p, call: "transform[hostcalls]"}
}

// TestHostFunctionRanges checks the memory ranges of ABI section 4: with a
// length of 0 the pointer is not looked at; otherwise the whole range must
// be in memory, whatever the host function ends up reading or writing, or
// the call traps. It also checks what output_set and value_read answer.
func TestHostFunctionRanges(t *testing.T) {
	// Debug is off: a log line at debug is checked all the same.
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	plain := loadHostcalls(t, logger)
	secrets := loadHostcalls(t, logger, config.CapSecrets)
	client := &ClientInfo{
		API:    "A",
		Values: &config.Values{ClientID: "client-7", Token: "t"},
		Auth:   &config.Auth{Username: "user"},
	}
	outside := func(fn, rng string) string {
		return fn + ": the range " + rng + " is outside the plugin's memory of 65536 bytes"
	}
	tests := []struct {
		name       string
		secrets    bool
		program    [][]byte
		want       Action
		wantData   string
		wantKind   error
		wantDetail string
	}{
		{name: "output_set of 0 bytes at a wild pointer",
			program: [][]byte{hostcall(opOutputSet, wild, 0, 0, 0), hostcall(opReturn, 1, 0, 0, 0)},
			want:    Replace},
		{name: "error_set of 0 bytes at a wild pointer",
			program:  [][]byte{hostcall(opErrorSet, wild, 0, 0, 0), hostcall(opReturn, 0xffffffff, 0, 0, 0)},
			wantKind: ErrPluginFailed, wantDetail: "returned an error status without a message"},
		{name: "input_read of 0 bytes at a wild pointer",
			program:  [][]byte{hostcall(opInputRead, wild, 0, 0, 0), returnLast},
			wantKind: ErrPluginFailed, wantDetail: "returned unknown status 40"},
		{name: "config_read of 0 bytes at a wild pointer",
			program:  [][]byte{hostcall(opConfigRead, wild, 0, 0, 0), returnLast},
			wantKind: ErrPluginFailed, wantDetail: "returned unknown status 9"},
		{name: "value_read into 0 bytes at a wild pointer",
			program:  [][]byte{hostcall(opValueRead, hcClientID, 9, wild, 0), returnLast},
			wantKind: ErrPluginFailed, wantDetail: "returned unknown status 8"},
		{name: "value_read of an empty name at a wild pointer",
			program:  [][]byte{hostcall(opValueRead, wild, 0, 0, 0), returnLast},
			wantKind: ErrPluginFailed, wantDetail: "returned an error status without a message"},
		{name: "error_set that ends outside memory",
			program:  [][]byte{hostcall(opErrorSet, 64000, 2000, 0, 0)},
			wantKind: ErrTrap, wantDetail: outside("error_set", "[0xfa00, 0x101d0)")},
		{name: "log that ends outside memory",
			program:  [][]byte{hostcall(opLog, 0, 60000, 8000, 0)},
			wantKind: ErrTrap, wantDetail: outside("log", "[0xea60, 0x109a0)")},
		{name: "log at a level that is off, outside memory",
			program:  [][]byte{hostcall(opLog, 0xfffffffc, 65000, 1000, 0)},
			wantKind: ErrTrap, wantDetail: outside("log", "[0xfde8, 0x101d0)")},
		{name: "value_read of an unknown name into a buffer outside memory",
			program:  [][]byte{hostcall(opValueRead, hcDescribe, 3, 65000, 1000)},
			wantKind: ErrTrap, wantDetail: outside("value_read", "[0xfde8, 0x101d0)")},
		{name: "value_read of a denied secret into a buffer outside memory",
			program:  [][]byte{hostcall(opValueRead, hcToken, 5, 65000, 1000)},
			wantKind: ErrTrap, wantDetail: outside("value_read", "[0xfde8, 0x101d0)")},
		{name: "value_read of a denied secret",
			program:  [][]byte{hostcall(opValueRead, hcToken, 5, 1000, 100), returnLast},
			wantKind: ErrPluginFailed, wantDetail: "returned unknown status -2"},
		{name: "value_read of the username", secrets: true,
			program:  [][]byte{hostcall(opValueRead, hcUsername, 13, 1000, 100), returnLast},
			wantKind: ErrPluginFailed, wantDetail: "returned unknown status 4"},
		{name: "value_read of an empty password", secrets: true,
			program:  [][]byte{hostcall(opValueRead, hcPassword, 13, 1000, 100), returnLast},
			wantKind: ErrPluginFailed, wantDetail: "returned an error status without a message"},
		{name: "output_set too large",
			program:  [][]byte{hostcall(opOutputSet, 0, 0x7fffffff, 0, 0), returnLast},
			wantKind: ErrPluginFailed, wantDetail: "returned unknown status -3"},
		{name: "replace after an output_set refused after one that fit",
			program: [][]byte{
				hostcall(opOutputSet, 0, 9, 0, 0),
				hostcall(opOutputSet, 0, 0x7fffffff, 0, 0),
				hostcall(opReturn, 1, 0, 0, 0),
			},
			wantKind:   ErrPluginFailed,
			wantDetail: "its output of 2147483647 bytes is larger than the limit of 16777216"},
		{name: "replace after an output_set that fit after a refused one",
			program: [][]byte{
				hostcall(opOutputSet, 0, 0x7fffffff, 0, 0),
				hostcall(opOutputSet, 0, 9, 0, 0),
				hostcall(opReturn, 1, 0, 0, 0),
			},
			want: Replace, wantData: "transform"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := plain
			if tt.secrets {
				tr = secrets
			}
			var prog []byte
			for _, r := range tt.program {
				prog = append(prog, r...)
			}
			m := &Message{Data: prog, Client: client}
			a, err := tr.Transform(context.Background(), m)
			var pe *PluginError
			switch {
			case tt.wantKind == nil && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantKind != nil && (!errors.As(err, &pe) || pe.Kind != tt.wantKind ||
				pe.Detail != tt.wantDetail):
				t.Fatalf("error %v\nwant %v: %s", err, tt.wantKind, tt.wantDetail)
			case tt.wantKind == nil && (a != tt.want || string(m.Data) != tt.wantData):
				t.Errorf("got %v %q, want %v %q", a, m.Data, tt.want, tt.wantData)
			}
		})
	}
}
