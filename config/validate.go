package config

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate checks the whole file against the built-ins and names (nil:
// built-ins only) and returns every problem at once as a *ValidationError,
// or nil. It also normalises what it checks: HTTP methods in upper case,
// sha256 in lower case.
func (f *File) Validate(names Names) error {
	return f.ValidateWith(names)
}

// ValidateWith is Validate with problems the caller found (see Problem),
// such as a plugin that does not load, reported in the same list.
func (f *File) ValidateWith(names Names, more ...Problem) error {
	v := newValidator(f.src, names)
	v.problems = append(v.problems, more...)
	if len(f.APIs) == 0 && !f.src.has("apis") && !f.src.has("all_apis") &&
		len(f.src.problems) == 0 {
		v.problem("", "the file has no apis list; nothing to connect to")
	}
	apiNames := map[string]string{}
	for i := range f.APIs {
		path := index(f.src.listKey, i)
		a := &f.APIs[i]
		v.api(a, path)
		if a.Name == "" {
			continue
		}
		if first, dup := apiNames[a.Name]; dup {
			v.problem(join(path, "name"), "api %q is already defined at %s", a.Name, v.where(first))
		} else {
			apiNames[a.Name] = join(path, "name")
		}
	}
	pluginNames := map[string]string{}
	for i := range f.Plugins {
		path := index("plugins", i)
		p := &f.Plugins[i]
		v.plugin(p, path)
		if p.Name == "" {
			continue
		}
		if first, dup := pluginNames[p.Name]; dup {
			v.problem(join(path, "name"), "plugin %q is already defined at %s",
				p.Name, v.where(first))
		} else {
			pluginNames[p.Name] = join(path, "name")
		}
	}
	problems := append(slices.Clone(f.src.problems), v.problems...)
	if len(problems) == 0 {
		return nil
	}
	sortProblems(problems)
	return &ValidationError{Problems: problems}
}

// Problem makes a problem at a key of the file (a path such as
// plugins[1].path), with the key's line and column.
func (f *File) Problem(path, message string) Problem {
	v := validator{src: f.src}
	return Problem{File: f.src.file, Pos: v.pos(path), Path: path, Message: message}
}

type validator struct {
	src          *source
	formats      []string
	placeholders []string
	transforms   []string
	problems     []Problem
}

func newValidator(src *source, names Names) *validator {
	v := &validator{
		src:          src,
		formats:      BuiltinClientIDFormats(),
		placeholders: BuiltinPlaceholders(),
	}
	if names != nil {
		v.formats = merge(v.formats, names.ClientIDFormats())
		v.placeholders = merge(v.placeholders, names.Placeholders())
		v.transforms = merge(nil, names.Transforms())
	}
	return v
}

// merge returns the sorted union of a and b.
func merge(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// problem records a problem at path's key, or at the closest enclosing key
// the file has when the key itself is missing.
func (v *validator) problem(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{
		File: v.src.file, Pos: v.pos(path), Path: path, Message: fmt.Sprintf(format, args...),
	})
}

func (v *validator) pos(path string) Pos {
	for path != "" {
		if p, ok := v.src.pos[path]; ok {
			return p
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return Pos{}
}

// where names the place of path for a message: "line 12".
func (v *validator) where(path string) string {
	return "line " + strconv.Itoa(v.pos(path).Line)
}

func (v *validator) required(path, value string) bool {
	if value != "" {
		return true
	}
	if v.src.has(path) {
		v.problem(path, "must not be empty")
	} else {
		v.problem(path, "missing")
	}
	return false
}

func (v *validator) atLeast(path string, got, min int, note string) {
	if got < min {
		v.problem(path, "must be >= %d%s, got %d", min, note, got)
	}
}

func (v *validator) nonNegative(path string, d time.Duration) {
	if d < 0 {
		v.problem(path, "must not be negative, got %s", d)
	}
}

// seconds checks a timeout written in seconds.
func (v *validator) seconds(path string, d time.Duration) {
	if d < 0 {
		secs := strconv.FormatFloat(d.Seconds(), 'g', -1, 64)
		v.problem(path, "must be >= 0 seconds, got %s", secs)
	}
}

var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// Which placeholders a template may use.
const (
	anyPlaceholder   = iota // every known one
	valuePlaceholder        // all but the connection values: for those values themselves
)

// template checks that every placeholder of s is known and well formed.
// When s is a secret, which may be literal text with braces in it, a
// message names a placeholder only by a known name, never by its argument.
func (v *validator) template(path, s string, set int, secret bool) {
	for _, r := range ParseTemplate(s).Refs() {
		shown := r.String()
		if secret && r.Arg != "" {
			shown = "{" + r.Name + ":...}"
		}
		if err := checkBuiltinRef(r); err != nil {
			v.problem(path, "%s %v", shown, err)
			continue
		}
		if set == valuePlaceholder && isConnectionValue(r.Name) {
			v.problem(path, "%s cannot be used here: this key sets one of the connection values; "+
				"use {env:NAME} or a plugin's placeholder", shown)
			continue
		}
		if !slices.Contains(v.placeholders, r.Name) && secret {
			v.problem(path, "unknown placeholder (not shown: this key holds a secret); known: %s; "+
				"a literal { is written {{", strings.Join(v.placeholders, ", "))
			continue
		}
		if !slices.Contains(v.placeholders, r.Name) {
			msg := fmt.Sprintf("unknown placeholder %s", r)
			if c, ok := suggest(r.Name, v.placeholders); ok {
				msg += fmt.Sprintf("; did you mean {%s}?", c)
			} else {
				msg += "; known: " + strings.Join(v.placeholders, ", ")
			}
			v.problem(path, "%s", msg)
		}
	}
}

// syntaxOnly checks only the built-in placeholders of a template that is
// resolved per call, with values the config cannot know.
func (v *validator) syntaxOnly(path, s string) {
	for _, r := range ParseTemplate(s).Refs() {
		if err := checkBuiltinRef(r); err != nil {
			v.problem(path, "%s %v", r, err)
		}
	}
}

func (v *validator) headers(path string, hs []Pair) {
	first := make(map[string]string, len(hs)) // each name in canonical form: as first written
	for _, h := range hs {
		p := join(path, h.Name)
		if !headerName.MatchString(h.Name) {
			v.problem(p, "%q is not a valid header name", h.Name)
		}
		canon := http.CanonicalHeaderKey(h.Name)
		if name, dup := first[canon]; dup {
			at := v.pos(join(path, name))
			v.problem(p, "%q is the same header as %q on line %d, column %d "+
				"(header names ignore case); keep one", h.Name, name, at.Line, at.Column)
		} else {
			first[canon] = h.Name
		}
		if strings.ContainsAny(h.Value, "\r\n") {
			v.problem(p, "a header value must not contain a line break")
		}
		v.template(p, h.Value, anyPlaceholder, credentialHeaders[http.CanonicalHeaderKey(h.Name)])
	}
}

// url checks a URL template: its placeholders, and, when it has none, the
// URL itself.
func (v *validator) url(path, s string, parse func(string) (any, error)) {
	v.template(path, s, anyPlaceholder, false)
	t := ParseTemplate(s)
	lit, ok := t.Literal()
	if !ok {
		return
	}
	if _, err := parse(lit); err != nil {
		v.problem(path, "%v", err)
	}
}

func httpURL(s string) (any, error)      { return parseHTTPURL(s) }
func websocketURL(s string) (any, error) { return parseWebsocketURL(s) }

func (v *validator) api(a *API, path string) {
	v.required(join(path, "name"), a.Name)
	if v.required(join(path, "url"), a.URL) {
		v.url(join(path, "url"), a.URL, httpURL)
	}
	v.headers(join(path, "default_headers"), a.DefaultHeaders)
	v.seconds(join(path, "default_timeout"), a.DefaultTimeout)
	if a.Auth != nil {
		for _, f := range []struct {
			key, value string
			secret     bool
		}{
			{"auth.username", a.Auth.Username, false},
			{"auth.password", a.Auth.Password.Reveal(), true},
		} {
			if v.required(join(path, f.key), f.value) {
				v.template(join(path, f.key), f.value, anyPlaceholder, f.secret)
			}
		}
	}
	endpoints := map[string]string{}
	for i := range a.Endpoints {
		p := join(path, index("endpoints", i))
		e := &a.Endpoints[i]
		v.endpoint(e, p)
		if e.Name == "" {
			continue
		}
		if first, dup := endpoints[e.Name]; dup {
			v.problem(join(p, "name"), "endpoint %q is already defined at %s",
				e.Name, v.where(first))
		} else {
			endpoints[e.Name] = join(p, "name")
		}
	}
	if a.Websocket != nil {
		v.websocket(a.Websocket, join(path, "websocket"))
	}
}

var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

var payloadTypes = []string{PayloadJSON, PayloadForm, PayloadQuery, PayloadMultipart}

func (v *validator) endpoint(e *Endpoint, path string) {
	v.required(join(path, "name"), e.Name)
	v.syntaxOnly(join(path, "path"), e.Path)
	if e.Method != NoRequest {
		m := strings.ToUpper(e.Method)
		if slices.Contains(methods, m) {
			e.Method = m
		} else {
			v.problem(join(path, "method"),
				"unknown HTTP method %q; expected one of %s, or null for no request",
				e.Method, strings.Join(methods, ", "))
		}
	}
	v.headers(join(path, "headers"), e.Headers)
	v.seconds(join(path, "timeout"), e.Timeout)
	v.atLeast(join(path, "retry"), e.Retry, 0, "")
	if !slices.Contains(payloadTypes, e.PayloadType) {
		v.problem(join(path, "payload_type"), "unknown payload_type %q; expected one of %s",
			e.PayloadType, strings.Join(payloadTypes, ", "))
	}
}

func (v *validator) websocket(w *Websocket, path string) {
	key := func(k string) string { return join(path, k) }
	if w.URL != "" {
		v.url(key("url"), w.URL, websocketURL)
	}

	if !slices.Contains(v.formats, w.ClientIDFormat) {
		v.problem(key("client_id_format"), "unknown client_id_format %q%s; available: %s",
			w.ClientIDFormat, didYouMean(w.ClientIDFormat, v.formats),
			strings.Join(v.formats, ", "))
	}
	for _, k := range []struct{ key, value string }{
		{"client_id_name", w.ClientIDName}, {"token_name", w.TokenName},
		{"session_id_name", w.SessionIDName}, {"channel_name", w.ChannelName},
		{"version_name", w.VersionName},
	} {
		if k.value == "" {
			v.problem(key(k.key), "must not be empty")
		}
	}

	for _, k := range []struct{ key, value string }{
		{"client_id", w.ClientID}, {"auth_token", w.AuthToken}, {"session_id", w.SessionID},
		{"channel", w.Channel}, {"version", w.Version},
	} {
		v.template(key(k.key), k.value, valuePlaceholder, k.key == "auth_token")
	}
	for _, r := range []struct {
		on          bool
		flag, value string
		set         string
	}{
		{w.TokenRequired, "token_required", "auth_token", w.AuthToken},
		{w.ChannelRequired, "channel_required", "channel", w.Channel},
		{w.VersionRequired, "version_required", "version", w.Version},
	} {
		if r.on && r.set == "" {
			v.problem(key(r.flag), "is true but %s is not set; set it (a placeholder such as "+
				"{env:NAME} will do) or set %s to false", r.value, r.flag)
		}
	}

	v.headers(key("headers"), w.Headers)
	for _, q := range w.QueryParams {
		p := join(key("query_params"), q.Name)
		if q.Name == "" {
			v.problem(p, "a query parameter needs a name")
		}
		v.template(p, q.Value, anyPlaceholder, false)
	}

	v.atLeast(key("retry"), w.Retry, -1, " (-1 retries without end)")
	if w.Backoff.Initial <= 0 {
		v.problem(key("backoff.initial"), "must be more than 0, got %s", w.Backoff.Initial)
	} else if w.Backoff.Max < w.Backoff.Initial {
		v.problem(key("backoff.max"), "must be >= backoff.initial (%s), got %s",
			w.Backoff.Initial, w.Backoff.Max)
	}
	v.nonNegative(key("ping_interval"), w.PingInterval)
	if w.PongTimeout <= 0 {
		v.problem(key("pong_timeout"), "must be more than 0, got %s", w.PongTimeout)
	}
	if w.MaxMessageSize <= 0 {
		v.problem(key("max_message_size"), "must be more than 0")
	}
	v.atLeast(key("send_queue"), w.SendQueue, 0, "")
	if w.DialTimeout <= 0 {
		v.problem(key("dial_timeout"), "must be more than 0, got %s", w.DialTimeout)
	}
	policies := []string{TransformErrorsFail, TransformErrorsDrop, TransformErrorsPass}
	if !slices.Contains(policies, w.TransformErrors) {
		v.problem(key("transform_errors"), "unknown policy %q; expected %s", w.TransformErrors,
			strings.Join(policies, ", "))
	}
	for i, sp := range w.Subprotocols {
		if !headerName.MatchString(sp) {
			v.problem(index(key("subprotocols"), i), "%q is not a valid subprotocol name", sp)
		}
	}
	if f := w.SessionIDFrom; f != nil {
		v.required(key("session_id_from.type"), f.Type)
		if v.required(key("session_id_from.path"), f.Path) {
			if err := checkDottedPath(f.Path); err != nil {
				v.problem(key("session_id_from.path"), "%v", err)
			}
		}
	}
	for _, dir := range []struct {
		key   string
		names []string
	}{{"outgoing", w.Transforms.Outgoing}, {"incoming", w.Transforms.Incoming}} {
		for i, name := range dir.names {
			if name == "" || slices.Contains(v.transforms, name) {
				continue
			}
			p := index(key("transforms."+dir.key), i)
			if len(v.transforms) == 0 {
				v.problem(p, "unknown transform %q; no plugin loaded provides transforms", name)
				continue
			}
			v.problem(p, "unknown transform %q%s; available: %s", name,
				didYouMean(name, v.transforms), strings.Join(v.transforms, ", "))
		}
	}
}

// checkDottedPath checks a path such as data.sid or items.0.name.
func checkDottedPath(p string) error {
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return fmt.Errorf("%q is not a dotted path such as data.sid: it has an empty part", p)
		}
	}
	return nil
}

var (
	pluginName = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	sha256Hex  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

const wasmPage = 64 << 10

func (v *validator) plugin(p *Plugin, path string) {
	key := func(k string) string { return join(path, k) }
	if v.required(key("name"), p.Name) && !pluginName.MatchString(p.Name) {
		v.problem(key("name"), "%q: a plugin name is letters, digits, '_' and '-'", p.Name)
	}
	v.required(key("path"), p.Path)
	if p.SHA256 != "" {
		p.SHA256 = strings.ToLower(p.SHA256)
		if !sha256Hex.MatchString(p.SHA256) {
			v.problem(key("sha256"), "expected 64 hex digits, got %d characters", len(p.SHA256))
		}
	}
	seen := map[string]bool{}
	for i, c := range p.Allow {
		ip := index(key("allow"), i)
		switch {
		case !slices.Contains(Capabilities, c):
			v.problem(ip, "unknown capability %q%s; known: %s", c, didYouMean(c, Capabilities),
				strings.Join(Capabilities, ", "))
		case seen[c]:
			v.problem(ip, "capability %q is given twice", c)
		}
		seen[c] = true
	}
	switch m := p.Limits.Memory; {
	case m < wasmPage:
		v.problem(key("limits.memory"), "must be at least 64KiB (one Wasm page), got %s",
			FormatSize(m))
	case m > 4<<30:
		v.problem(key("limits.memory"), "must be at most 4GiB (the wasm32 address space), got %s",
			FormatSize(m))
	}
	v.nonNegative(key("limits.timeout"), p.Limits.Timeout)
	v.atLeast(key("limits.instances"), p.Limits.Instances, 1, "")
}
