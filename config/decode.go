package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// source is what decoding learnt about the file besides its data: where each
// key is, and the problems that only the YAML shows (wrong types, unknown
// keys). Validation adds its own problems to these.
type source struct {
	file     string
	pos      map[string]Pos
	problems []Problem
	// listKey is how the file named the list of APIs: apis or all_apis.
	listKey string
}

// has reports whether the file sets the key at path.
func (s *source) has(path string) bool {
	_, ok := s.pos[path]
	return ok
}

// Keys of the top level, besides the lists wsplug reads, that ad_discordbot's
// settings file has and wsplug ignores.
var botTopKeys = []string{"bot_api_functions", "misc_api_functions", "presets", "workflows"}

// Keys of an endpoint that only ad_discordbot reads.
var botEndpointKeys = []string{
	"payload_base", "payload", "response_type", "response_handling", "path_vars",
	"stream", "preset",
}

type decoder struct {
	src      *source
	warnings []Problem
	// botUses counts each bot-only key, to report it once with its count.
	botUses  map[string]int
	botFirst map[string]int // index in warnings
	// expanded counts the values that aliases and merge keys bring in;
	// past maxExpanded, decoding stops bringing more (see spend).
	expanded int
	exceeded bool
}

// maxExpanded bounds the values that aliases and merge keys may bring into
// the data, so that a few hundred bytes of nested aliases (a "billion
// laughs") cannot cost the time and memory of millions of values. A file
// that reuses an anchor, even many times over, stays far below it.
const maxExpanded = 10000

// decode turns the YAML document into a File, recording every problem that
// decoding finds instead of stopping at the first.
func decode(name string, data []byte) (*File, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil && !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, data, err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != nil && !errors.Is(err, io.EOF) {
		return nil, syntaxError(name, data, err)
	}
	src := &source{file: name, pos: map[string]Pos{}, listKey: "apis"}
	d := &decoder{src: src, botUses: map[string]int{}, botFirst: map[string]int{}}
	f := &File{Path: name, src: src}
	if !emptyDocument(&next) {
		d.problem(posOf(&next), "", "a second YAML document starts here; "+
			"wsplug reads one document per file")
	}
	if emptyDocument(&root) {
		d.problem(Pos{}, "", "the file is empty; it needs a list of apis")
		return f, nil
	}
	d.top(f, root.Content[0])
	for key, n := range d.botUses {
		if n > 1 {
			w := &d.warnings[d.botFirst[key]]
			w.Message += fmt.Sprintf(" (here and %d more %s)", n-1, plural(n-1, "time", "times"))
		}
	}
	sortProblems(d.warnings)
	f.Warnings = d.warnings
	return f, nil
}

// emptyDocument reports whether n, a document as yaml.v3 decodes it, holds
// nothing: no document at all, or one that is only a null (a stray "---").
func emptyDocument(n *yaml.Node) bool {
	if n.Kind == 0 || len(n.Content) == 0 {
		return true
	}
	c := n.Content[0]
	return c.Kind == yaml.ScalarNode && c.Tag == "!!null" && c.Value == ""
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError turns a YAML parser error into a ValidationError with a line.
func syntaxError(name string, data []byte, err error) error {
	p := Problem{File: name, Message: strings.TrimPrefix(err.Error(), "yaml: ")}
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		p.Pos = Pos{Line: line}
		p.Message = m[2]
	}
	// yaml.v3 names a tab in the indentation in its own words, sometimes on
	// the line before the tab's.
	if p.Pos.Line > 0 {
		for _, line := range []int{p.Pos.Line, p.Pos.Line + 1} {
			if tabIndented(data, line) {
				p.Pos.Line = line
				p.Message += "; YAML does not allow tabs for indentation"
				break
			}
		}
	}
	p.Message = "invalid YAML: " + p.Message
	return &ValidationError{Problems: []Problem{p}}
}

// tabIndented reports whether the line (counted from 1) of data has a tab in
// the blanks it starts with.
func tabIndented(data []byte, line int) bool {
	for i := 1; i < line; i++ {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return false
		}
		data = data[nl+1:]
	}
	for _, c := range data {
		switch c {
		case '\t':
			return true
		case ' ':
			continue
		}
		return false
	}
	return false
}

func (d *decoder) problem(at Pos, path, format string, args ...any) {
	d.src.problems = append(d.src.problems, Problem{
		File: d.src.file, Pos: at, Path: path, Message: fmt.Sprintf(format, args...),
	})
}

func (d *decoder) warn(at Pos, path, msg string) {
	d.warnings = append(d.warnings, Problem{File: d.src.file, Pos: at, Path: path, Message: msg})
}

func posOf(n *yaml.Node) Pos { return Pos{Line: n.Line, Column: n.Column} }

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// field is one known key of a mapping and how to decode its value.
type field struct {
	key    string
	decode func(v *yaml.Node, path string)
}

// object decodes a mapping: each known key by its field, each bot-only key
// into a warning, anything else into an unknown-key problem with a
// suggestion. Merge keys (<<: *anchor) are honoured.
func (d *decoder) object(n *yaml.Node, path string, fields []field, botKeys []string) {
	n = deref(n)
	if n.Kind != yaml.MappingNode {
		d.typeProblem(n, path, "a mapping")
		return
	}
	byKey := make(map[string]func(*yaml.Node, string), len(fields))
	for _, f := range fields {
		byKey[f.key] = f.decode
	}
	seen := map[string]bool{}
	for _, kv := range d.pairs(n, path, origin{}) {
		k, v := kv.key, kv.value
		if k.Kind != yaml.ScalarNode {
			d.problem(posOf(k), path, "keys must be text, got %s", describe(k))
			continue
		}
		p := join(path, k.Value)
		if !kv.merged {
			if seen[k.Value] {
				d.problem(posOf(k), p, "key given twice")
				continue
			}
			seen[k.Value] = true
		}
		d.src.pos[p] = posOf(k)
		switch dec, ok := byKey[k.Value]; {
		case ok:
			dec(v, p)
		case slices.Contains(botKeys, k.Value):
			d.botKey(k, p)
		case path == "" && strings.HasPrefix(k.Value, "x-"):
			// The user's own top-level keys, a home for YAML anchors.
		default:
			names := make([]string, len(fields))
			for i, f := range fields {
				names[i] = f.key
			}
			d.problem(posOf(k), p, "unknown key%s", didYouMean(k.Value, names))
		}
	}
}

// pair is a key and its value in a mapping.
type pair struct {
	key, value *yaml.Node
	// merged marks a pair that a merge key (<<) brought in: by, the
	// outermost one.
	merged bool
	by     origin
}

// pairs lists a mapping's pairs, those merged in by << first, so that the
// mapping's own keys win. Each merged pair is spent from the expansion
// budget, in the name of the outermost alias or merge key: at, or else n's
// own merge key.
func (d *decoder) pairs(n *yaml.Node, path string, at origin) []pair {
	var merged, own []pair
	for i := 0; i+1 < len(n.Content) && !d.exceeded; i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!merge" {
			own = append(own, pair{key: k, value: v})
			continue
		}
		v = deref(v)
		by := at
		if by.node == nil {
			by = origin{k, path}
		}
		sources := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			sources = v.Content
		}
		for _, s := range sources {
			if s = deref(s); s.Kind != yaml.MappingNode {
				continue
			}
			for _, p := range d.pairs(s, path, by) {
				if !d.spend(by) {
					break
				}
				merged = append(merged, pair{key: p.key, value: p.value, merged: true, by: by})
			}
		}
	}
	return append(merged, own...)
}

// origin is the alias or merge key that brings values in, and its path.
type origin struct {
	node *yaml.Node
	path string
}

// spend takes one value from the expansion budget, and reports at o, once,
// when there is none left.
func (d *decoder) spend(o origin) bool {
	if d.expanded++; d.expanded <= maxExpanded {
		return true
	}
	if !d.exceeded {
		d.exceeded = true
		d.problem(posOf(o.node), o.path, "aliases expand to more than %d values; "+
			"write the data out or nest fewer aliases", maxExpanded)
	}
	return false
}

func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func (d *decoder) botKey(k *yaml.Node, path string) {
	if d.botUses[k.Value]++; d.botUses[k.Value] == 1 {
		d.botFirst[k.Value] = len(d.warnings)
		d.warn(posOf(k), path, "read by ad_discordbot only; wsplug ignores it")
	}
}

// list decodes each item of a sequence; null is an empty list.
func (d *decoder) list(n *yaml.Node, path string, item func(v *yaml.Node, path string)) {
	n = deref(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.typeProblem(n, path, "a list")
		return
	}
	for i, v := range n.Content {
		p := index(path, i)
		d.src.pos[p] = posOf(v)
		item(v, p)
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func (d *decoder) typeProblem(n *yaml.Node, path, want string) {
	got := describe(n)
	if secretPath(path) {
		got = describeKind(n)
	}
	d.problem(d.keyPos(n, path), path, "expected %s, got %s", want, got)
}

// Keys whose values are, or may hold, secrets: nothing under them is quoted
// in a message.
var secretKeys = []string{
	"auth", "password", "auth_token", "headers", "default_headers", "query_params",
}

// secretPath reports whether the key at path is, or is under, a secret key.
func secretPath(path string) bool {
	for _, seg := range strings.Split(path, ".") {
		if i := strings.IndexByte(seg, '['); i >= 0 {
			seg = seg[:i]
		}
		if slices.Contains(secretKeys, seg) {
			return true
		}
	}
	return false
}

// describeKind names a node's kind for a message, without its value.
func describeKind(n *yaml.Node) string {
	n = deref(n)
	if n.Kind != yaml.ScalarNode {
		return describe(n)
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "true or false"
	}
	return "a string"
}

// keyPos is where the key of path is, or else where n is.
func (d *decoder) keyPos(n *yaml.Node, path string) Pos {
	if p, ok := d.src.pos[path]; ok {
		return p
	}
	return posOf(n)
}

// describe names a node's kind and value for a message.
func describe(n *yaml.Node) string {
	n = deref(n)
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!null":
		return "null"
	case "!!str":
		return fmt.Sprintf("string %q", n.Value)
	case "!!int":
		return "integer " + n.Value
	case "!!float":
		return "number " + n.Value
	case "!!bool":
		return n.Value
	}
	return n.Value
}

// scalar checks that n is a scalar of one of the tags and not null.
func (d *decoder) scalar(n *yaml.Node, path, want string, tags ...string) (*yaml.Node, bool) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode && slices.Contains(tags, n.ShortTag()) {
		return n, true
	}
	if isNull(n) {
		d.problem(d.keyPos(n, path), path,
			"expected %s, got null; leave the key out to use the default", want)
		return nil, false
	}
	d.typeProblem(n, path, want)
	return nil, false
}

// str decodes a YAML string.
func (d *decoder) str(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n, ok := d.scalar(n, path, "a string", "!!str"); ok {
			*dst = n.Value
		}
	}
}

// text decodes a value that is text however it is written: 2 and "2" are
// both the text 2, as the original format formats them. Null is empty.
func (d *decoder) text(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = deref(n); isNull(n) {
			*dst = ""
			return
		}
		if n.Kind != yaml.ScalarNode {
			d.typeProblem(n, path, "text")
			return
		}
		*dst = n.Value
	}
}

// optional decodes a string that may be null, which means unset.
func (d *decoder) optional(dst *string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n = deref(n); isNull(n) {
			*dst = ""
			return
		}
		d.str(dst)(n, path)
	}
}

func (d *decoder) boolean(dst *bool) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		if n, ok := d.scalar(n, path, "true or false", "!!bool"); ok {
			_ = n.Decode(dst)
		}
	}
}

func (d *decoder) integer(dst *int) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		n, ok := d.scalar(n, path, "an integer", "!!int")
		if !ok {
			return
		}
		if err := n.Decode(dst); err != nil {
			d.problem(d.keyPos(n, path), path, "integer %s is out of range", n.Value)
		}
	}
}

// seconds decodes a number of seconds, as the original format writes
// timeouts.
func (d *decoder) seconds(dst *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		n, ok := d.scalar(n, path, "a number of seconds", "!!int", "!!float")
		if !ok {
			return
		}
		var s float64
		if err := n.Decode(&s); err != nil || math.IsInf(s, 0) || math.IsNaN(s) ||
			math.Abs(s) > math.MaxInt64/float64(time.Second) {
			d.problem(d.keyPos(n, path), path, "%s is not a usable number of seconds", n.Value)
			return
		}
		*dst = time.Duration(s * float64(time.Second))
	}
}

// duration decodes a Go duration ("500ms", "1m30s"); a bare 0 is allowed.
func (d *decoder) duration(dst *time.Duration) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		n, ok := d.scalar(n, path, `a duration such as "30s"`, "!!str", "!!int", "!!float")
		if !ok {
			return
		}
		if n.ShortTag() != "!!str" {
			if v, err := strconv.ParseFloat(n.Value, 64); err == nil && v == 0 {
				*dst = 0
				return
			}
			d.problem(d.keyPos(n, path), path,
				"a duration needs a unit, as in %ss or %sms; got %s", n.Value, n.Value, n.Value)
			return
		}
		v, err := time.ParseDuration(n.Value)
		if err != nil {
			d.problem(d.keyPos(n, path), path,
				`expected a duration such as "500ms" or "1m30s", got %q`, n.Value)
			return
		}
		*dst = v
	}
}

// size decodes a number of bytes: an integer, or text with a unit.
func (d *decoder) size(dst *int64) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		n, ok := d.scalar(n, path, `a size such as "16MiB"`, "!!str", "!!int")
		if !ok {
			return
		}
		v, err := ParseSize(n.Value)
		if err != nil {
			d.problem(d.keyPos(n, path), path, "%v", err)
			return
		}
		*dst = v
	}
}

// pairList decodes a mapping of names to text values, keeping file order.
func (d *decoder) pairList(dst *[]Pair) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		*dst = nil
		if n = deref(n); isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.typeProblem(n, path, "a mapping of names to values")
			return
		}
		at := map[string]int{}   // index in *dst of each name
		own := map[string]bool{} // names the mapping itself sets
		for _, kv := range d.pairs(n, path, origin{}) {
			k, v := deref(kv.key), kv.value
			if k.Kind != yaml.ScalarNode || isNull(k) {
				d.problem(posOf(k), path, "names must be text, got %s", describe(k))
				continue
			}
			p := join(path, k.Value)
			if !kv.merged {
				if own[k.Value] {
					d.problem(posOf(k), p, "name given twice")
					continue
				}
				own[k.Value] = true
			}
			d.src.pos[p] = posOf(k)
			var val string
			d.text(&val)(v, p)
			if i, ok := at[k.Value]; ok {
				if !kv.merged {
					(*dst)[i].Value = val // the mapping's own value beats a merged one
				}
				continue
			}
			at[k.Value] = len(*dst)
			*dst = append(*dst, Pair{Name: k.Value, Value: val})
		}
	}
}

// names decodes a list of strings.
func (d *decoder) names(dst *[]string) func(*yaml.Node, string) {
	return func(n *yaml.Node, path string) {
		*dst = nil
		d.list(n, path, func(v *yaml.Node, p string) {
			var s string
			d.str(&s)(v, p)
			*dst = append(*dst, s)
		})
	}
}

// value decodes any YAML into data that encodes as JSON. Every value that
// an alias brings in is spent from the expansion budget.
func (d *decoder) value(n *yaml.Node, path string) any {
	return d.valueOf(n, path, origin{})
}

// valueOf is value for a node that via brings in (its node is nil for a
// node of the file's own).
func (d *decoder) valueOf(n *yaml.Node, path string, via origin) any {
	if via.node == nil && n.Kind == yaml.AliasNode {
		via = origin{n, path}
	}
	if d.exceeded || via.node != nil && !d.spend(via) {
		return nil
	}
	n = deref(n)
	switch n.Kind {
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, v := range n.Content {
			out = append(out, d.valueOf(v, index(path, i), via))
		}
		return out
	case yaml.MappingNode:
		out := make(map[string]any, len(n.Content)/2)
		for _, kv := range d.pairs(n, path, via) {
			k := deref(kv.key)
			if k.Kind != yaml.ScalarNode {
				d.problem(posOf(k), path, "keys must be text, got %s", describe(k))
				continue
			}
			kp := join(path, k.Value)
			d.src.pos[kp] = posOf(k)
			by := via
			if by.node == nil && kv.merged {
				by = kv.by
			}
			out[k.Value] = d.valueOf(kv.value, kp, by)
		}
		return out
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int":
		var v any
		if err := n.Decode(&v); err == nil {
			return v
		}
	case "!!float":
		var f float64
		if err := n.Decode(&f); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
		d.problem(d.keyPos(n, path), path, "%s cannot be written as JSON", n.Value)
		return nil
	}
	return n.Value
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// top decodes the document's root mapping.
func (d *decoder) top(f *File, root *yaml.Node) {
	var fields []field
	listed := ""
	for _, key := range []string{"apis", "all_apis"} {
		fields = append(fields, field{key, func(v *yaml.Node, p string) {
			if listed != "" {
				d.problem(d.src.pos[p], p, "names the same list as %s; keep one", listed)
				return
			}
			listed, d.src.listKey = key, key
			d.list(v, p, func(item *yaml.Node, ip string) {
				f.APIs = append(f.APIs, d.api(item, ip))
			})
		}})
	}
	fields = append(fields, field{"plugins", func(v *yaml.Node, p string) {
		d.list(v, p, func(item *yaml.Node, ip string) {
			f.Plugins = append(f.Plugins, d.plugin(item, ip))
		})
	}})
	for _, key := range botTopKeys {
		fields = append(fields, field{key, func(v *yaml.Node, p string) {
			d.warn(d.src.pos[p], p, "read by ad_discordbot only; wsplug ignores it")
		}})
	}
	d.object(root, "", fields, nil)
}

func (d *decoder) api(n *yaml.Node, path string) API {
	a := API{Enabled: true, DefaultTimeout: DefaultAPITimeout}
	d.object(n, path, []field{
		{"name", d.str(&a.Name)},
		{"url", d.str(&a.URL)},
		{"enabled", d.boolean(&a.Enabled)},
		{"default_headers", d.pairList(&a.DefaultHeaders)},
		{"default_timeout", d.seconds(&a.DefaultTimeout)},
		{"auth", func(v *yaml.Node, p string) { a.Auth = d.auth(v, p) }},
		{"endpoints", func(v *yaml.Node, p string) {
			d.list(v, p, func(item *yaml.Node, ip string) {
				a.Endpoints = append(a.Endpoints, d.endpoint(item, ip))
			})
		}},
		{"websocket", func(v *yaml.Node, p string) {
			if isNull(deref(v)) {
				return
			}
			ws := d.websocket(v, p)
			a.Websocket = &ws
		}},
	}, nil)
	return a
}

func (d *decoder) auth(n *yaml.Node, path string) *Auth {
	if n = deref(n); isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.typeProblem(n, path, "a mapping") // and not its keys' absence as well
		return nil
	}
	var a Auth
	var password string
	d.object(n, path, []field{
		{"username", d.text(&a.Username)},
		{"password", d.text(&password)},
	}, nil)
	a.Password = Secret(password)
	return &a
}

func (d *decoder) endpoint(n *yaml.Node, path string) Endpoint {
	e := Endpoint{Method: "GET", PayloadType: PayloadJSON}
	d.object(n, path, []field{
		{"name", d.str(&e.Name)},
		{"path", d.str(&e.Path)},
		{"method", d.optional(&e.Method)},
		{"headers", d.pairList(&e.Headers)},
		{"timeout", d.seconds(&e.Timeout)},
		{"retry", d.integer(&e.Retry)},
		{"payload_type", d.str(&e.PayloadType)},
	}, botEndpointKeys)
	return e
}

func (d *decoder) websocket(n *yaml.Node, path string) Websocket {
	w := defaultWebsocket()
	d.object(n, path, []field{
		{"url", d.optional(&w.URL)},
		{"client_id_required", d.boolean(&w.ClientIDRequired)},
		{"client_id_format", d.str(&w.ClientIDFormat)},
		{"client_id_name", d.str(&w.ClientIDName)},
		{"client_id", d.text(&w.ClientID)},
		{"token_required", d.boolean(&w.TokenRequired)},
		{"token_name", d.str(&w.TokenName)},
		{"auth_token", d.text(&w.AuthToken)},
		{"session_id_required", d.boolean(&w.SessionIDRequired)},
		{"session_id_name", d.str(&w.SessionIDName)},
		{"session_id", d.text(&w.SessionID)},
		{"session_id_from", func(v *yaml.Node, p string) {
			if isNull(deref(v)) {
				w.SessionIDFrom = nil
				return
			}
			var mf MessageField
			d.object(v, p, []field{
				{"type", d.text(&mf.Type)},
				{"path", d.str(&mf.Path)},
			}, nil)
			w.SessionIDFrom = &mf
		}},
		{"channel_required", d.boolean(&w.ChannelRequired)},
		{"channel_name", d.str(&w.ChannelName)},
		{"channel", d.text(&w.Channel)},
		{"version_required", d.boolean(&w.VersionRequired)},
		{"version_name", d.str(&w.VersionName)},
		{"version", d.text(&w.Version)},
		{"headers", d.pairList(&w.Headers)},
		{"query_params", d.pairList(&w.QueryParams)},
		{"reconnect_on_failure", d.boolean(&w.ReconnectOnFailure)},
		{"retry", d.integer(&w.Retry)},
		{"backoff", func(v *yaml.Node, p string) {
			d.object(v, p, []field{
				{"initial", d.duration(&w.Backoff.Initial)},
				{"max", d.duration(&w.Backoff.Max)},
			}, nil)
		}},
		{"ping_interval", d.duration(&w.PingInterval)},
		{"pong_timeout", d.duration(&w.PongTimeout)},
		{"max_message_size", d.size(&w.MaxMessageSize)},
		{"send_queue", d.integer(&w.SendQueue)},
		{"transforms", func(v *yaml.Node, p string) {
			if isNull(deref(v)) {
				return
			}
			d.object(v, p, []field{
				{"outgoing", d.names(&w.Transforms.Outgoing)},
				{"incoming", d.names(&w.Transforms.Incoming)},
			}, nil)
		}},
		{"transform_errors", d.str(&w.TransformErrors)},
		{"subprotocols", d.names(&w.Subprotocols)},
		{"dial_timeout", d.duration(&w.DialTimeout)},
	}, nil)
	return w
}

func (d *decoder) plugin(n *yaml.Node, path string) Plugin {
	p := Plugin{Limits: Limits{
		Memory: DefaultPluginMemory, Timeout: DefaultPluginTimeout, Instances: DefaultPluginPool,
	}}
	d.object(n, path, []field{
		{"name", d.str(&p.Name)},
		{"path", d.str(&p.Path)},
		// text: a digest of digits only would otherwise read as a number.
		{"sha256", d.text(&p.SHA256)},
		{"config", func(v *yaml.Node, kp string) { p.Config = d.value(v, kp) }},
		{"allow", d.names(&p.Allow)},
		{"limits", func(v *yaml.Node, kp string) {
			d.object(v, kp, []field{
				{"memory", d.size(&p.Limits.Memory)},
				{"timeout", d.duration(&p.Limits.Timeout)},
				{"instances", d.integer(&p.Limits.Instances)},
			}, nil)
		}},
	}, nil)
	return p
}
