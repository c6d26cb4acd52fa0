package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestParsePath checks how dotted paths are split and which segments can
// index arrays.
func TestParsePath(t *testing.T) {
	tests := []struct {
		name  string
		path  string
		want  []segment
		error string
	}{
		{name: "one key", path: "type", want: []segment{{"type", -1}}},
		{name: "nested", path: "data.items.10.id",
			want: []segment{{"data", -1}, {"items", -1}, {"10", 10}, {"id", -1}}},
		{name: "not an index", path: "a.-1.1x",
			want: []segment{{"a", -1}, {"-1", -1}, {"1x", -1}}},
		{name: "empty", path: "", error: "empty"},
		{name: "empty segment", path: "a..b", error: `"a..b" has an empty segment`},
		{name: "trailing dot", path: "a.", error: "empty segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePath(tt.path)
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Errorf("parsePath(%q) error %v, want %q", tt.path, err, tt.error)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parsePath(%q) = %v, %v; want %v", tt.path, got, err, tt.want)
			}
		})
	}
}

// TestWalk checks which values a path finds, as text, in documents with
// the cases a scanner gets wrong: strings holding brackets and quotes,
// escaped keys, white space, arrays, repeated keys.
func TestWalk(t *testing.T) {
	doc := ` { "type" : "status", "data": {"sid": "a}\"]b", "n": -1.5e3,
		"items": [ {"id": 1}, [2, 3], {"id": "x", "secret": null} ] },
		"k\u0065y": true, "dup": 1, "dup": {"x": 2}, "0": "zero", "last": 7 } `
	tests := []struct {
		name string
		doc  string
		path string
		want []string // the values found, as text
	}{
		{name: "top level", doc: doc, path: "type", want: []string{`"status"`}},
		{name: "nested string", doc: doc, path: "data.sid", want: []string{`"a}\"]b"`}},
		{name: "number", doc: doc, path: "data.n", want: []string{`-1.5e3`}},
		{name: "last member", doc: doc, path: "last", want: []string{`7`}},
		{name: "object", doc: doc, path: "data.items.0", want: []string{`{"id": 1}`}},
		{name: "array in array", doc: doc, path: "data.items.1.1", want: []string{`3`}},
		{name: "past an array", doc: doc, path: "data.items.2.secret",
			want: []string{`null`}},
		{name: "escaped key", doc: doc, path: "key", want: []string{`true`}},
		{name: "repeated key", doc: doc, path: "dup", want: []string{`1`, `{"x": 2}`}},
		{name: "digit key of an object", doc: doc, path: "0", want: []string{`"zero"`}},
		{name: "absent", doc: doc, path: "data.nope"},
		{name: "index too large", doc: doc, path: "data.items.3"},
		{name: "key of an array", doc: doc, path: "data.items.id"},
		{name: "into a string", doc: doc, path: "type.x"},
		{name: "empty object", doc: `{}`, path: "a"},
		{name: "empty array", doc: `{"a":[]}`, path: "a.0"},
		{name: "not an object", doc: `[1,2]`, path: "0", want: []string{`1`}},
		{name: "scalar document", doc: `"type"`, path: "type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !json.Valid([]byte(tt.doc)) {
				t.Fatalf("test document is not JSON: %s", tt.doc)
			}
			path, err := parsePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			b := []byte(tt.doc)
			walk(b, 0, path, func(s span) { got = append(got, string(b[s.start:s.end])) })
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("walk(%s) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

// FuzzLookup checks lookup against encoding/json: the value lookup finds,
// decoded, must be the value that decoding the whole document and walking
// the path gives. Its seeds run with go test.
func FuzzLookup(f *testing.F) {
	f.Add(`{"a":{"b":[1,{"c":"d"}]}}`, "a.b.1.c")
	f.Add(`{"a":"x\"y","b":{}}`, "a")
	f.Add(` [ {"a" : 1 } , 2 ] `, "0.a")
	f.Add(`{"a":1,"a":2}`, "a")
	f.Add(`{"\u0061":[true,false,null]}`, "a.2")
	f.Fuzz(func(t *testing.T, doc, p string) {
		b := []byte(doc)
		if !json.Valid(b) {
			return
		}
		path, err := parsePath(p)
		if err != nil {
			return
		}
		var whole any
		if err := json.Unmarshal(b, &whole); err != nil {
			return // e.g. a number too large for float64
		}
		want, wantOK := follow(whole, path)
		at, ok := lookup(b, path)
		if ok != wantOK {
			t.Fatalf("lookup(%s, %s) found %v, encoding/json %v", doc, p, ok, wantOK)
		}
		if !ok {
			return
		}
		var got any
		if err := json.Unmarshal(b[at.start:at.end], &got); err != nil {
			t.Fatalf("lookup(%s, %s) = %q, not a JSON value: %v",
				doc, p, b[at.start:at.end], err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("lookup(%s, %s) = %v, encoding/json %v", doc, p, got, want)
		}
	})
}

// follow walks a decoded document along path, as lookup walks the text.
func follow(v any, path []segment) (any, bool) {
	for _, s := range path {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[s.key]; !ok {
				return nil, false
			}
		case []any:
			if s.index < 0 || s.index >= len(x) {
				return nil, false
			}
			v = x[s.index]
		default:
			return nil, false
		}
	}
	return v, true
}

// FuzzRedact checks that redacting valid JSON at any path gives valid JSON
// in which that path, if it was there, now holds the mask.
func FuzzRedact(f *testing.F) {
	f.Add(`{"a":{"b":[1,{"c":"d"}]}}`, "a.b.1")
	f.Add(`{"a":1,"a":{"a":2}}`, "a")
	f.Add(`[[0],[1,[2]]]`, "1.1.0")
	f.Fuzz(func(t *testing.T, doc, p string) {
		path, err := parsePath(p)
		if err != nil || !json.Valid([]byte(doc)) {
			return
		}
		tr := &transforms{redactPaths: [][]segment{path}, mask: quote("***")}
		v, out, err := tr.redact([]byte(doc), false, false)
		if err != nil {
			t.Fatal(err)
		}
		if v == pass {
			return
		}
		if !json.Valid(out) {
			t.Fatalf("redact(%s, %s) = %s, not JSON", doc, p, out)
		}
		var whole any
		if json.Unmarshal(out, &whole) != nil {
			return
		}
		if got, ok := follow(whole, path); ok && got != "***" {
			t.Fatalf("redact(%s, %s) = %s: %v at the path", doc, p, out, got)
		}
	})
}
