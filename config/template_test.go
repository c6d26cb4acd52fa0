package config

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// mapLookup resolves from a map; a missing name is unknown.
type mapLookup map[string]any

func (m mapLookup) Lookup(_ context.Context, name, arg string) (any, error) {
	key := name
	if arg != "" {
		key = name + ":" + arg
	}
	v, ok := m[key]
	if !ok {
		return nil, ErrUnknownPlaceholder
	}
	return v, nil
}

var testValues = mapLookup{
	"client_id": "c-1",
	"token":     Secret("s3cr3t"),
	"seed":      42,
	"ratio":     0.5,
	"on":        true,
	"none":      nil,
	"env:HOME":  "/home/u",
	"obj":       map[string]any{"a": 1},
	"hmac:body": "ab12",
}

func TestTemplateResolve(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantShown      string // "" means same as want
	}{
		{name: "plain text", in: "hello", want: "hello"},
		{name: "empty", in: "", want: ""},
		{name: "one placeholder", in: "{client_id}", want: "c-1"},
		{name: "in text", in: "id={client_id}&x", want: "id=c-1&x"},
		{name: "with argument", in: "{env:HOME}/x", want: "/home/u/x"},
		{name: "argument with colon", in: "{hmac:body}", want: "ab12"},
		{name: "number", in: "seed {seed}", want: "seed 42"},
		{name: "float", in: "{ratio}", want: "0.5"},
		{name: "bool", in: "{on}", want: "true"},
		{name: "nil is empty", in: "[{none}]", want: "[]"},
		{name: "object as JSON", in: "o={obj}", want: `o={"a":1}`},
		{name: "secret", in: "Bearer {token}", want: "Bearer s3cr3t", wantShown: "Bearer ***"},
		{name: "secret then text", in: "{token}/{client_id}", want: "s3cr3t/c-1", wantShown: "***/c-1"},
		{name: "escaped braces", in: "{{client_id}}", want: "{client_id}"},
		{name: "escape around placeholder", in: "{{{client_id}}}", want: "{c-1}"},
		{name: "lone open brace", in: "a{b", want: "a{b"},
		{name: "lone close brace", in: "a}b", want: "a}b"},
		{name: "empty braces stay", in: "/history/{}", want: "/history/{}"},
		{name: "space is not a name", in: "{ client_id }", want: "{ client_id }"},
		{name: "JSON stays", in: `{"a":{"b":1}}`, want: `{"a":{"b":1}}`},
		{name: "JSON with placeholder", in: `{"id":"{client_id}","o":{"b":1}}`,
			want: `{"id":"c-1","o":{"b":1}}`},
		{name: "placeholder inside braces", in: `{a:{client_id}}`, want: `{a:c-1}`},
		{name: "unterminated", in: "{client_id", want: "{client_id"},
		{name: "double close without open", in: "}}", want: "}}"},
		{name: "unicode", in: "é{client_id}ü", want: "éc-1ü"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tmpl := ParseTemplate(tt.in)
			got, err := tmpl.Resolve(context.Background(), testValues)
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Resolve(%q) = %q, want %q", tt.in, got, tt.want)
			}
			r, err := tmpl.render(context.Background(), testValues, nil, false)
			if err != nil {
				t.Fatal(err)
			}
			wantShown := tt.wantShown
			if wantShown == "" {
				wantShown = tt.want
			}
			if r.shown != wantShown {
				t.Errorf("shown %q = %q, want %q", tt.in, r.shown, wantShown)
			}
			if tmpl.String() != tt.in {
				t.Errorf("String() = %q, want %q", tmpl.String(), tt.in)
			}
		})
	}
}

func TestTemplateRefs(t *testing.T) {
	tmpl := ParseTemplate("{a}-{env:X}-{{b}}-{c.d-e_f}")
	want := []Ref{{Name: "a"}, {Name: "env", Arg: "X", HasArg: true}, {Name: "c.d-e_f"}}
	if got := tmpl.Refs(); !reflect.DeepEqual(got, want) {
		t.Errorf("Refs() = %v, want %v", got, want)
	}
	if !tmpl.Uses("env") || tmpl.Uses("b") {
		t.Errorf("Uses: env should be used, b (escaped) should not")
	}
	if _, ok := ParseTemplate("{a}").Single(); !ok {
		t.Error(`"{a}" should be a single placeholder`)
	}
	if _, ok := ParseTemplate(" {a}").Single(); ok {
		t.Error(`" {a}" is not a single placeholder`)
	}
}

func TestTemplateErrors(t *testing.T) {
	env := Env{Getenv: func(name string) (string, bool) { return "", false }}
	tests := []struct {
		name, in string
		lk       Lookup
		want     string
	}{
		{"unknown", "x{nope}", testValues, "{nope}: unknown placeholder"},
		{"unset env", "{env:NOPE_NOT_SET}", env,
			"{env:NOPE_NOT_SET}: environment variable NOPE_NOT_SET is not set"},
		{"env without name", "{env}", env, "{env}: needs a variable name, as in {env:NAME}"},
		{"argument to value", "{client_id:x}", &Values{}, "{client_id:x}: takes no argument"},
		{"chain says unknown", "{zzz}", Chain(&Values{}, env), "{zzz}: unknown placeholder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseTemplate(tt.in).Resolve(context.Background(), tt.lk)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Resolve(%q) error = %v, want %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestTemplateKeepUnknown(t *testing.T) {
	r, err := ParseTemplate("a {nope:x} {client_id}").render(context.Background(), testValues, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	if r.plain != "a {nope:x} c-1" {
		t.Errorf("got %q", r.plain)
	}
}

func TestEscapeTemplate(t *testing.T) {
	for _, s := range []string{
		"", "plain", "{client_id}", "{{", "}}", "{}}", "a{b}c}", `{"a":{"b":1}}`, "}{",
	} {
		esc := EscapeTemplate(s)
		got, ok := ParseTemplate(esc).Literal()
		if !ok || got != s {
			t.Errorf("EscapeTemplate(%q) = %q, which parses to %q (literal %v)", s, esc, got, ok)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret("hunter2")
	for _, got := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %s %q %x %#v %+v %d", s, s, s, s, s, s, s),
		fmt.Sprint(struct{ T Secret }{s}), fmt.Sprintf("%v", &Values{Token: s}),
	} {
		if strings.Contains(got, "hunter2") {
			t.Errorf("secret printed: %q", got)
		}
	}
	b, err := json.Marshal(map[string]any{"t": s})
	if err != nil || strings.Contains(string(b), "hunter2") {
		t.Errorf("secret in JSON: %s %v", b, err)
	}
	if s.Reveal() != "hunter2" {
		t.Error("Reveal must give the secret")
	}
}

func TestPayloadResolve(t *testing.T) {
	p, err := ParsePayloadJSON([]byte(`{
		"prompt": {"3": {"inputs": {"seed": "{seed}", "text": "a {client_id} b", "cfg": 7.5}}},
		"client_id": "{client_id}",
		"auth": "{token}",
		"list": ["{on}", "x", 1, null, {"{client_id}": "k"}],
		"raw": "{\"a\":{\"b\":1}}"
	}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Resolve(context.Background(), testValues, ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"prompt": map[string]any{"3": map[string]any{"inputs": map[string]any{
			"seed": 42, "text": "a c-1 b", "cfg": json.Number("7.5"),
		}}},
		"client_id": "c-1",
		"auth":      "s3cr3t",
		"list":      []any{true, "x", json.Number("1"), nil, map[string]any{"c-1": "k"}},
		"raw":       `{"a":{"b":1}}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %#v\nwant %#v", got, want)
	}

	shown, err := p.Resolve(context.Background(), testValues, ResolveOptions{Redact: true})
	if err != nil {
		t.Fatal(err)
	}
	if a := shown.(map[string]any)["auth"]; a != "***" {
		t.Errorf("redacted auth = %v", a)
	}
}

func TestPayloadAppendJSON(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"order and spacing of the text", `{"z": 1, "a": "{client_id}", "m": [true, null, 1.50]}`,
			`{"z":1,"a":"c-1","m":[true,null,1.50]}`},
		{"a lone placeholder keeps its type", `{"seed":"{seed}","on":"{on}","obj":"{obj}"}`,
			`{"seed":42,"on":true,"obj":{"a":1}}`},
		{"text is not HTML-escaped", `{"q":"a<b & {client_id}>"}`, `{"q":"a<b & c-1>"}`},
		{"a placeholder in a key", `{"{client_id}":1}`, `{"c-1":1}`},
		{"JSON in a string stays", `{"raw":"{\"a\":{\"b\":1}}"}`, `{"raw":"{\"a\":{\"b\":1}}"}`},
		{"a bare value", `"{seed}"`, `42`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ParsePayloadJSON([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.AppendJSON(context.Background(), nil, testValues, ResolveOptions{})
			if err != nil || string(got) != tt.want {
				t.Errorf("got %s, %v\nwant %s", got, err, tt.want)
			}
		})
	}
	p, _ := ParsePayloadJSON([]byte(`{"t":"Bearer {token}"}`))
	got, _ := p.AppendJSON(context.Background(), nil, testValues, ResolveOptions{Redact: true})
	if string(got) != `{"t":"Bearer ***"}` {
		t.Errorf("redacted: %s", got)
	}
}

func TestPayloadUnknown(t *testing.T) {
	p, err := ParsePayload(map[string]any{"a": "{nope}", "b": "x {nope2:y}"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Resolve(context.Background(), testValues, ResolveOptions{}); err == nil ||
		!errors.Is(err, ErrUnknownPlaceholder) {
		t.Fatalf("want an unknown-placeholder error, got %v", err)
	}
	got, err := p.Resolve(context.Background(), testValues, ResolveOptions{KeepUnknown: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"a": "{nope}", "b": "x {nope2:y}"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestPayloadResolveDoesNotShare(t *testing.T) {
	p, err := ParsePayload(map[string]any{"a": []any{"x"}, "b": map[string]any{"c": 1}})
	if err != nil {
		t.Fatal(err)
	}
	first, _ := p.Resolve(context.Background(), testValues, ResolveOptions{})
	first.(map[string]any)["a"].([]any)[0] = "changed"
	first.(map[string]any)["b"].(map[string]any)["c"] = 2
	second, _ := p.Resolve(context.Background(), testValues, ResolveOptions{})
	want := map[string]any{"a": []any{"x"}, "b": map[string]any{"c": 1}}
	if !reflect.DeepEqual(second, want) {
		t.Errorf("changing one result changed the next: %v", second)
	}
}

func TestParsePayloadErrors(t *testing.T) {
	if _, err := ParsePayload(map[string]any{"a": []any{struct{}{}}}); err == nil ||
		err.Error() != "payload: a[0]: a value of type struct {} is not JSON data" {
		t.Errorf("got %v", err)
	}
	if _, err := ParsePayloadJSON([]byte(`{} {}`)); err == nil {
		t.Error("two JSON values should be an error")
	}
	if _, err := ParsePayloadJSON([]byte(`{`)); err == nil {
		t.Error("truncated JSON should be an error")
	}
}

// FuzzTemplate checks, for any text, that parsing never fails or panics,
// that the parsed placeholders are well formed, that resolving with each
// placeholder written back as itself gives a stable result, and that
// EscapeTemplate makes text that resolves to exactly the input.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		"", "{client_id}", "a{b:c}d", "{{x}}", "{{{x}}}", `{"a":{"b":1}}`, "}{", "{a:}", "{env:HOME}",
		"{a:{b}}", "{{}}}", "\xff{x}",
	} {
		f.Add(s)
	}
	echo := LookupFunc(func(_ context.Context, name, arg string) (any, error) {
		return Ref{Name: name, Arg: arg, HasArg: arg != ""}.String(), nil
	})
	f.Fuzz(func(t *testing.T, s string) {
		tmpl := ParseTemplate(s)
		for _, r := range tmpl.Refs() {
			if r.Name == "" || strings.ContainsAny(r.Name+r.Arg, "{}") {
				t.Fatalf("malformed ref %#v from %q", r, s)
			}
		}
		if _, err := tmpl.Resolve(context.Background(), echo); err != nil {
			t.Fatalf("Resolve(%q): %v", s, err)
		}
		if lit, ok := ParseTemplate(EscapeTemplate(s)).Literal(); !ok || lit != s {
			t.Fatalf("escape round trip of %q gave %q (literal %v)", s, lit, ok)
		}
		if !strings.ContainsAny(s, "{}") {
			if lit, ok := tmpl.Literal(); !ok || lit != s {
				t.Fatalf("text without braces must be its own literal: %q", s)
			}
		}
	})
}

// FuzzPayloadJSON: any JSON text parses or is refused, and what a parsed
// payload resolves to is valid JSON with the same shape.
func FuzzPayloadJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":"{client_id}","b":[1,2.50,"x{seed}y"]}`, `"{seed}"`, `[]`, `{"{k}":{"n":null}}`,
		`{"raw":"{\"a\":1}"}`, `1e400`, `{"a":1} x`,
	} {
		f.Add([]byte(s))
	}
	lk := LookupFunc(func(_ context.Context, name, arg string) (any, error) {
		return name + arg, nil
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePayloadJSON(data)
		if err != nil {
			return
		}
		out, err := p.AppendJSON(context.Background(), nil, lk, ResolveOptions{})
		if err != nil {
			return // a number JSON cannot write back, say
		}
		if !json.Valid(out) {
			t.Fatalf("%q resolved to invalid JSON %q", data, out)
		}
		var in, got any
		json.Unmarshal(data, &in)
		json.Unmarshal(out, &got)
		if reflect.TypeOf(in) != reflect.TypeOf(got) && !bytes.Contains(data, []byte("{")) {
			t.Fatalf("%q changed shape: %T to %T", data, in, got)
		}
	})
}
