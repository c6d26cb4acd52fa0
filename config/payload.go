package config

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
)

// Payload is a JSON-shaped value (what YAML or JSON decodes to) whose strings
// may hold placeholders. It is parsed once and resolved per message.
type Payload struct {
	root pnode
}

// pnode is one node of a parsed payload: exactly one field is in use.
type pnode struct {
	scalar any      // a value without placeholders
	tmpl   Template // a string with placeholders
	list   []pnode
	obj    []pfield
	kind   pkind
}

type pkind uint8

const (
	pScalar pkind = iota
	pTemplate
	pList
	pObject
)

type pfield struct {
	key   Template
	value pnode
}

// ParsePayload parses a decoded value: nil, bool, a number, string, []any,
// or a map with string keys.
func ParsePayload(v any) (*Payload, error) {
	root, err := parsePayloadNode(v, "")
	if err != nil {
		return nil, err
	}
	return &Payload{root: root}, nil
}

// ParsePayloadJSON parses a JSON document. Numbers keep their exact text
// and objects their member order, which AppendJSON writes back.
func ParsePayloadJSON(data []byte) (*Payload, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	root, err := parseJSONNode(dec)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("payload: more than one JSON value")
	}
	return &Payload{root: root}, nil
}

// parseJSONNode reads one value from the decoder's tokens, keeping the
// order of object members.
func parseJSONNode(dec *json.Decoder) (pnode, error) {
	tok, err := dec.Token()
	if err != nil {
		return pnode{}, err
	}
	switch t := tok.(type) {
	case json.Delim:
		if t == '[' {
			n := pnode{kind: pList}
			for dec.More() {
				c, err := parseJSONNode(dec)
				if err != nil {
					return pnode{}, err
				}
				n.list = append(n.list, c)
			}
			_, err := dec.Token() // ]
			return n, err
		}
		n := pnode{kind: pObject}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return pnode{}, err
			}
			c, err := parseJSONNode(dec)
			if err != nil {
				return pnode{}, err
			}
			n.obj = append(n.obj, pfield{key: ParseTemplate(k.(string)), value: c})
		}
		_, err := dec.Token() // }
		return n, err
	}
	return parsePayloadNode(tok, "")
}

func parsePayloadNode(v any, path string) (pnode, error) {
	switch v := v.(type) {
	case string:
		t := ParseTemplate(v)
		if s, ok := t.Literal(); ok {
			return pnode{kind: pScalar, scalar: s}, nil
		}
		return pnode{kind: pTemplate, tmpl: t}, nil
	case nil, bool, int, int64, uint64, float64, json.Number:
		return pnode{kind: pScalar, scalar: v}, nil
	case []any:
		n := pnode{kind: pList, list: make([]pnode, len(v))}
		for i, item := range v {
			c, err := parsePayloadNode(item, path+"["+strconv.Itoa(i)+"]")
			if err != nil {
				return pnode{}, err
			}
			n.list[i] = c
		}
		return n, nil
	case map[string]any:
		n := pnode{kind: pObject, obj: make([]pfield, 0, len(v))}
		for _, k := range sortedKeys(v) {
			c, err := parsePayloadNode(v[k], join(path, k))
			if err != nil {
				return pnode{}, err
			}
			n.obj = append(n.obj, pfield{key: ParseTemplate(k), value: c})
		}
		return n, nil
	}
	where := path
	if where == "" {
		where = "the top"
	}
	return pnode{}, fmt.Errorf("payload: %s: a value of type %T is not JSON data", where, v)
}

// Refs returns every placeholder in the payload, keys included.
func (p *Payload) Refs() []Ref {
	var refs []Ref
	var walk func(n *pnode)
	walk = func(n *pnode) {
		switch n.kind {
		case pTemplate:
			refs = append(refs, n.tmpl.Refs()...)
		case pList:
			for i := range n.list {
				walk(&n.list[i])
			}
		case pObject:
			for i := range n.obj {
				refs = append(refs, n.obj[i].key.Refs()...)
				walk(&n.obj[i].value)
			}
		}
	}
	walk(&p.root)
	return refs
}

// ResolveOptions change how a payload resolves.
type ResolveOptions struct {
	// KeepUnknown leaves a placeholder no Lookup knows as it is written,
	// as ad_discordbot does, instead of failing.
	KeepUnknown bool
	// Redact writes every secret as "***": for showing a payload to people.
	Redact bool
}

// Resolve returns a new value with every placeholder resolved. A string that
// is exactly one placeholder takes the value's own type (a number stays a
// number); any other string with placeholders resolves to text. Secrets are
// written in full unless opts.Redact.
func (p *Payload) Resolve(ctx context.Context, lk Lookup, opts ResolveOptions) (any, error) {
	return p.root.resolve(ctx, lk, opts)
}

func (n *pnode) resolve(ctx context.Context, lk Lookup, opts ResolveOptions) (any, error) {
	switch n.kind {
	case pScalar:
		return n.scalar, nil
	case pTemplate:
		if ref, ok := n.tmpl.Single(); ok {
			return resolveSingle(ctx, lk, ref, opts)
		}
		return resolveText(ctx, n.tmpl, lk, opts)
	case pList:
		out := make([]any, len(n.list))
		for i := range n.list {
			v, err := n.list[i].resolve(ctx, lk, opts)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	out := make(map[string]any, len(n.obj))
	for i := range n.obj {
		f := &n.obj[i]
		key, err := resolveText(ctx, f.key, lk, opts)
		if err != nil {
			return nil, err
		}
		v, err := f.value.resolve(ctx, lk, opts)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	return out, nil
}

// resolveText resolves a template to text: the wire's, or with secrets
// redacted when opts say so.
func resolveText(ctx context.Context, t Template, lk Lookup, opts ResolveOptions) (string, error) {
	if s, ok := t.Literal(); ok {
		return s, nil
	}
	r, err := t.render(ctx, lk, nil, opts.KeepUnknown)
	if err != nil {
		return "", err
	}
	if opts.Redact {
		return r.shown, nil
	}
	return r.plain, nil
}

// resolveSingle resolves a string that is one placeholder to the value
// itself.
func resolveSingle(ctx context.Context, lk Lookup, ref Ref, opts ResolveOptions) (any, error) {
	v, err := lk.Lookup(ctx, ref.Name, ref.Arg)
	if err != nil {
		if opts.KeepUnknown && errors.Is(err, ErrUnknownPlaceholder) {
			return ref.String(), nil
		}
		return nil, refError(ref, err)
	}
	if s, ok := v.(Secret); ok {
		if opts.Redact {
			return redacted, nil
		}
		return s.Reveal(), nil
	}
	return v, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// AppendJSON resolves the payload and appends it to dst as JSON, members in
// the order the payload has them (for one parsed from JSON text, the
// text's own order).
func (p *Payload) AppendJSON(
	ctx context.Context,
	dst []byte,
	lk Lookup,
	opts ResolveOptions,
) ([]byte, error) {
	return p.root.appendJSON(ctx, dst, lk, opts)
}

func (n *pnode) appendJSON(
	ctx context.Context,
	dst []byte,
	lk Lookup,
	opts ResolveOptions,
) ([]byte, error) {
	switch n.kind {
	case pList:
		dst = append(dst, '[')
		for i := range n.list {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = n.list[i].appendJSON(ctx, dst, lk, opts); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case pObject:
		dst = append(dst, '{')
		for i := range n.obj {
			if i > 0 {
				dst = append(dst, ',')
			}
			f := &n.obj[i]
			key, err := resolveText(ctx, f.key, lk, opts)
			if err != nil {
				return nil, err
			}
			if dst, err = appendMarshal(dst, key); err != nil {
				return nil, err
			}
			dst = append(dst, ':')
			if dst, err = f.value.appendJSON(ctx, dst, lk, opts); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	v, err := n.resolve(ctx, lk, opts)
	if err != nil {
		return nil, err
	}
	return appendMarshal(dst, v)
}

// appendMarshal appends v as JSON, without escaping <, > and &, so that
// text passes as it was written.
func appendMarshal(dst []byte, v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...), nil
}
