package config

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Plan is an API's websocket section made ready to connect: its templates
// are parsed once, and Resolve turns them into a URL and headers on every
// connect, so that a changed token or session id is used on the next one.
type Plan struct {
	api string
	ws  *Websocket
	// url is the websocket URL, or, when derive, the API's HTTP URL, all
	// of it in url.head.
	url    urlTemplate
	derive bool
	params []templatePair
	header []templatePair
	// values are the config's own connection values (client_id, auth_token,
	// session_id, channel, version), which may use env and plugin sources.
	values [5]Template
	// required are the values the URL must carry, in the original format's
	// order.
	required []requiredParam
}

type templatePair struct {
	name  string
	value Template
}

// requiredParam is a value the URL must carry: under key, the value of
// placeholder, which the config sets as field and flag demands.
type requiredParam struct {
	key, placeholder string
	field, flag      string
	// later says an empty value is left out until there is one: a session
	// id the config does not set comes from the server.
	later bool
}

// NewPlan prepares api's websocket section. It fails when the API has none.
func NewPlan(api *API) (*Plan, error) {
	ws := api.Websocket
	if ws == nil {
		return nil, fmt.Errorf("api[%s]: no websocket section", api.Name)
	}
	p := &Plan{api: api.Name, ws: ws}
	if ws.URL != "" {
		p.url = splitURL(ParseTemplate(ws.URL))
	} else {
		p.url, p.derive = urlTemplate{head: ParseTemplate(api.URL)}, true
	}
	head, ok1 := p.url.head.Literal()
	path, ok2 := p.url.path.Literal()
	if ok1 && ok2 {
		if u, err := p.parse(head + path); err == nil {
			p.url.parsed = u
		}
	}
	for _, q := range ws.QueryParams {
		p.params = append(p.params, templatePair{q.Name, ParseTemplate(q.Value)})
	}
	for _, h := range ws.Headers {
		name := http.CanonicalHeaderKey(h.Name)
		p.header = append(p.header, templatePair{name, ParseTemplate(h.Value)})
	}
	for i, s := range []string{ws.ClientID, ws.AuthToken, ws.SessionID, ws.Channel, ws.Version} {
		p.values[i] = ParseTemplate(s)
	}
	for _, r := range []struct {
		on bool
		requiredParam
	}{
		{ws.ClientIDRequired, requiredParam{ws.ClientIDName, PlaceholderClientID,
			"client_id", "client_id_required", false}},
		{ws.TokenRequired, requiredParam{ws.TokenName, PlaceholderToken,
			"auth_token", "token_required", false}},
		{ws.SessionIDRequired, requiredParam{ws.SessionIDName, PlaceholderSessionID,
			"session_id", "session_id_required", ws.SessionID == ""}},
		{ws.ChannelRequired, requiredParam{ws.ChannelName, PlaceholderChannel,
			"channel", "channel_required", false}},
		{ws.VersionRequired, requiredParam{ws.VersionName, PlaceholderVersion,
			"version", "version_required", false}},
	} {
		if r.on {
			p.required = append(p.required, r.requiredParam)
		}
	}
	return p, nil
}

// ClientIDFormat is the name of the format to make the client id with when
// the config sets none.
func (p *Plan) ClientIDFormat() string { return p.ws.ClientIDFormat }

// Values resolves the connection values the config sets (client_id,
// auth_token, session_id, channel, version) with src, typically Env and
// plugin sources. A value the config leaves out is empty: the caller makes
// the client id when ClientID is empty, and may override any value.
func (p *Plan) Values(ctx context.Context, src Lookup) (Values, error) {
	var out [5]string
	keys := [5]string{"client_id", "auth_token", "session_id", "channel", "version"}
	for i, t := range p.values {
		s, err := t.Resolve(ctx, src)
		if err != nil {
			return Values{}, fmt.Errorf("api[%s] %s: %w", p.api, keys[i], err)
		}
		out[i] = s
	}
	return Values{
		ClientID: out[0], Token: Secret(out[1]), SessionID: out[2],
		Channel: out[3], Version: out[4],
	}, nil
}

// Target is a resolved websocket address: what to dial, and what to show.
type Target struct {
	// URL and Header are what goes on the wire, secrets included.
	URL    string
	Header http.Header
	shown  string
	hshown []Pair
}

// Redacted is the URL with every secret replaced by ***, for people.
func (t *Target) Redacted() string { return t.shown }

// RedactedHeader lists the headers, in config order, with every secret (and
// the credentials of any authorization header) replaced by ***.
func (t *Target) RedactedHeader() []Pair { return t.hshown }

// String is the redacted URL, so a Target is safe to print.
func (t *Target) String() string { return t.shown }

// Resolve builds the URL and headers for one connect. Placeholders resolve
// from v first and then from src; a placeholder neither knows is an error.
//
// A placeholder's value in the URL's path is path-escaped and one in its
// query is query-escaped, so that no value can change the URL's structure;
// one before the path (in the host, or one that is the whole URL) goes in
// as it is. The URL's own query comes first, as written; then query_params
// in file order (a parameter the URL already has takes the new value in
// its place); then each required value (client id, token, session id,
// channel, version) under its name, unless a parameter already uses that
// placeholder or has a value of the file's own under that name (an empty
// one takes the required value in its place). A required value that is
// empty is an error, but for a session id that the server is to give.
func (p *Plan) Resolve(ctx context.Context, v *Values, src Lookup) (*Target, error) {
	lk := Chain(v, src)
	u, shownURL, q, err := p.baseURL(ctx, lk)
	if err != nil {
		return nil, err
	}
	for i := range p.params {
		tp := &p.params[i]
		r, err := tp.value.render(ctx, lk, nil, false)
		if err != nil {
			return nil, fmt.Errorf("api[%s] query_params.%s: %w", p.api, tp.name, err)
		}
		q.set(tp.name, r, &tp.value)
	}
	if err := p.addRequired(ctx, v, &q); err != nil {
		return nil, err
	}
	u.RawQuery, u.ForceQuery = q.encode(false), false
	t := &Target{URL: u.String(), Header: make(http.Header, len(p.header))}
	shownURL.RawQuery, shownURL.ForceQuery = u.RawQuery, false
	if q.secret() {
		shownURL.RawQuery = q.encode(true)
	}
	t.shown = shownURL.Redacted()
	for _, tp := range p.header {
		r, err := tp.value.render(ctx, lk, nil, false)
		if err != nil {
			return nil, fmt.Errorf("api[%s] headers.%s: %w", p.api, tp.name, err)
		}
		t.Header.Set(tp.name, r.plain)
		t.hshown = append(t.hshown, Pair{Name: tp.name, Value: redactHeader(tp.name, r.shown)})
	}
	return t, nil
}

// addRequired puts each required value in the query, unless a parameter
// carries it, and checks that none is empty. The error names the key,
// never a value.
func (p *Plan) addRequired(ctx context.Context, v *Values, q *query) error {
	for _, req := range p.required {
		uses, at := q.uses(req.placeholder), q.index(req.key)
		if !uses && at >= 0 && !(*q)[at].empty {
			continue // the file's own value
		}
		val, _ := v.Lookup(ctx, req.placeholder, "")
		s, secret, _ := formatValue(val)
		switch {
		case s == "" && req.later:
			continue
		case s == "":
			return fmt.Errorf("api[%s] websocket.%s: resolved to an empty value; %s needs one",
				p.api, req.field, req.flag)
		case uses:
			continue
		}
		r := rendered{plain: s, shown: s, secret: secret}
		if secret {
			r.shown = redacted
		}
		q.set(req.key, r, nil)
	}
	return nil
}

// baseURL resolves the configured URL, or derives ws:// or wss:// from the
// API's HTTP URL (see wsFromHTTP). It returns the URL without its query
// twice, to dial and with secrets redacted, and the query.
func (p *Plan) baseURL(ctx context.Context, lk Lookup) (u, shown *url.URL, q query, err error) {
	key := "websocket url"
	if p.derive {
		key = "url"
	}
	fail := func(err error) (*url.URL, *url.URL, query, error) {
		return nil, nil, nil, fmt.Errorf("api[%s] %s: %w", p.api, key, err)
	}
	var head, path rendered
	if p.url.parsed != nil {
		c, s := *p.url.parsed, *p.url.parsed
		u, shown = &c, &s
	} else {
		if head, err = renderPart(ctx, p.url.head, lk, nil); err != nil {
			return fail(err)
		}
		if path, err = renderPart(ctx, p.url.path, lk, url.PathEscape); err != nil {
			return fail(err)
		}
		if u, err = p.parse(head.plain + path.plain); err != nil {
			if head.secret || path.secret {
				err = errors.New("invalid URL (not shown: it holds a secret)")
			}
			return fail(err)
		}
		c := *u
		shown = &c
		if head.secret || path.secret {
			if shown, err = p.parse(head.shown + path.shown); err != nil {
				return fail(errors.New("cannot show it redacted"))
			}
		}
	}
	// Only a placeholder in the head can have given a query so far.
	if u.RawQuery != "" {
		if q, err = splitQuery(u.RawQuery, shown.RawQuery, head.secret); err != nil {
			return fail(err)
		}
	}
	if q, err = p.url.ownQuery(ctx, lk, q); err != nil {
		return fail(err)
	}
	return u, shown, q, nil
}

// parse reads the resolved URL: a websocket URL, or the API's HTTP URL to
// derive it from.
func (p *Plan) parse(s string) (*url.URL, error) {
	if p.derive {
		return wsFromHTTP(s)
	}
	return parseWebsocketURL(s)
}

// parseWebsocketURL checks that s is an absolute ws:// or wss:// URL.
func parseWebsocketURL(s string) (*url.URL, error) {
	u, err := parseAbsoluteURL(s, "ws", "wss")
	if err != nil {
		return nil, err
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// parseHTTPURL checks that s is an absolute http:// or https:// URL.
func parseHTTPURL(s string) (*url.URL, error) {
	return parseAbsoluteURL(s, "http", "https")
}

// parseAbsoluteURL checks that s is a URL with one of the two schemes, a
// host, and a port, when it has one, that TCP can use.
func parseAbsoluteURL(s, scheme, secure string) (*url.URL, error) {
	if strings.TrimSpace(s) != s {
		// url.Parse would say "first path segment in URL cannot contain colon".
		return nil, errors.New("the URL has spaces before or after it; remove them")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, unwrapURLError(err)
	}
	if u.Scheme != scheme && u.Scheme != secure {
		return nil, fmt.Errorf("scheme must be %s or %s, got %q", scheme, secure, u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%q has no host", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("port %s is out of range 1-65535", p)
		}
	}
	return u, nil
}

// wsFromHTTP derives the websocket URL from an API's HTTP URL: ws://, or
// wss:// for https, on its host (and user, if it names one) with path /ws.
// The HTTP URL's path and query are the HTTP API's, not the socket's.
func wsFromHTTP(s string) (*url.URL, error) {
	u, err := parseHTTPURL(s)
	if err != nil {
		return nil, err
	}
	w := &url.URL{Scheme: "ws", User: u.User, Host: u.Host, Path: "/ws"}
	if u.Scheme == "https" {
		w.Scheme = "wss"
	}
	return w, nil
}

// unwrapURLError drops url.Error's repetition of the URL, which may hold a
// secret.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("invalid URL: %w", ue.Err)
	}
	return err
}

// Header names whose values are credentials whatever their source.
var credentialHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true,
	"X-Api-Key": true, "Api-Key": true, "X-Auth-Token": true,
}

// redactHeader hides the credentials of a header that carries them, keeping
// an authorization scheme ("Bearer ***") readable.
func redactHeader(name, value string) string {
	if !credentialHeaders[name] || value == "" || value == redacted {
		return value
	}
	scheme, rest, ok := strings.Cut(value, " ")
	if ok && rest != "" && !strings.Contains(scheme, "=") {
		return scheme + " " + redacted
	}
	return redacted
}
