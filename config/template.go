package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// ErrUnknownPlaceholder is returned, wrapped, by a Lookup that does not know a
// placeholder's name. Chain moves on to the next Lookup when it sees it.
var ErrUnknownPlaceholder = errors.New("unknown placeholder")

// Lookup gives the value of a placeholder. A value is a string, a Secret, a
// bool, a number, nil, or JSON-shaped data ([]any, map[string]any); in text it
// is written as itself, in a payload a lone placeholder keeps its type.
type Lookup interface {
	Lookup(ctx context.Context, name, arg string) (any, error)
}

// LookupFunc adapts a function to Lookup.
type LookupFunc func(ctx context.Context, name, arg string) (any, error)

// Lookup calls f.
func (f LookupFunc) Lookup(ctx context.Context, name, arg string) (any, error) {
	return f(ctx, name, arg)
}

// Chain asks each Lookup in turn and returns the first answer that is not
// ErrUnknownPlaceholder.
func Chain(lookups ...Lookup) Lookup {
	return chain(lookups)
}

type chain []Lookup

func (c chain) Lookup(ctx context.Context, name, arg string) (any, error) {
	for _, l := range c {
		if l == nil {
			continue
		}
		v, err := l.Lookup(ctx, name, arg)
		if !errors.Is(err, ErrUnknownPlaceholder) {
			return v, err
		}
	}
	return nil, ErrUnknownPlaceholder
}

// Ref is one placeholder in a template: {Name} or {Name:Arg}.
type Ref struct {
	Name string
	Arg  string
	// HasArg tells {Name:} (an empty Arg) from {Name}.
	HasArg bool
}

// String returns the placeholder as it is written.
func (r Ref) String() string {
	if r.HasArg {
		return "{" + r.Name + ":" + r.Arg + "}"
	}
	return "{" + r.Name + "}"
}

// Template is text with placeholders, parsed once and resolved many times.
//
// {name} and {name:arg} are placeholders, where name is letters, digits, '_',
// '.' and '-', and arg is any text without braces. "{{" writes a literal '{',
// and after one, "}}" writes the matching literal '}'. Every other brace that
// does not form a placeholder is kept as written, so JSON inside a string
// passes through unchanged. Parsing cannot fail: what is not a placeholder is
// text.
type Template struct {
	raw   string
	parts []part
}

type part struct {
	text string // literal text when ref is nil
	ref  *Ref
}

// ParseTemplate parses s.
func ParseTemplate(s string) Template {
	t := Template{raw: s}
	if strings.IndexAny(s, "{}") < 0 {
		if s != "" {
			t.parts = []part{{text: s}}
		}
		return t
	}
	var text strings.Builder
	flush := func() {
		if text.Len() > 0 {
			t.parts = append(t.parts, part{text: text.String()})
			text.Reset()
		}
	}
	open := 0 // "{{" escapes waiting for their "}}"
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{':
			text.WriteByte('{')
			open++
			i += 2
		case c == '}' && open > 0 && i+1 < len(s) && s[i+1] == '}':
			text.WriteByte('}')
			open--
			i += 2
		case c == '{':
			ref, n := scanRef(s[i:])
			if n == 0 {
				text.WriteByte(c)
				i++
				continue
			}
			flush()
			t.parts = append(t.parts, part{ref: &ref})
			i += n
		default:
			text.WriteByte(c)
			i++
		}
	}
	flush()
	return t
}

// scanRef reads a placeholder at the start of s and returns it with its
// length, or a zero length when s does not start with one.
func scanRef(s string) (Ref, int) {
	i := 1
	for i < len(s) && isNameByte(s[i]) {
		i++
	}
	if i == 1 || i == len(s) {
		return Ref{}, 0
	}
	name := s[1:i]
	if s[i] == '}' {
		return Ref{Name: name}, i + 1
	}
	if s[i] != ':' {
		return Ref{}, 0
	}
	end := strings.IndexAny(s[i+1:], "{}")
	if end < 0 || s[i+1+end] != '}' {
		return Ref{}, 0
	}
	arg := s[i+1 : i+1+end]
	return Ref{Name: name, Arg: arg, HasArg: true}, i + 1 + end + 1
}

func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		c == '_' || c == '.' || c == '-'
}

// EscapeTemplate returns a template that resolves to s exactly.
func EscapeTemplate(s string) string {
	var b strings.Builder
	open := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '{':
			b.WriteString("{{")
			open++
		case c == '}' && open > 0:
			b.WriteString("}}")
			open--
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// String returns the template as it was written.
func (t Template) String() string { return t.raw }

// Refs returns the template's placeholders in order.
func (t Template) Refs() []Ref {
	var refs []Ref
	for _, p := range t.parts {
		if p.ref != nil {
			refs = append(refs, *p.ref)
		}
	}
	return refs
}

// Uses reports whether the template has a placeholder with the given name.
func (t Template) Uses(name string) bool {
	for _, p := range t.parts {
		if p.ref != nil && p.ref.Name == name {
			return true
		}
	}
	return false
}

// Single returns the template's placeholder when the template is exactly one
// placeholder and nothing else.
func (t Template) Single() (Ref, bool) {
	if len(t.parts) == 1 && t.parts[0].ref != nil {
		return *t.parts[0].ref, true
	}
	return Ref{}, false
}

// Literal returns the template's text when it has no placeholder.
func (t Template) Literal() (string, bool) {
	switch {
	case len(t.parts) == 0:
		return "", true
	case len(t.parts) == 1 && t.parts[0].ref == nil:
		return t.parts[0].text, true
	}
	return "", false
}

// ResolvePath is Resolve for a URL path: each placeholder's value is
// path-escaped, so "/history/{id}" stays one path whatever the id holds.
func (t Template) ResolvePath(ctx context.Context, lk Lookup) (string, error) {
	if s, ok := t.Literal(); ok {
		return s, nil
	}
	r, err := t.render(ctx, lk, url.PathEscape, false)
	return r.plain, err
}

// Resolve returns the template's text with every placeholder replaced by its
// value from lk.
func (t Template) Resolve(ctx context.Context, lk Lookup) (string, error) {
	if s, ok := t.Literal(); ok {
		return s, nil
	}
	r, err := t.render(ctx, lk, nil, false)
	return r.plain, err
}

// rendered is a resolved template in two forms: plain, as it goes on the
// wire, and shown, with every secret part replaced by "***", as it goes in
// front of people. shown is plain when no secret took part.
type rendered struct {
	plain, shown string
	secret       bool
}

const redacted = "***"

// render resolves the template, passing every placeholder's value through
// esc (nil: unchanged), as a URL path escapes what it puts between its
// slashes. With verbatim, a placeholder lk does not know is kept as
// written.
func (t Template) render(ctx context.Context, lk Lookup, esc func(string) string,
	verbatim bool) (rendered, error) {
	if esc == nil {
		esc = noEscape
	}
	var plain, shown strings.Builder
	plain.Grow(len(t.raw) + 32)
	secret := false
	for _, p := range t.parts {
		if p.ref == nil {
			plain.WriteString(p.text)
			if secret {
				shown.WriteString(p.text)
			}
			continue
		}
		v, err := lk.Lookup(ctx, p.ref.Name, p.ref.Arg)
		if err != nil {
			if verbatim && errors.Is(err, ErrUnknownPlaceholder) {
				v = p.ref.String()
			} else {
				return rendered{}, refError(*p.ref, err)
			}
		}
		s, isSecret, err := formatValue(v)
		if err != nil {
			return rendered{}, refError(*p.ref, err)
		}
		s = esc(s)
		if isSecret && !secret {
			secret = true
			shown.WriteString(plain.String())
		}
		plain.WriteString(s)
		if isSecret {
			shown.WriteString(redacted)
		} else if secret {
			shown.WriteString(s)
		}
	}
	r := rendered{plain: plain.String(), secret: secret}
	r.shown = r.plain
	if secret {
		r.shown = shown.String()
	}
	return r, nil
}

func noEscape(s string) string { return s }

// refError names the placeholder in err.
func refError(r Ref, err error) error {
	return fmt.Errorf("%s: %w", r, err)
}

// formatValue writes a placeholder's value as text.
func formatValue(v any) (s string, secret bool, err error) {
	switch v := v.(type) {
	case string:
		return v, false, nil
	case Secret:
		return string(v), true, nil
	case nil:
		return "", false, nil
	case bool:
		return strconv.FormatBool(v), false, nil
	case int:
		return strconv.Itoa(v), false, nil
	case int64:
		return strconv.FormatInt(v, 10), false, nil
	case uint64:
		return strconv.FormatUint(v, 10), false, nil
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), false, nil
	case json.Number:
		return v.String(), false, nil
	case []byte:
		return string(v), false, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false, fmt.Errorf("value of type %T cannot be written as text: %w", v, err)
	}
	return string(b), false, nil
}
