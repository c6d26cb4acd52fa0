package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// base is a valid config; bad cases below each break one thing in a copy.
const base = `apis:
  - name: ComfyUI
    url: http://127.0.0.1:8188
    endpoints:
      - {name: Queue prompt, path: /prompt, method: POST}
    websocket:
      client_id_required: true
      query_params:
        clientId: "{client_id}"
plugins:
  - name: ids
    path: ids.wasm
`

func TestBaseIsValid(t *testing.T) {
	f, err := Parse("wsplug.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(nil); err != nil {
		t.Fatal(err)
	}
}

// testNames are the providers of a host with one plugin loaded.
type testNames struct{}

func (testNames) ClientIDFormats() []string { return []string{"ulid"} }
func (testNames) Placeholders() []string    { return []string{"jwt"} }
func (testNames) Transforms() []string      { return []string{"wrap", "filter"} }

func TestValidationProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every problem, exactly, in file order
	}{
		{
			name: "unknown key with suggestion",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      tokn_name: x\n",
			want: []string{"wsplug.yaml:5:7: apis[0].websocket.tokn_name: " +
				"unknown key; did you mean token_name?"},
		},
		{
			name: "unknown key without a close match",
			yaml: "apis:\n  - name: A\n    url: http://h\n    colour: red\n",
			want: []string{"wsplug.yaml:4:5: apis[0].colour: unknown key"},
		},
		{
			name: "negative retry",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      retry: -2\n",
			want: []string{"wsplug.yaml:5:7: apis[0].websocket.retry: " +
				"must be >= -1 (-1 retries without end), got -2"},
		},
		{
			name: "retry of the wrong type",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      retry: many\n",
			want: []string{`wsplug.yaml:5:7: apis[0].websocket.retry: expected an integer, got string "many"`},
		},
		{
			name: "bool written as yes",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      client_id_required: yes\n",
			want: []string{`wsplug.yaml:5:7: apis[0].websocket.client_id_required: ` +
				`expected true or false, got string "yes"`},
		},
		{
			name: "null where a default exists",
			yaml: "apis:\n  - name: A\n    url: http://h\n    enabled: null\n",
			want: []string{"wsplug.yaml:4:5: apis[0].enabled: expected true or false, got null; " +
				"leave the key out to use the default"},
		},
		{
			name: "token required without a token",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      token_required: true\n",
			want: []string{"wsplug.yaml:5:7: apis[0].websocket.token_required: is true but auth_token is not set; " +
				"set it (a placeholder such as {env:NAME} will do) or set token_required to false"},
		},
		{
			name: "channel and version required without values",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n" +
				"      channel_required: true\n      version_required: true\n",
			want: []string{
				"wsplug.yaml:5:7: apis[0].websocket.channel_required: is true but channel is not set; " +
					"set it (a placeholder such as {env:NAME} will do) or set channel_required to false",
				"wsplug.yaml:6:7: apis[0].websocket.version_required: is true but version is not set; " +
					"set it (a placeholder such as {env:NAME} will do) or set version_required to false",
			},
		},
		{
			name: "unknown client_id_format lists the formats",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      client_id_format: uuid5\n",
			want: []string{`wsplug.yaml:5:7: apis[0].websocket.client_id_format: unknown client_id_format "uuid5"; ` +
				"did you mean uuid?; available: env_user, hex, int, machine, opaque, short, timestamp, uuid, uuid7"},
		},
		{
			name: "a plugin's format is unknown without the plugin",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      client_id_format: ulid\n",
			want: []string{`wsplug.yaml:5:7: apis[0].websocket.client_id_format: unknown client_id_format "ulid"; ` +
				"did you mean uuid?; available: env_user, hex, int, machine, opaque, short, timestamp, uuid, uuid7"},
		},
		{
			name: "unknown placeholder in a query parameter",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      query_params:\n        t: \"{tokn}\"\n",
			want: []string{"wsplug.yaml:6:9: apis[0].websocket.query_params.t: " +
				"unknown placeholder {tokn}; did you mean {token}?"},
		},
		{
			name: "unknown placeholder in a header, no close match",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      headers:\n        X: \"{zzzzzz}\"\n",
			want: []string{"wsplug.yaml:6:9: apis[0].websocket.headers.X: unknown placeholder {zzzzzz}; " +
				"known: client_id, token, session_id, channel, version, env"},
		},
		{
			name: "env without a name",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      auth_token: \"{env}\"\n",
			want: []string{"wsplug.yaml:5:7: apis[0].websocket.auth_token: " +
				"{env} needs a variable name, as in {env:NAME}"},
		},
		{
			name: "a value that refers to itself",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      auth_token: \"{token}\"\n",
			want: []string{"wsplug.yaml:5:7: apis[0].websocket.auth_token: {token} cannot be used here: this key " +
				"sets one of the connection values; use {env:NAME} or a plugin's placeholder"},
		},
		{
			name: "websocket url with an http scheme",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      url: http://h/ws\n",
			want: []string{`wsplug.yaml:5:7: apis[0].websocket.url: scheme must be ws or wss, got "http"`},
		},
		{
			name: "api url with a bad scheme",
			yaml: "apis:\n  - name: A\n    url: ftp://h\n",
			want: []string{`wsplug.yaml:3:5: apis[0].url: scheme must be http or https, got "ftp"`},
		},
		{
			name: "api url that does not parse",
			yaml: "apis:\n  - name: A\n    url: \"http://h:port\"\n",
			want: []string{`wsplug.yaml:3:5: apis[0].url: invalid URL: invalid port ":port" after host`},
		},
		{
			name: "api url without a host",
			yaml: "apis:\n  - name: A\n    url: \"http:///x\"\n",
			want: []string{`wsplug.yaml:3:5: apis[0].url: "http:///x" has no host`},
		},
		{
			name: "missing name and url",
			yaml: "apis:\n  - enabled: true\n",
			want: []string{"wsplug.yaml:2:5: apis[0].name: missing", "wsplug.yaml:2:5: apis[0].url: missing"},
		},
		{
			name: "duplicate api names",
			yaml: "apis:\n  - name: A\n    url: http://h\n  - name: A\n    url: http://h\n",
			want: []string{`wsplug.yaml:4:5: apis[1].name: api "A" is already defined at line 2`},
		},
		{
			name: "duplicate endpoint names",
			yaml: "apis:\n  - name: A\n    url: http://h\n    endpoints:\n" +
				"      - {name: E, path: /a}\n      - {name: E, path: /b}\n",
			want: []string{`wsplug.yaml:6:10: apis[0].endpoints[1].name: ` +
				`endpoint "E" is already defined at line 5`},
		},
		{
			name: "duplicate key",
			yaml: "apis:\n  - name: A\n    url: http://h\n    name: B\n",
			want: []string{"wsplug.yaml:4:5: apis[0].name: key given twice"},
		},
		{
			name: "unknown method and payload type",
			yaml: "apis:\n  - name: A\n    url: http://h\n    endpoints:\n" +
				"      - {name: E, path: /a, method: FETCH, payload_type: xml}\n",
			want: []string{
				`wsplug.yaml:5:29: apis[0].endpoints[0].method: unknown HTTP method "FETCH"; ` +
					"expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS, " +
					"or null for no request",
				"wsplug.yaml:5:44: apis[0].endpoints[0].payload_type: " +
					`unknown payload_type "xml"; expected one of json, form, query, multipart`,
			},
		},
		{
			name: "negative timeouts",
			yaml: "apis:\n  - name: A\n    url: http://h\n    default_timeout: -2\n" +
				"    endpoints:\n      - {name: E, path: /a, timeout: -0.5, retry: -1}\n",
			want: []string{
				"wsplug.yaml:4:5: apis[0].default_timeout: must be >= 0 seconds, got -2",
				"wsplug.yaml:6:29: apis[0].endpoints[0].timeout: must be >= 0 seconds, got -0.5",
				"wsplug.yaml:6:44: apis[0].endpoints[0].retry: must be >= 0, got -1",
			},
		},
		{
			name: "durations: no unit, negative, nonsense",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n" +
				"      ping_interval: 30\n      pong_timeout: -1s\n" +
				"      backoff: {initial: soon}\n",
			want: []string{
				"wsplug.yaml:5:7: apis[0].websocket.ping_interval: " +
					"a duration needs a unit, as in 30s or 30ms; got 30",
				"wsplug.yaml:6:7: apis[0].websocket.pong_timeout: must be more than 0, got -1s",
				"wsplug.yaml:7:17: apis[0].websocket.backoff.initial: " +
					`expected a duration such as "500ms" or "1m30s", got "soon"`,
			},
		},
		{
			name: "backoff max below initial",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      backoff: {initial: 2s, max: 1s}\n",
			want: []string{"wsplug.yaml:5:30: apis[0].websocket.backoff.max: " +
				"must be >= backoff.initial (2s), got 1s"},
		},
		{
			name: "bad size and queue",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n" +
				"      max_message_size: 16XB\n      send_queue: -1\n",
			want: []string{
				"wsplug.yaml:5:7: apis[0].websocket.max_message_size: " +
					`expected a size such as "16MiB" or "512KB", got "16XB"`,
				"wsplug.yaml:6:7: apis[0].websocket.send_queue: must be >= 0, got -1",
			},
		},
		{
			name: "session_id_from without a usable path",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n" +
				"      session_id_from: {type: status, path: data..sid}\n",
			want: []string{`wsplug.yaml:5:39: apis[0].websocket.session_id_from.path: ` +
				`"data..sid" is not a dotted path such as data.sid: it has an empty part`},
		},
		{
			name: "session_id_from without a type",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      session_id_from: {path: data.sid}\n",
			want: []string{"wsplug.yaml:5:7: apis[0].websocket.session_id_from.type: missing"},
		},
		{
			name: "unknown transform with no plugin",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      transforms: {outgoing: [wrap]}\n",
			want: []string{`wsplug.yaml:5:31: apis[0].websocket.transforms.outgoing[0]: ` +
				`unknown transform "wrap"; no plugin loaded provides transforms`},
		},
		{
			name: "transform policy, subprotocol and dial timeout",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      transform_errors: ignore\n" +
				"      subprotocols: [\"a b\"]\n      dial_timeout: 0s\n",
			want: []string{
				"wsplug.yaml:5:7: apis[0].websocket.transform_errors: " +
					`unknown policy "ignore"; expected fail, drop, pass`,
				`wsplug.yaml:6:22: apis[0].websocket.subprotocols[0]: "a b" is not a valid subprotocol name`,
				"wsplug.yaml:7:7: apis[0].websocket.dial_timeout: must be more than 0, got 0s",
			},
		},
		{
			name: "headers as a list",
			yaml: "apis:\n  - name: A\n    url: http://h\n    websocket:\n      headers: [a, b]\n",
			want: []string{"wsplug.yaml:5:7: apis[0].websocket.headers: " +
				"expected a mapping of names to values, got a list"},
		},
		{
			name: "bad header name",
			yaml: "apis:\n  - name: A\n    url: http://h\n    default_headers: {\"Bad Name\": x}\n",
			want: []string{`wsplug.yaml:4:23: apis[0].default_headers.Bad Name: "Bad Name" is not a valid header name`},
		},
		{
			name: "auth without a password",
			yaml: "apis:\n  - name: A\n    url: http://h\n    auth: {username: u}\n",
			want: []string{"wsplug.yaml:4:5: apis[0].auth.password: missing"},
		},
		{
			name: "apis and all_apis both",
			yaml: "apis: []\nall_apis: []\n",
			want: []string{"wsplug.yaml:2:1: all_apis: names the same list as apis; keep one"},
		},
		{
			name: "misspelt top-level key",
			yaml: "apiss:\n  - name: A\n",
			want: []string{
				"wsplug.yaml:1:1: apiss: unknown key; did you mean apis?",
			},
		},
		{
			name: "apis not a list",
			yaml: "apis: {name: A}\n",
			want: []string{"wsplug.yaml:1:1: apis: expected a list, got a mapping"},
		},
		{
			name: "plugin problems",
			yaml: "apis: []\nplugins:\n  - name: \"my plugin\"\n    sha256: abc\n    allow: [clock, network, clock]\n" +
				"    limits: {memory: 1KiB, timeout: -1s, instances: 0, threads: 2}\n",
			want: []string{
				`wsplug.yaml:3:5: plugins[0].name: "my plugin": a plugin name is letters, digits, '_' and '-'`,
				"wsplug.yaml:3:5: plugins[0].path: missing",
				"wsplug.yaml:4:5: plugins[0].sha256: expected 64 hex digits, got 3 characters",
				`wsplug.yaml:5:20: plugins[0].allow[1]: unknown capability "network"; known: clock, random, secrets`,
				`wsplug.yaml:5:29: plugins[0].allow[2]: capability "clock" is given twice`,
				"wsplug.yaml:6:14: plugins[0].limits.memory: must be at least 64KiB (one Wasm page), got 1KiB",
				"wsplug.yaml:6:28: plugins[0].limits.timeout: must not be negative, got -1s",
				"wsplug.yaml:6:42: plugins[0].limits.instances: must be >= 1, got 0",
				"wsplug.yaml:6:56: plugins[0].limits.threads: unknown key",
			},
		},
		{
			name: "duplicate plugin names",
			yaml: "apis: []\nplugins:\n  - {name: p, path: a.wasm}\n  - {name: p, path: b.wasm}\n",
			want: []string{`wsplug.yaml:4:6: plugins[1].name: plugin "p" is already defined at line 3`},
		},
		{
			name: "empty file",
			yaml: "",
			want: []string{"wsplug.yaml: the file is empty; it needs a list of apis"},
		},
		{
			name: "a config value that is not JSON",
			yaml: "apis: []\nplugins:\n  - name: p\n    path: p.wasm\n    config: {x: .inf}\n",
			want: []string{"wsplug.yaml:5:14: plugins[0].config.x: .inf cannot be written as JSON"},
		},
		{
			name: "a second document",
			yaml: "apis: []\n---\napis: [1]\n",
			want: []string{"wsplug.yaml:2:1: a second YAML document starts here; " +
				"wsplug reads one document per file"},
		},
		{
			name: "an empty second document loses nothing",
			yaml: "apis: []\n---\n# the end\n",
		},
		{
			name: "nested aliases in a plugin's config",
			yaml: aliasBomb,
			want: []string{"wsplug.yaml:9:44: plugins[0].config.l3[7]: aliases expand to " +
				"more than 10000 values; write the data out or nest fewer aliases"},
		},
		{
			name: "an anchor used hundreds of times is fine",
			yaml: "apis: []\nplugins:\n  - name: p\n    path: p.wasm\n    config:\n" +
				"      a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9]\n" +
				"      b: [" + strings.Repeat("*a, ", 900) + "*a]\n",
		},
		{
			name: "nested merge keys in headers",
			yaml: "x-0: &h0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}\n" +
				"x-1: &h1 {<<: [*h0, *h0, *h0, *h0, *h0, *h0, *h0, *h0]}\n" +
				"x-2: &h2 {<<: [*h1, *h1, *h1, *h1, *h1, *h1, *h1, *h1]}\n" +
				"x-3: &h3 {<<: [*h2, *h2, *h2, *h2, *h2, *h2, *h2, *h2]}\n" +
				"x-4: &h4 {<<: [*h3, *h3, *h3, *h3, *h3, *h3, *h3, *h3]}\n" +
				"x-5: &h5 {<<: [*h4, *h4, *h4, *h4, *h4, *h4, *h4, *h4]}\n" +
				"apis:\n  - name: A\n    url: http://h\n    default_headers: {<<: *h5}\n",
			want: []string{"wsplug.yaml:10:23: apis[0].default_headers: aliases expand to " +
				"more than 10000 values; write the data out or nest fewer aliases"},
		},
		{
			name: "a secret of the wrong type is not quoted",
			yaml: "apis:\n  - name: A\n    url: http://h\n    auth: \"user:hunter2secret\"\n" +
				"    default_headers: \"Authorization: Bearer sk-live-123\"\n" +
				"    endpoints: [{name: E, headers: 12345}]\n" +
				"    websocket: {headers: \"X-Key: k\", query_params: \"token=t\"}\n",
			want: []string{
				"wsplug.yaml:4:5: apis[0].auth: expected a mapping, got a string",
				"wsplug.yaml:5:5: apis[0].default_headers: " +
					"expected a mapping of names to values, got a string",
				"wsplug.yaml:6:27: apis[0].endpoints[0].headers: " +
					"expected a mapping of names to values, got an integer",
				"wsplug.yaml:7:17: apis[0].websocket.headers: " +
					"expected a mapping of names to values, got a string",
				"wsplug.yaml:7:38: apis[0].websocket.query_params: " +
					"expected a mapping of names to values, got a string",
			},
		},
		{
			name: "braces in a literal secret are not echoed",
			yaml: "apis:\n  - name: A\n    url: http://h\n" +
				"    auth: {username: u, password: \"p{w:x}q\"}\n" +
				"    websocket:\n      auth_token: \"ab{cd}ef\"\n" +
				"      headers: {X-Api-Key: \"{token:k3y}\"}\n",
			want: []string{
				"wsplug.yaml:4:25: apis[0].auth.password: " +
					"unknown placeholder (not shown: this key holds a secret); " +
					"known: client_id, token, session_id, channel, version, env; " +
					"a literal { is written {{",
				"wsplug.yaml:6:7: apis[0].websocket.auth_token: " +
					"unknown placeholder (not shown: this key holds a secret); " +
					"known: client_id, token, session_id, channel, version, env; " +
					"a literal { is written {{",
				"wsplug.yaml:7:17: apis[0].websocket.headers.X-Api-Key: " +
					"{token:...} takes no argument",
			},
		},
		{
			name: "header names that differ only in case",
			yaml: "apis:\n  - name: A\n    url: http://h\n" +
				"    default_headers: {x-a: \"1\", X-A: \"2\"}\n" +
				"    endpoints:\n      - name: E\n        headers:\n          accept: a\n" +
				"          ACCEPT: b\n    websocket:\n" +
				"      headers: {Authorization: x, authorization: y}\n",
			want: []string{
				`wsplug.yaml:4:33: apis[0].default_headers.X-A: ` +
					`"X-A" is the same header as "x-a" on line 4, column 23 ` +
					"(header names ignore case); keep one",
				`wsplug.yaml:9:11: apis[0].endpoints[0].headers.ACCEPT: ` +
					`"ACCEPT" is the same header as "accept" on line 8, column 11 ` +
					"(header names ignore case); keep one",
				`wsplug.yaml:11:35: apis[0].websocket.headers.authorization: ` +
					`"authorization" is the same header as "Authorization" on line 11, column 17 ` +
					"(header names ignore case); keep one",
			},
		},
		{
			name: "ports out of range",
			yaml: "apis:\n  - name: A\n    url: \"http://h:70000\"\n" +
				"    websocket: {url: \"ws://h:0/ws\"}\n",
			want: []string{
				"wsplug.yaml:3:5: apis[0].url: port 70000 is out of range 1-65535",
				"wsplug.yaml:4:17: apis[0].websocket.url: port 0 is out of range 1-65535",
			},
		},
		{
			name: "a URL with spaces around it",
			yaml: "apis:\n  - name: A\n    url: \" http://h\"\n" +
				"    websocket: {url: \"ws://h/ws \"}\n",
			want: []string{
				"wsplug.yaml:3:5: apis[0].url: the URL has spaces before or after it; remove them",
				"wsplug.yaml:4:17: apis[0].websocket.url: the URL has spaces before or after it; " +
					"remove them",
			},
		},
		{
			name: "every problem at once, across sections",
			yaml: "apis:\n  - name: A\n    url: ws://h\n    websocket:\n" +
				"      retry: -5\n      tokn_name: x\n" +
				"  - name: B\n    url: http://h\n    enabled: maybe\n",
			want: []string{
				`wsplug.yaml:3:5: apis[0].url: scheme must be http or https, got "ws"`,
				"wsplug.yaml:5:7: apis[0].websocket.retry: must be >= -1 (-1 retries without end), got -5",
				"wsplug.yaml:6:7: apis[0].websocket.tokn_name: unknown key; did you mean token_name?",
				`wsplug.yaml:9:5: apis[1].enabled: expected true or false, got string "maybe"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, tt.yaml, nil)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tt.want, "\n     "))
			}
		})
	}
	if len(tests) < 25 {
		t.Errorf("only %d cases", len(tests))
	}
}

// problems validates yaml and returns each problem as a line.
func problems(t *testing.T, yaml string, names Names) []string {
	t.Helper()
	f, err := Parse("wsplug.yaml", []byte(yaml))
	if err == nil {
		err = f.Validate(names)
	}
	if err == nil {
		return nil
	}
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a *ValidationError, got %T: %v", err, err)
	}
	var out []string
	for _, p := range ve.Problems {
		out = append(out, p.String())
	}
	return out
}

// aliasBomb is 431 bytes whose nested aliases make a million values.
const aliasBomb = `apis: []
plugins:
  - name: p
    path: p.wasm
    config:
      l0: &l0 [x,x,x,x,x,x,x,x,x,x]
      l1: &l1 [*l0,*l0,*l0,*l0,*l0,*l0,*l0,*l0,*l0,*l0]
      l2: &l2 [*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1,*l1]
      l3: &l3 [*l2,*l2,*l2,*l2,*l2,*l2,*l2,*l2,*l2,*l2]
      l4: &l4 [*l3,*l3,*l3,*l3,*l3,*l3,*l3,*l3,*l3,*l3]
      l5: &l5 [*l4,*l4,*l4,*l4,*l4,*l4,*l4,*l4,*l4,*l4]
      l6: &l6 [*l5,*l5,*l5,*l5,*l5,*l5,*l5,*l5,*l5,*l5]
`

func TestYAMLSyntaxError(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       string
	}{
		{
			name: "mapping in a plain scalar",
			yaml: "apis:\n  - name: A\n    url: x: y\n",
			want: "wsplug.yaml:3: invalid YAML: mapping values are not allowed in this context",
		},
		{
			name: "a tab that starts a line",
			yaml: "apis:\n\t- name: A\n",
			want: "wsplug.yaml:2: invalid YAML: found character that cannot start any token; " +
				"YAML does not allow tabs for indentation",
		},
		{
			name: "a tab after spaces, on the line after the one yaml.v3 names",
			yaml: "apis:\n  - name: A\n  \turl: x\n",
			want: "wsplug.yaml:3: invalid YAML: found a tab character that violates indentation; " +
				"YAML does not allow tabs for indentation",
		},
		{
			name: "a syntax error in a second document",
			yaml: "apis: []\n---\n]x\n",
			want: "wsplug.yaml:2: invalid YAML: did not find expected node content",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := problems(t, tt.yaml, nil)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestNamesFromProviders(t *testing.T) {
	yaml := "apis:\n  - name: A\n    url: http://h\n    websocket:\n      client_id_format: ulid\n" +
		"      headers: {Authorization: \"Bearer {jwt}\"}\n      transforms: {outgoing: [wrap], incoming: [filtr]}\n"
	got := problems(t, yaml, testNames{})
	want := []string{`wsplug.yaml:7:49: apis[0].websocket.transforms.incoming[0]: unknown transform "filtr"; ` +
		"did you mean filter?; available: filter, wrap"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestDefaults(t *testing.T) {
	f, err := Parse("wsplug.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(nil); err != nil {
		t.Fatal(err)
	}
	a := f.APIs[0]
	if !a.Enabled || a.DefaultTimeout != 60*time.Second || a.Auth != nil {
		t.Errorf("api defaults: %+v", a)
	}
	e := a.Endpoints[0]
	if e.Method != "POST" || e.PayloadType != PayloadJSON || e.Retry != 0 || e.Timeout != 0 {
		t.Errorf("endpoint defaults: %+v", e)
	}
	want := defaultWebsocket()
	want.ClientIDRequired = true
	want.QueryParams = []Pair{{Name: "clientId", Value: "{client_id}"}}
	if !reflect.DeepEqual(*a.Websocket, want) {
		t.Errorf("websocket:\n got %+v\nwant %+v", *a.Websocket, want)
	}
	if w := *a.Websocket; w.ClientIDFormat != "uuid" || w.TokenName != "token" || w.SessionIDName != "session_id" ||
		w.ChannelName != "channel" || w.VersionName != "version" || !w.ReconnectOnFailure || w.Retry != 1 ||
		w.ClientIDName != "clientId" || w.Backoff != (Backoff{500 * time.Millisecond, 30 * time.Second}) ||
		w.PingInterval != 30*time.Second || w.PongTimeout != 10*time.Second ||
		w.MaxMessageSize != 16<<20 || w.SendQueue != 1024 {
		t.Errorf("websocket defaults differ from the documented ones: %+v", w)
	}
	p := f.Plugins[0]
	if p.Limits != (Limits{Memory: 64 << 20, Timeout: time.Second, Instances: 4}) || p.File != "ids.wasm" {
		t.Errorf("plugin defaults: %+v", p)
	}
}

func TestEveryKeyDecodes(t *testing.T) {
	const yaml = `
x-defaults: &ws
  ping_interval: 0
all_apis:
  - name: Full
    url: https://api.example.com/base
    enabled: false
    default_headers: {Content-Type: application/json}
    default_timeout: 2.5
    auth: {username: u, password: p}
    endpoints:
      - {name: N, path: /x, method: null, headers: {A: b}, timeout: 3, retry: 2, payload_type: form}
    websocket:
      <<: *ws
      url: wss://api.example.com/socket
      client_id_required: true
      client_id_format: hex
      client_id_name: cid
      client_id: fixed
      token_required: true
      token_name: auth
      auth_token: "{env:TOKEN}"
      session_id_required: true
      session_id_name: sid
      session_id: s
      session_id_from: {type: status, path: data.sid}
      channel_required: true
      channel_name: room
      channel: lobby
      version_required: true
      version_name: v
      version: 2
      headers: {X-A: "1"}
      query_params: {debug: 1}
      reconnect_on_failure: false
      retry: -1
      backoff: {initial: 1s, max: 1m}
      pong_timeout: 5s
      max_message_size: 1MiB
      send_queue: 0
      transforms: {outgoing: [], incoming: []}
      transform_errors: pass
      subprotocols: [comfy.v1, json]
      dial_timeout: 3s
plugins:
  - name: p
    path: /abs/p.wasm
    sha256: ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789
    config: {n: 1, list: [a, true, 1.5, null], nested: {k: v}}
    allow: [clock, random, secrets]
    limits: {memory: 16MiB, timeout: 250ms, instances: 2}
`
	f, err := Parse("full.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(nil); err != nil {
		t.Fatal(err) // x-defaults, a user's key, is ignored
	}
	a := f.APIs[0]
	w := a.Websocket
	wantWS := Websocket{
		URL: "wss://api.example.com/socket", ClientIDRequired: true, ClientIDFormat: "hex",
		ClientIDName: "cid", ClientID: "fixed", TokenRequired: true, TokenName: "auth",
		AuthToken: "{env:TOKEN}", SessionIDRequired: true, SessionIDName: "sid", SessionID: "s",
		SessionIDFrom:   &MessageField{Type: "status", Path: "data.sid"},
		ChannelRequired: true, ChannelName: "room", Channel: "lobby",
		VersionRequired: true, VersionName: "v", Version: "2",
		Headers: []Pair{{"X-A", "1"}}, QueryParams: []Pair{{"debug", "1"}},
		ReconnectOnFailure: false, Retry: -1, Backoff: Backoff{time.Second, time.Minute},
		PingInterval: 0, PongTimeout: 5 * time.Second, MaxMessageSize: 1 << 20, SendQueue: 0,
		TransformErrors: TransformErrorsPass, Subprotocols: []string{"comfy.v1", "json"},
		DialTimeout: 3 * time.Second,
	}
	if !reflect.DeepEqual(*w, wantWS) {
		t.Errorf("websocket:\n got %+v\nwant %+v", *w, wantWS)
	}
	if a.Enabled || a.DefaultTimeout != 2500*time.Millisecond || a.Auth.Username != "u" ||
		a.Auth.Password.Reveal() != "p" {
		t.Errorf("api: %+v", a)
	}
	wantEP := Endpoint{Name: "N", Path: "/x", Method: NoRequest, Headers: []Pair{{"A", "b"}},
		Timeout: 3 * time.Second, Retry: 2, PayloadType: PayloadForm}
	if !reflect.DeepEqual(a.Endpoints[0], wantEP) {
		t.Errorf("endpoint: %+v", a.Endpoints[0])
	}
	p := f.Plugins[0]
	wantConfig := map[string]any{"n": 1, "list": []any{"a", true, 1.5, nil}, "nested": map[string]any{"k": "v"}}
	if !reflect.DeepEqual(p.Config, wantConfig) || len(p.Allow) != 3 ||
		p.Limits != (Limits{16 << 20, 250 * time.Millisecond, 2}) {
		t.Errorf("plugin: %+v", p)
	}
	if p := f.Plugins[0]; p.SHA256 != strings.ToLower(p.SHA256) {
		t.Errorf("sha256 not normalised: %s", p.SHA256)
	}
}

func TestLoadMakesPluginPathsAbsolute(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "wsplug.yaml")
	if err := os.WriteFile(path, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "ids.wasm"); f.Plugins[0].File != want {
		t.Errorf("File = %q, want %q", f.Plugins[0].File, want)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml"), nil); err == nil ||
		!strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("a missing file should be an error naming it, got %v", err)
	}
}

// fixture is ad_discordbot's own settings template, when the shared
// fixtures are present beside the repository.
const fixture = "../../shared/fixtures/ad_discordbot/dict_api_settings.yaml"

func TestAdDiscordbotTemplate(t *testing.T) {
	if _, err := os.Stat(fixture); err != nil {
		t.Skipf("fixture not present: %v", err)
	}
	f, err := Load(fixture, nil)
	if err != nil {
		t.Fatalf("ad_discordbot's template must load with warnings only:\n%v", err)
	}
	var msgs []string
	for _, w := range f.Warnings {
		msgs = append(msgs, w.Path+": "+w.Message)
	}
	want := []string{
		"bot_api_functions: read by ad_discordbot only; wsplug ignores it",
		"misc_api_functions: read by ad_discordbot only; wsplug ignores it",
		"all_apis[0].endpoints[0].payload_base: read by ad_discordbot only; " +
			"wsplug ignores it (here and 6 more times)",
		"all_apis[2].endpoints[3].response_type: read by ad_discordbot only; " +
			"wsplug ignores it (here and 1 more time)",
		"all_apis[2].endpoints[4].payload: read by ad_discordbot only; wsplug ignores it",
		"all_apis[3].endpoints[2].response_handling: read by ad_discordbot only; " +
			"wsplug ignores it (here and 1 more time)",
	}
	if !reflect.DeepEqual(msgs, want) {
		t.Errorf("warnings:\n got %s\nwant %s", strings.Join(msgs, "\n     "), strings.Join(want, "\n     "))
	}
	comfy, ok := f.API("ComfyUI")
	if !ok || comfy.Websocket == nil {
		t.Fatal("no ComfyUI websocket")
	}
	if comfy.Enabled {
		t.Error("ComfyUI is disabled in the template")
	}
	var names []string
	for _, e := range comfy.Endpoints {
		names = append(names, e.Name+" "+e.Method)
	}
	if names[len(names)-1] != "Get Cnet Control Types " {
		t.Errorf("method: null must mean no request: %q", names)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte("apis:\n  - name: A\n    url: http://h\n    websocket:\n      retry: -2\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("apis: [{<<: {name: a}, url: 'http://h'}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse error is %T, not a *ValidationError: %v", err, err)
			}
			return
		}
		err = file.Validate(nil)
		var ve *ValidationError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("Validate error is %T: %v", err, err)
		}
		if ve != nil && len(ve.Problems) == 0 {
			t.Fatal("a ValidationError with no problems")
		}
	})
}
