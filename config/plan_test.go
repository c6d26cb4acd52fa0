package config

import (
	"context"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

// fakeEnv is an environment for tests.
func fakeEnv(vars map[string]string) Env {
	return Env{Getenv: func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}}
}

// planFor parses a one-API config and makes the plan of its websocket.
func planFor(t testing.TB, yaml string) *Plan {
	t.Helper()
	f, err := Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(nil); err != nil {
		t.Fatalf("config does not validate:\n%v", err)
	}
	p, err := NewPlan(&f.APIs[0])
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlanResolve(t *testing.T) {
	env := fakeEnv(map[string]string{
		"TOK": "t/k n", "HOST": "example.com:9000", "CH": "room 1", "WSURL": "ws://h/ws?a=1&flag",
	})
	tests := []struct {
		name       string
		websocket  string // the websocket section, indented by 6
		apiURL     string
		values     Values
		wantURL    string
		wantShown  string // "" means the same as wantURL
		wantHeader []Pair // redacted, in order
	}{
		{
			name: "ComfyUI: the id once, under the param's key",
			websocket: "url: ws://127.0.0.1:8188/ws\nclient_id_required: true\n" +
				"query_params: {clientId: \"{client_id}\"}",
			values:  Values{ClientID: "abc"},
			wantURL: "ws://127.0.0.1:8188/ws?clientId=abc",
		},
		{
			name:      "required id under client_id_name when no param has it",
			websocket: "url: ws://h/ws\nclient_id_required: true\nclient_id_name: cid",
			values:    Values{ClientID: "abc"},
			wantURL:   "ws://h/ws?cid=abc",
		},
		{
			name:      "a param that uses the placeholder under another key carries it",
			websocket: "url: ws://h/ws\nclient_id_required: true\nquery_params: {client_id: \"{client_id}\"}",
			values:    Values{ClientID: "abc"},
			wantURL:   "ws://h/ws?client_id=abc",
		},
		{
			name:      "not required: not added",
			websocket: "url: ws://h/ws",
			values:    Values{ClientID: "abc", Token: "t"},
			wantURL:   "ws://h/ws",
		},
		{
			name:      "derived from http: the host, with path /ws",
			apiURL:    "http://127.0.0.1:8188/comfy/",
			websocket: "client_id_required: true",
			values:    Values{ClientID: "abc"},
			wantURL:   "ws://127.0.0.1:8188/ws?clientId=abc",
		},
		{
			name:      "derived from https with a port, a path and a query",
			apiURL:    "\"https://h.example:8443/api/v1/?x=1\"",
			websocket: "client_id_required: true",
			values:    Values{ClientID: "abc"},
			wantURL:   "wss://h.example:8443/ws?clientId=abc",
		},
		{
			name:      "derived from https is wss",
			apiURL:    "https://api.example.com",
			websocket: "token_required: true\nauth_token: xyz",
			values:    Values{Token: "xyz"},
			wantURL:   "wss://api.example.com/ws?token=xyz",
			wantShown: "wss://api.example.com/ws?token=***",
		},
		{
			name: "URL query first, then params in file order, then required values",
			websocket: "url: \"ws://h/ws?z=1&a=2\"\n" +
				"query_params: {m: x, a: replaced, b: \"{channel}\"}\n" +
				"client_id_required: true\ntoken_required: true\nauth_token: t\n" +
				"session_id_required: true\nchannel_required: true\nchannel: c\n" +
				"version_required: true\nversion_name: v\nversion: 2",
			values: Values{ClientID: "id", Token: "tk", SessionID: "s", Channel: "c", Version: "2"},
			wantURL: "ws://h/ws?z=1&a=replaced&m=x&b=c&clientId=id&token=tk&" +
				"session_id=s&v=2",
			wantShown: "ws://h/ws?z=1&a=replaced&m=x&b=c&clientId=id&token=***&" +
				"session_id=s&v=2",
		},
		{
			name:      "empty session id is left out until there is one",
			websocket: "url: ws://h/ws\nsession_id_required: true",
			wantURL:   "ws://h/ws",
		},
		{
			name:      "escaping of keys and values",
			websocket: "url: ws://h/ws\nquery_params: {\"a b\": \"x&y=z/é\", q: \"{channel}\"}",
			values:    Values{Channel: "room 1+2"},
			wantURL:   "ws://h/ws?a+b=x%26y%3Dz%2F%C3%A9&q=room+1%2B2",
		},
		{
			name:      "placeholders in the url itself, env",
			websocket: "url: \"ws://{env:HOST}/ws/{channel}\"\nchannel: \"{env:CH}\"",
			values:    Values{Channel: "lobby"},
			wantURL:   "ws://example.com:9000/ws/lobby",
		},
		{
			name: "token in a param and in a header is redacted",
			websocket: "url: ws://h/ws\nquery_params: {auth: \"pre-{token}\"}\n" +
				"headers: {Authorization: \"Bearer {token}\", X-Id: \"{client_id}\"}",
			values:    Values{ClientID: "abc", Token: "t/k n"},
			wantURL:   "ws://h/ws?auth=pre-t%2Fk+n",
			wantShown: "ws://h/ws?auth=pre-***",
			wantHeader: []Pair{
				{Name: "Authorization", Value: "Bearer ***"},
				{Name: "X-Id", Value: "abc"},
			},
		},
		{
			name: "a credential header is redacted even when written in the file",
			websocket: "url: ws://h/ws\n" +
				"headers: {x-api-key: literal-key, authorization: Basic dXNlcjpwYXNz}",
			wantURL: "ws://h/ws",
			wantHeader: []Pair{
				{Name: "X-Api-Key", Value: "***"},
				{Name: "Authorization", Value: "Basic ***"},
			},
		},
		{
			name:      "a password in the URL is redacted",
			websocket: "url: \"ws://user:pa55@h/ws\"",
			wantURL:   "ws://user:pa55@h/ws",
			wantShown: "ws://user:xxxxx@h/ws",
		},
		{
			name:      "a fragment is dropped",
			websocket: "url: \"ws://h/ws#frag\"",
			wantURL:   "ws://h/ws",
		},
		{
			name: "the token in the url's own query: escaped, redacted, carried once",
			websocket: "url: \"ws://h/ws?token={token}\"\ntoken_required: true\n" +
				"auth_token: \"{env:TOK}\"",
			values:    Values{Token: "ab&admin=1#frag"},
			wantURL:   "ws://h/ws?token=ab%26admin%3D1%23frag",
			wantShown: "ws://h/ws?token=***",
		},
		{
			name:      "the token in the path: one segment, redacted",
			websocket: "url: \"ws://h/{token}/ws\"\nauth_token: \"{env:TOK}\"",
			values:    Values{Token: "a/b?c#d %"},
			wantURL:   "ws://h/a%2Fb%3Fc%23d%20%25/ws",
			wantShown: "ws://h/***/ws",
		},
		{
			name:      "the token under another key of the url's own query",
			websocket: "url: \"ws://h/ws?k=pre-{token}&z=1\"\ntoken_required: true\nauth_token: t",
			values:    Values{Token: "t k"},
			wantURL:   "ws://h/ws?k=pre-t+k&z=1",
			wantShown: "ws://h/ws?k=pre-***&z=1",
		},
		{
			name: "the id in the url's own query carries it; that query stays as written",
			websocket: "url: \"ws://h/ws?cid={client_id}&a=x%20y&b=+&flag\"\n" +
				"client_id_required: true",
			values:  Values{ClientID: "abc"},
			wantURL: "ws://h/ws?cid=abc&a=x%20y&b=+&flag",
		},
		{
			name: "a param replaces one of the url's own in place",
			websocket: "url: \"ws://h/ws?a=1&flag&b=2\"\n" +
				"query_params: {flag: \"x y\", c: \"{channel}\"}",
			values:  Values{Channel: "&c=d"},
			wantURL: "ws://h/ws?a=1&flag=x+y&b=2&c=%26c%3Dd",
		},
		{
			name:      "a url's own parameter without a value is filled with the required id",
			websocket: "url: \"ws://h/ws?clientId&a=1\"\nclient_id_required: true",
			values:    Values{ClientID: "abc"},
			wantURL:   "ws://h/ws?clientId=abc&a=1",
		},
		{
			name:      "an empty param under the id's name is filled with the id",
			websocket: "url: ws://h/ws\nclient_id_required: true\nquery_params: {clientId: \"\"}",
			values:    Values{ClientID: "abc"},
			wantURL:   "ws://h/ws?clientId=abc",
		},
		{
			name:      "a param of the file's own under the id's name needs no id",
			websocket: "url: ws://h/ws\nclient_id_required: true\nquery_params: {clientId: mine}",
			wantURL:   "ws://h/ws?clientId=mine",
		},
		{
			name:      "a param of the file's own under the id's name carries it",
			websocket: "url: ws://h/ws\nclient_id_required: true\nquery_params: {clientId: mine}",
			values:    Values{ClientID: "abc"},
			wantURL:   "ws://h/ws?clientId=mine",
		},
		{
			name:      "values in the path and query are escaped, the host's are not",
			websocket: "url: \"ws://{env:HOST}/a b/{channel}?h={env:HOST}&{channel}=1\"",
			values:    Values{Channel: "x/y"},
			wantURL:   "ws://example.com:9000/a%20b/x%2Fy?h=example.com%3A9000&x%2Fy=1",
		},
		{
			name:      "a placeholder that is the whole url brings its own query",
			websocket: "url: \"{env:WSURL}\"\nquery_params: {b: \"{client_id}\"}",
			values:    Values{ClientID: "abc"},
			wantURL:   "ws://h/ws?a=1&flag&b=abc",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apiURL := tt.apiURL
			if apiURL == "" {
				apiURL = "http://127.0.0.1:8188"
			}
			ws := "      " + strings.ReplaceAll(tt.websocket, "\n", "\n      ")
			p := planFor(t, "apis:\n  - name: A\n    url: "+apiURL+"\n    websocket:\n"+ws+"\n")
			target, err := p.Resolve(context.Background(), &tt.values, env)
			if err != nil {
				t.Fatal(err)
			}
			if target.URL != tt.wantURL {
				t.Errorf("URL\n got %s\nwant %s", target.URL, tt.wantURL)
			}
			wantShown := tt.wantShown
			if wantShown == "" {
				wantShown = tt.wantURL
			}
			if target.Redacted() != wantShown || target.String() != wantShown {
				t.Errorf("Redacted\n got %s\nwant %s", target.Redacted(), wantShown)
			}
			if !reflect.DeepEqual(target.RedactedHeader(), tt.wantHeader) {
				t.Errorf("RedactedHeader = %v, want %v", target.RedactedHeader(), tt.wantHeader)
			}
			if _, err := url.Parse(target.URL); err != nil {
				t.Errorf("result does not parse: %v", err)
			}
		})
	}
}

func TestPlanResolveHeaders(t *testing.T) {
	p := planFor(t, `
apis:
  - name: A
    url: http://h
    websocket:
      headers:
        Authorization: "Bearer {token}"
        x-client: "{client_id}"
`)
	target, err := p.Resolve(context.Background(), &Values{ClientID: "c", Token: "tk"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := target.Header.Get("Authorization"); got != "Bearer tk" {
		t.Errorf("Authorization = %q", got)
	}
	if got := target.Header.Get("X-Client"); got != "c" {
		t.Errorf("X-Client = %q", got)
	}
}

func TestPlanValues(t *testing.T) {
	p := planFor(t, `
apis:
  - name: A
    url: http://h
    websocket:
      client_id: "fixed-{env:SUFFIX}"
      auth_token: "{env:TOK}"
      session_id: s1
      channel: 7
      version: 2.0
`)
	v, err := p.Values(context.Background(), fakeEnv(map[string]string{"TOK": "tk", "SUFFIX": "x"}))
	if err != nil {
		t.Fatal(err)
	}
	want := Values{ClientID: "fixed-x", Token: "tk", SessionID: "s1", Channel: "7", Version: "2.0"}
	if v != want {
		t.Errorf("Values = %+v, want %+v", v, want)
	}

	_, err = p.Values(context.Background(), fakeEnv(map[string]string{"SUFFIX": "x"}))
	want2 := "api[A] auth_token: {env:TOK}: environment variable TOK is not set"
	if err == nil || err.Error() != want2 {
		t.Errorf("error = %v, want %q", err, want2)
	}
}

func TestPlanResolveErrors(t *testing.T) {
	tests := []struct {
		name, websocket, want string
		values                Values
	}{
		{
			"scheme from env",
			`url: "{env:U}"`,
			`api[A] websocket url: scheme must be ws or wss, got "http"`,
			Values{},
		},
		{
			"unset env in header",
			`headers: {X: "{env:NOPE}"}`,
			"api[A] headers.X: {env:NOPE}: environment variable NOPE is not set",
			Values{},
		},
		{
			"secret URL is not echoed",
			`url: "{token}"`,
			"api[A] websocket url: invalid URL (not shown: it holds a secret)",
			Values{Token: "ht tp://bad"},
		},
		{
			"an empty token",
			"token_required: true\n      auth_token: \"{env:TOK}\"",
			"api[A] websocket.auth_token: resolved to an empty value; token_required needs one",
			Values{},
		},
		{
			"an empty token in the url's own query",
			"url: \"ws://h/ws?token={token}\"\n      token_required: true\n" +
				"      auth_token: \"{env:TOK}\"",
			"api[A] websocket.auth_token: resolved to an empty value; token_required needs one",
			Values{},
		},
		{
			"an empty client id in a param",
			"client_id_required: true\n      query_params: {clientId: \"{client_id}\"}",
			"api[A] websocket.client_id: resolved to an empty value; client_id_required needs one",
			Values{},
		},
		{
			"an empty channel",
			"channel_required: true\n      channel: \"{env:CH}\"",
			"api[A] websocket.channel: resolved to an empty value; channel_required needs one",
			Values{Token: "t"},
		},
		{
			"an empty version",
			"version_required: true\n      version: \"{env:V}\"",
			"api[A] websocket.version: resolved to an empty value; version_required needs one",
			Values{},
		},
		{
			"an empty session id the config sets",
			"session_id_required: true\n      session_id: \"{env:S}\"",
			"api[A] websocket.session_id: resolved to an empty value; " +
				"session_id_required needs one",
			Values{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := planFor(t, "apis:\n  - name: A\n    url: http://h\n    websocket:\n      "+
				tt.websocket+"\n")
			env := fakeEnv(map[string]string{"U": "http://x/ws"})
			_, err := p.Resolve(context.Background(), &tt.values, env)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzResolveURL builds URLs from arbitrary values, a query parameter and
// path text, with placeholders in the URL's own path and query. The result
// must parse; each placeholder's value must come back exactly, under its
// key or as its path segment, whatever it holds, and no value may add a
// parameter; the redacted form must parse and hide the token.
func FuzzResolveURL(f *testing.F) {
	f.Add("abc", "tok", "room", "k", "v", "/ws")
	f.Add("a&b=c", "t k/%", "a/b?c#d", "a b", "{client_id}", "/x?y=1")
	f.Add("", "", "", "", "", "")
	f.Add("é\x00", "\xff", "..", "=", "&", "?#")
	f.Add("id&cid=evil", "ab&admin=1#frag", "%2F", "token", "x", "/a b")
	f.Add("i", "t", "c", "cid", "{token}", "@evil:2")
	f.Fuzz(func(t *testing.T, clientID, token, channel, key, value, path string) {
		ws := &Websocket{
			URL: "ws://h:1" + EscapeTemplate(path) +
				"/{channel}/end?cid={client_id}&tok={token}",
			ClientIDRequired: true, ClientIDName: "clientId",
			TokenRequired: true, TokenName: "token", AuthToken: "x",
			QueryParams: []Pair{{Name: key, Value: value}},
		}
		p, err := NewPlan(&API{Name: "A", URL: "http://h", Websocket: ws})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		v := Values{ClientID: clientID, Token: Secret(token), Channel: channel}
		target, err := p.Resolve(ctx, &v, nil)
		if err != nil {
			return // a bad path, an unknown placeholder in value: an error, not a panic
		}
		u, err := url.Parse(target.URL)
		if err != nil {
			t.Fatalf("built URL %q does not parse: %v", target.URL, err)
		}
		shown, err := url.Parse(target.Redacted())
		if err != nil {
			t.Fatalf("redacted URL %q does not parse: %v", target.Redacted(), err)
		}
		if strings.ContainsAny(path, "?#") {
			return // the placeholders are in the query, or in the fragment, which is dropped
		}

		segs := strings.Split(u.EscapedPath(), "/")
		if len(segs) < 3 || segs[len(segs)-1] != "end" {
			t.Fatalf("path of %q does not end in /{channel}/end", target.URL)
		}
		if got, err := url.PathUnescape(segs[len(segs)-2]); err != nil || got != channel {
			t.Fatalf("channel segment of %q = %q (%v), want %q", target.URL, got, err, channel)
		}

		want := map[string]string{"cid": clientID, "tok": token}
		if key == "cid" || key == "tok" {
			rv, err := ParseTemplate(value).Resolve(ctx, &v)
			if err != nil {
				t.Fatalf("Resolve took %q, which does not resolve: %v", value, err)
			}
			want[key] = rv
		}
		got := queryValues(t, u.RawQuery)
		for k, w := range want {
			if len(got[k]) != 1 || got[k][0] != w {
				t.Fatalf("%s = %q in %q, want exactly [%q]", k, got[k], target.URL, w)
			}
		}
		if key != "tok" && len(got["token"]) > 1 {
			t.Fatalf("token added to %q though tok carries it", target.URL)
		}
		if token != "" && key != "tok" {
			sq := queryValues(t, shown.RawQuery)
			if len(sq["tok"]) != 1 || sq["tok"][0] != redacted {
				t.Fatalf("redacted URL %q shows the token", target.Redacted())
			}
		}
	})
}

// queryValues reads a raw query as a server does, keeping ';' in values.
func queryValues(t *testing.T, raw string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, kv := range strings.Split(raw, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		key, err1 := url.QueryUnescape(k)
		val, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			t.Fatalf("query %q has a bad escape in %q", raw, kv)
		}
		out[key] = append(out[key], val)
	}
	return out
}

// BenchmarkResolveURL measures building a typical client's URL and headers
// on connect: a ComfyUI-like URL with a client id, a token parameter and an
// authorization header.
func BenchmarkResolveURL(b *testing.B) {
	p := planFor(b, `
apis:
  - name: ComfyUI
    url: http://127.0.0.1:8188
    websocket:
      url: ws://127.0.0.1:8188/ws
      client_id_required: true
      token_required: true
      auth_token: secret-token
      query_params: {clientId: "{client_id}", app: wsplug}
      headers: {Authorization: "Bearer {token}", X-Client: "{client_id}"}
`)
	v := Values{ClientID: "6f1c3f9e-2a55-4a0e-9d3b-0f4f7f3c9c11", Token: "secret-token"}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Resolve(ctx, &v, nil); err != nil {
			b.Fatal(err)
		}
	}
}
