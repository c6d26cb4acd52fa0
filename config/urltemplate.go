package config

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// urlTemplate is a URL template cut where its own text puts the URL's
// structure, so that no placeholder's value can move it:
//
//   - head, the scheme and authority, up to the first '/', '?' or '#' after
//     "://" (or after a placeholder, which may give the whole URL). Its
//     placeholders give structure (a host, a port, a whole URL) and go in as
//     they are.
//   - path, whose placeholders are path-escaped: a value is one segment,
//     whatever '/', '?' or '#' it holds.
//   - query, item by item, whose placeholders are query-escaped.
//
// A fragment is dropped: it never goes on the wire.
//
// TODO: a value that is a whole path segment of "." or ".." goes in as it
// is, and a server that cleans paths then moves up a level; escaping cannot
// stop that (servers decode %2E too), and no config needs such a value yet.
type urlTemplate struct {
	head, path Template
	query      []queryItem
	// parsed is head and path parsed, when neither has a placeholder.
	parsed *url.URL
}

// queryItem is one key=value of the URL's own query, as written.
type queryItem struct {
	key, value Template
	eq         bool // written with '=': "flag" is kept as "flag"
}

// splitURL cuts t into its parts (see urlTemplate). Literal text in the
// path and query that a URL cannot carry as it is (a space, a non-ASCII
// byte) is percent-encoded, so that the URL keeps the exact escaping of the
// rest.
func splitURL(t Template) urlTemplate {
	const (
		inHead = iota
		inPath
		inQuery
		inFragment
	)
	var (
		head, path, key, value []part
		items                  []queryItem
		state                  = inHead
		scheme, headRef, eq    bool // head: "://" seen, a placeholder seen; item: '=' seen
	)
	endItem := func() {
		if len(key) > 0 || len(value) > 0 || eq {
			items = append(items, queryItem{templateOf(key), templateOf(value), eq})
		}
		key, value, eq = nil, nil, false
	}
	for _, p := range t.parts {
		if p.ref != nil {
			switch {
			case state == inHead:
				head, headRef = append(head, p), true
			case state == inPath:
				path = append(path, p)
			case state == inQuery && eq:
				value = append(value, p)
			case state == inQuery:
				key = append(key, p)
			}
			continue
		}
		s := p.text
		for i := 0; i < len(s) && state != inFragment; i++ {
			c := s[i]
			switch state {
			case inHead:
				switch {
				case !scheme && strings.HasPrefix(s[i:], "://"):
					head, scheme = addText(head, "://", false), true
					i += 2
				case (scheme || headRef) && c == '/':
					state, path = inPath, addText(path, "/", false)
				case (scheme || headRef) && c == '?':
					state = inQuery
				case (scheme || headRef) && c == '#':
					state = inFragment
				default:
					head = addText(head, s[i:i+1], false)
				}
			case inPath:
				switch c {
				case '?':
					state = inQuery
				case '#':
					state = inFragment
				default:
					path = addText(path, s[i:i+1], true)
				}
			case inQuery:
				switch {
				case c == '#':
					state = inFragment
				case c == '&':
					endItem()
				case c == '=' && !eq:
					eq = true
				case eq:
					value = addText(value, s[i:i+1], true)
				default:
					key = addText(key, s[i:i+1], true)
				}
			}
		}
	}
	endItem()
	return urlTemplate{head: templateOf(head), path: templateOf(path), query: items}
}

// addText appends literal text to parts, percent-encoding (with encode)
// each byte a URL cannot carry as it is.
func addText(parts []part, s string, encode bool) []part {
	if encode && !urlSafe(s[0]) {
		s = fmt.Sprintf("%%%02X", s[0])
	}
	if n := len(parts); n > 0 && parts[n-1].ref == nil {
		parts[n-1].text += s
		return parts
	}
	return append(parts, part{text: s})
}

// urlSafe reports whether c may stand as it is in a URL's path or query:
// unreserved, a sub-delimiter, ':', '@', '/', '?', or '%' (an escape,
// checked when the URL is parsed).
func urlSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/?%", c) >= 0
}

// templateOf makes a template of parts cut from another.
func templateOf(parts []part) Template {
	var raw strings.Builder
	for _, p := range parts {
		if p.ref != nil {
			raw.WriteString(p.ref.String())
		} else {
			raw.WriteString(EscapeTemplate(p.text))
		}
	}
	return Template{raw: raw.String(), parts: parts}
}

// renderPart resolves one part of a URL template, each placeholder's value
// through esc.
func renderPart(ctx context.Context, t Template, lk Lookup,
	esc func(string) string) (rendered, error) {
	if s, ok := t.Literal(); ok {
		return rendered{plain: s, shown: s}, nil
	}
	return t.render(ctx, lk, esc, false)
}

// query is an ordered list of query parameters, each in two forms.
type query []queryParam

// queryParam is one parameter: either as the URL writes it (raw: text is
// "k=v" or "k", escaped as written) or a name and a value to escape.
type queryParam struct {
	key  string // unescaped, to compare
	raw  bool
	text rendered // when raw
	val  rendered // when not raw: unescaped
	// empty says the parameter has no value; from is the template that
	// gave the value, if one did.
	empty bool
	from  *Template
}

// ownQuery resolves the URL's own query items, in order; each placeholder's
// value is query-escaped.
func (u *urlTemplate) ownQuery(ctx context.Context, lk Lookup, q query) (query, error) {
	for i := range u.query {
		it := &u.query[i]
		k, err := renderPart(ctx, it.key, lk, url.QueryEscape)
		if err != nil {
			return nil, err
		}
		v, err := renderPart(ctx, it.value, lk, url.QueryEscape)
		if err != nil {
			return nil, err
		}
		if k.plain == "" && v.plain == "" && !it.eq {
			continue
		}
		text := k
		if it.eq {
			text = rendered{
				plain: k.plain + "=" + v.plain, shown: k.shown + "=" + v.shown,
				secret: k.secret || v.secret,
			}
		}
		key, err := url.QueryUnescape(k.plain)
		if err != nil {
			return nil, badEscape(k)
		}
		q = append(q, queryParam{
			key: key, raw: true, text: text, empty: v.plain == "", from: &it.value,
		})
	}
	return q, nil
}

// splitQuery reads a raw query that a placeholder in the URL's head gave,
// as written; shown is its redacted form when a secret took part.
func splitQuery(raw, shown string, secret bool) (query, error) {
	var q query
	items := strings.Split(raw, "&")
	shownItems := strings.Split(shown, "&")
	for i, kv := range items {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		text := rendered{plain: kv, shown: kv, secret: secret}
		if secret {
			text.shown = redacted
			if len(shownItems) == len(items) {
				text.shown = shownItems[i]
			}
		}
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, badEscape(rendered{plain: k, shown: k, secret: secret})
		}
		q = append(q, queryParam{key: key, raw: true, text: text, empty: v == ""})
	}
	return q, nil
}

// badEscape is the error for a query key that is not a valid escape; it
// quotes the key unless a secret took part in it.
func badEscape(k rendered) error {
	if k.secret {
		return errors.New("a query key is not validly %-escaped (not shown: it holds a secret)")
	}
	return fmt.Errorf("query key %q is not validly %%-escaped", k.plain)
}

// index is the place of the first parameter named key, or -1.
func (q query) index(key string) int {
	for i := range q {
		if q[i].key == key {
			return i
		}
	}
	return -1
}

// uses reports whether a parameter's value comes from a template with the
// placeholder.
func (q query) uses(placeholder string) bool {
	for i := range q {
		if q[i].from != nil && q[i].from.Uses(placeholder) {
			return true
		}
	}
	return false
}

// set gives key the value: in place of the first parameter of that name, or
// at the end. from is the template of the value, if one gave it.
func (q *query) set(key string, v rendered, from *Template) {
	p := queryParam{key: key, val: v, empty: v.plain == "", from: from}
	if i := q.index(key); i >= 0 {
		(*q)[i] = p
		return
	}
	*q = append(*q, p)
}

func (q query) secret() bool {
	for i := range q {
		if q[i].val.secret || q[i].text.secret {
			return true
		}
	}
	return false
}

// encode writes the query; shown writes the redacted form, where *** stays
// readable.
func (q query) encode(shown bool) string {
	var b strings.Builder
	n := 0
	for _, p := range q {
		n += len(p.key) + len(p.val.plain) + len(p.text.plain) + 2
	}
	b.Grow(n + n/4)
	for i, p := range q {
		if i > 0 {
			b.WriteByte('&')
		}
		switch {
		case p.raw && shown:
			b.WriteString(p.text.shown)
		case p.raw:
			b.WriteString(p.text.plain)
		default:
			b.WriteString(url.QueryEscape(p.key))
			b.WriteByte('=')
			if !shown {
				b.WriteString(url.QueryEscape(p.val.plain))
				continue
			}
			b.WriteString(strings.ReplaceAll(url.QueryEscape(p.val.shown), "%2A%2A%2A", redacted))
		}
	}
	return b.String()
}
