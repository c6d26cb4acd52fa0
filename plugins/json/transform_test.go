package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wsplug/wsplug/abi/guest"
)

// newFor builds the transforms of a config given as the host would give
// it, failing the test on a config error.
func newFor(t testing.TB, v any) *transforms {
	t.Helper()
	cfg, err := configOf(t, v)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := newTransforms(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// configOf decodes v as the plugin decodes the JSON the host passes.
func configOf(t testing.TB, v any) (config, error) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return decodeConfig(func(dst any) error { return guest.DecodeStrict(b, dst) })
}

// transformCase is one message through one transform.
type transformCase struct {
	name     string
	config   any
	in       string
	incoming bool
	binary   bool
	want     verdict
	out      string // the replacement, when want is replace
	error    string
}

// transformFunc is one of the transforms, as a method expression.
type transformFunc func(*transforms, []byte, bool, bool) (verdict, []byte, error)

// check runs the cases through the transform fn.
func check(t *testing.T, fn transformFunc, tests []transformCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newFor(t, tt.config)
			v, out, err := fn(tr, []byte(tt.in), tt.incoming, tt.binary)
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Errorf("error %v, want one with %q", err, tt.error)
				}
				return
			}
			if err != nil || v != tt.want || v == replace && string(out) != tt.out {
				t.Errorf("= %v %s, %v; want %v %s", v, out, err, tt.want, tt.out)
			}
			if v == replace && !json.Valid(out) {
				t.Errorf("output %s is not JSON", out)
			}
		})
	}
}

// TestWrap checks the envelope, the field, and the messages wrap leaves.
func TestWrap(t *testing.T) {
	env := map[string]any{"wrap": map[string]any{
		"envelope": map[string]any{"type": "prompt", "client": "x"},
	}}
	check(t, (*transforms).wrap, []transformCase{
		{name: "object", config: env, in: `{"b":1,"a":[2]}`, want: replace,
			out: `{"client":"x","type":"prompt","data":{"b":1,"a":[2]}}`},
		{name: "white space trimmed", config: env, in: " \n[1, 2]\r\n", want: replace,
			out: `{"client":"x","type":"prompt","data":[1, 2]}`},
		{name: "string", config: env, in: `"hi"`, want: replace,
			out: `{"client":"x","type":"prompt","data":"hi"}`},
		{name: "own field", want: replace, in: `7`, out: `{"k":{"n":null},"payload":7}`,
			config: map[string]any{"wrap": map[string]any{
				"envelope": map[string]any{"k": map[string]any{"n": nil}},
				"field":    "payload",
			}}},
		{name: "empty envelope", config: map[string]any{"wrap": map[string]any{
			"envelope": map[string]any{}}}, in: `{}`, want: replace, out: `{"data":{}}`},
		{name: "incoming", config: env, in: `{"a":1}`, incoming: true, want: pass},
		{name: "binary", config: env, in: `{"a":1}`, binary: true, want: pass},
		{name: "not JSON", config: env, in: `hello`, want: pass},
		{name: "not JSON, strict", in: `{"a":`, error: "not valid JSON (strict is set)",
			config: map[string]any{"strict": true, "wrap": env["wrap"]}},
		{name: "no wrap section", config: nil, in: `{}`, error: "needs wrap.envelope"},
		{name: "no wrap section, incoming", in: `{}`, incoming: true, want: pass},
	})
}

// TestFilter checks drop lists, keep lists, other fields, and the messages
// filter leaves.
func TestFilter(t *testing.T) {
	dropping := map[string]any{"filter": map[string]any{
		"drop": []any{"crystools.monitor", "progress"}}}
	keeping := map[string]any{"filter": map[string]any{"keep": []any{"executed"}}}
	check(t, (*transforms).filter, []transformCase{
		{name: "dropped", config: dropping, incoming: true, want: drop,
			in: `{"type":"crystools.monitor","data":{"cpu":3}}`},
		{name: "dropped, type last", config: dropping, incoming: true, want: drop,
			in: `{"data":{"type":"x"}, "type" : "progress"}`},
		{name: "escaped type", config: dropping, incoming: true, want: drop,
			in: `{"type":"progr\u0065ss"}`},
		{name: "other type", config: dropping, incoming: true, want: pass,
			in: `{"type":"executed"}`},
		{name: "nested type does not count", config: dropping, incoming: true, want: pass,
			in: `{"data":{"type":"progress"}}`},
		{name: "no type", config: dropping, incoming: true, want: pass, in: `[1]`},
		{name: "type not a string", config: dropping, incoming: true, want: pass,
			in: `{"type":["progress"]}`},
		{name: "kept", config: keeping, incoming: true, want: pass,
			in: `{"type":"executed"}`},
		{name: "not kept", config: keeping, incoming: true, want: drop,
			in: `{"type":"status"}`},
		{name: "no type, keep", config: keeping, incoming: true, want: drop,
			in: `{"a":1}`},
		{name: "other field", incoming: true, want: drop,
			in: `{"type":"a","meta":{"kind":"b"}}`,
			config: map[string]any{"filter": map[string]any{
				"field": "meta.kind", "drop": []any{"b"}}}},
		{name: "outgoing", config: dropping, want: pass, in: `{"type":"progress"}`},
		{name: "binary", config: dropping, incoming: true, binary: true, want: pass,
			in: `{"type":"progress"}`},
		{name: "not JSON", config: dropping, incoming: true, want: pass, in: `progress`},
		{name: "not JSON, strict", incoming: true, in: `progress`,
			error:  "not valid JSON",
			config: map[string]any{"strict": true, "filter": dropping["filter"]}},
		{name: "no filter section", incoming: true, in: `{}`,
			error: "needs filter.drop or filter.keep"},
	})
}

// TestRedact checks masking at paths, what is left alone, and that
// nothing to mask passes the message rather than copying it.
func TestRedact(t *testing.T) {
	fields := func(f ...any) map[string]any {
		return map[string]any{"redact": map[string]any{"fields": f}}
	}
	check(t, (*transforms).redact, []transformCase{
		{name: "top level", config: fields("password"), want: replace,
			in:  `{"user":"ada","password":"hunter2"}`,
			out: `{"user":"ada","password":"***"}`},
		{name: "nested and indexed", config: fields("data.token", "items.1.secret"),
			want: replace, incoming: true,
			in: `{"data": {"token": {"v": 1}, "x": 2}, ` +
				`"items": [{"secret": 1}, {"secret": 2}]}`,
			out: `{"data": {"token": "***", "x": 2}, ` +
				`"items": [{"secret": 1}, {"secret": "***"}]}`},
		{name: "order and spacing kept", config: fields("b"), want: replace,
			in:  "{ \"c\" : 1.50,\n  \"b\" : [true] ,\"a\":null }",
			out: "{ \"c\" : 1.50,\n  \"b\" : \"***\" ,\"a\":null }"},
		{name: "nested paths", config: fields("data.token", "data"), want: replace,
			in: `{"data":{"token":"t"}}`, out: `{"data":"***"}`},
		{name: "same path twice", config: fields("a", "a"), want: replace,
			in: `{"a":1}`, out: `{"a":"***"}`},
		{name: "repeated key", config: fields("a"), want: replace,
			in: `{"a":1,"a":2}`, out: `{"a":"***","a":"***"}`},
		{name: "own mask", want: replace, in: `{"a":"x"}`, out: `{"a":"<redacted>"}`,
			config: map[string]any{"redact": map[string]any{
				"fields": []any{"a"}, "mask": "<redacted>"}}},
		{name: "absent", config: fields("password", "data.token"), want: pass,
			in: `{"data":{"x":1}}`},
		{name: "masked already", config: fields("password"), want: pass,
			in: `{"password":"***"}`},
		{name: "binary", config: fields("password"), binary: true, want: pass,
			in: `{"password":"x"}`},
		{name: "not JSON", config: fields("password"), want: pass, in: `password=x`},
		{name: "not JSON, strict", in: `password=x`, error: "not valid JSON",
			config: map[string]any{"strict": true, "redact": fields("a")["redact"]}},
		{name: "no redact section", in: `{}`, error: "needs redact.fields"},
	})
}

// TestConfigErrors checks that each invalid section fails loading with an
// error that names its key.
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name   string
		config any
		error  string
	}{
		{name: "wrap without envelope", config: map[string]any{"wrap": map[string]any{}},
			error: "wrap.envelope is missing"},
		{name: "envelope not an object", error: `wrap.envelope: "x" is not an object`,
			config: map[string]any{"wrap": map[string]any{"envelope": "x"}}},
		{name: "empty field", error: "wrap.field is empty", config: map[string]any{
			"wrap": map[string]any{"envelope": map[string]any{}, "field": ""}}},
		{name: "field in envelope", error: `wrap.envelope already has the key "data"`,
			config: map[string]any{"wrap": map[string]any{
				"envelope": map[string]any{"data": 1}}}},
		{name: "drop and keep", error: "filter.drop and filter.keep are both set",
			config: map[string]any{"filter": map[string]any{
				"drop": []any{"a"}, "keep": []any{"b"}}}},
		{name: "neither", error: "needs filter.drop or filter.keep",
			config: map[string]any{"filter": map[string]any{"field": "kind"}}},
		{name: "empty keep", error: "filter.keep is empty",
			config: map[string]any{"filter": map[string]any{"keep": []any{}}}},
		{name: "drop not a list",
			error:  "filter.drop: a JSON string where a list is needed",
			config: map[string]any{"filter": map[string]any{"drop": "progress"}}},
		{name: "bad filter field", error: "filter.field: the path is empty",
			config: map[string]any{"filter": map[string]any{
				"field": "", "drop": []any{}}}},
		{name: "no fields", error: "redact.fields is missing",
			config: map[string]any{"redact": map[string]any{"mask": "x"}}},
		{name: "bad field", error: `redact.fields[1]: "a..b" has an empty segment`,
			config: map[string]any{"redact": map[string]any{
				"fields": []any{"a", "a..b"}}}},
		{name: "strict not a bool", error: "strict: a JSON string where true or false",
			config: map[string]any{"strict": "yes"}},
		{name: "unknown key", error: `unknown key "dorp"`,
			config: map[string]any{"filter": map[string]any{"dorp": []any{"a"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := configOf(t, tt.config)
			if err == nil {
				_, err = newTransforms(cfg)
			}
			if err == nil || !strings.Contains(err.Error(), tt.error) {
				t.Errorf("error %v, want one with %q", err, tt.error)
			}
		})
	}
}

// TestAllocations checks that, once its buffers have grown, a transform
// allocates nothing per message: they run on every message.
func TestAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts do not hold under the race detector")
	}
	tr := newFor(t, map[string]any{
		"wrap":   map[string]any{"envelope": map[string]any{"type": "prompt"}},
		"filter": map[string]any{"drop": []any{"progress"}},
		"redact": map[string]any{"fields": []any{"data.token", "items.2.secret", "x"}},
	})
	msg := []byte(`{"type":"progress","data":{"token":"t","n":[1,2,3]},` +
		`"items":[{},{},{"secret":"s"}]}`)
	tests := []struct {
		name string
		fn   transformFunc
	}{
		{name: "wrap", fn: (*transforms).wrap},
		{name: "filter", fn: (*transforms).filter},
		{name: "redact", fn: (*transforms).redact},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := testing.AllocsPerRun(100, func() {
				if _, _, err := tt.fn(tr, msg, tt.name == "filter", false); err != nil {
					t.Fatal(err)
				}
			})
			if n != 0 {
				t.Errorf("%v allocations per message", n)
			}
		})
	}
}

// BenchmarkTransforms times each transform on a message of about 1 KiB.
func BenchmarkTransforms(b *testing.B) {
	tr := newFor(b, map[string]any{
		"wrap":   map[string]any{"envelope": map[string]any{"type": "prompt"}},
		"filter": map[string]any{"drop": []any{"progress"}},
		"redact": map[string]any{"fields": []any{"data.token", "data.items.30.v"}},
	})
	var msg strings.Builder
	msg.WriteString(`{"type":"status","data":{"items":[`)
	for i := range 40 {
		if i > 0 {
			msg.WriteByte(',')
		}
		msg.WriteString(`{"k":"value","v":12}`)
	}
	msg.WriteString(`],"token":"secret"}}`)
	data := []byte(msg.String())
	b.Run("json.Valid", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			json.Valid(data)
		}
	})
	for _, fn := range []struct {
		name string
		fn   transformFunc
	}{{"wrap", (*transforms).wrap}, {"filter", (*transforms).filter},
		{"redact", (*transforms).redact}} {
		b.Run(fn.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				fn.fn(tr, data, fn.name == "filter", false)
			}
		})
	}
}
