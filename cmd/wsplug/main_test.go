package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// buildDir holds what the tests build once for all of them: the command,
// the demo's plugins. TestMain removes it.
var buildDir string

func TestMain(m *testing.M) {
	var err error
	if buildDir, err = os.MkdirTemp("", "wsplug-test"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(buildDir)
	os.Exit(code)
}

// wsplug runs the command in-process and returns its exit code and output.
func wsplug(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wsplug.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const secretConfig = `apis:
  - name: Chat
    url: https://chat.example.com
    websocket:
      client_id: bot-1
      token_required: true
      auth_token: "{env:WSPLUG_TEST_TOKEN}"
      channel_required: true
      channel: general
      headers: {Authorization: "Bearer {token}"}
  - name: NoSocket
    url: http://h
`

func TestUsage(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"no arguments", nil, exitUsage, "", "Usage: wsplug COMMAND"},
		{"help", []string{"--help"}, exitOK, "validate FILE", ""},
		{"unknown command", []string{"frobnicate"}, exitUsage, "", `unknown command "frobnicate"`},
		{"validate without a file", []string{"validate"}, exitUsage, "",
			"wsplug validate: expected 1 argument"},
		{"validate help", []string{"validate", "--help"}, exitOK,
			"Usage: wsplug validate [flags] FILE", ""},
		{"run help", []string{"run", "-h"}, exitOK, "Usage: wsplug run [flags] [FILE]", ""},
		{"plugin help", []string{"plugin", "--help"}, exitOK, "wsplug plugin hash FILE", ""},
		{"plugin inspect help", []string{"plugin", "inspect", "--help"}, exitOK,
			"Usage: wsplug plugin inspect FILE", ""},
		{"plugin hash help", []string{"plugin", "hash", "-help"}, exitOK,
			"Usage: wsplug plugin hash FILE...", ""},
		{"plugin hash without a file", []string{"plugin", "hash"}, exitUsage, "",
			"wsplug plugin hash: expected at least one FILE\nUsage: wsplug plugin hash FILE..."},
		{"run with two config files", []string{"run", "-c", "a.yaml", "b.yaml"}, exitUsage, "",
			"wsplug run: two config files, -c a.yaml and b.yaml: give one\n"},
		{"run with two files", []string{"run", "a.yaml", "b.yaml"}, exitUsage, "",
			"wsplug run: expected at most 1 argument\n"},
		{"demo with an argument", []string{"demo", "x"}, exitUsage, "",
			"wsplug demo: expected no arguments\n"},
		{"run without a config file", []string{"run"}, exitUsage, "",
			"wsplug run: no config file: give FILE or -c FILE, or set WSPLUG_CONFIG\n"},
		{"resolve with too many arguments", []string{"resolve", "a", "b", "c"}, exitUsage, "",
			"expected 1 to 2 arguments"},
		{"unknown flag", []string{"resolve", "--nope", "f"}, exitUsage, "",
			"flag provided but not defined: -nope"},
	}
	t.Setenv(configEnv, "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := wsplug(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stdout, tt.inStdout) || !strings.Contains(stderr, tt.inStderr) {
				t.Errorf("stdout %q\nstderr %q\nwant %q and %q in them",
					stdout, stderr, tt.inStdout, tt.inStderr)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := writeFile(t, "apis:\n  - name: A\n    url: http://h\n")
	code, stdout, stderr := wsplug(t, "validate", good)
	if code != exitOK || stdout != good+": ok: 1 api, 0 plugins, 0 warnings\n" || stderr != "" {
		t.Errorf("good file: %d %q %q", code, stdout, stderr)
	}
	if code, stdout, _ := wsplug(t, "validate", "-q", good); code != exitOK || stdout != "" {
		t.Errorf("-q printed %q", stdout)
	}

	bad := writeFile(t, "apis:\n  - name: A\n    url: ftp://h\n"+
		"    websocket: {retry: -3, tokn_name: x}\n")
	code, stdout, stderr = wsplug(t, "validate", bad)
	want := bad + `:3:5: apis[0].url: scheme must be http or https, got "ftp"` + "\n" +
		bad + ":4:17: apis[0].websocket.retry: must be >= -1 (-1 retries without end), got -3\n" +
		bad + ":4:28: apis[0].websocket.tokn_name: unknown key; did you mean token_name?\n" +
		"3 problems\n"
	if code != exitInput || stdout != "" || stderr != want {
		t.Errorf("bad file: exit %d\nstderr %s\nwant   %s", code, stderr, want)
	}

	missing := filepath.Join(t.TempDir(), "none.yaml")
	if code, _, stderr := wsplug(t, "validate", missing); code != exitInput ||
		!strings.Contains(stderr, "none.yaml: no such file") {
		t.Errorf("missing file: %d %q", code, stderr)
	}
}

const fixture = "../../../shared/fixtures/ad_discordbot/dict_api_settings.yaml"

// TestResolveAdDiscordbotComfyUI is the compatibility promise: the file
// ad_discordbot users have validates with warnings only, and its ComfyUI
// client dials ComfyUI's URL with the client id once.
func TestResolveAdDiscordbotComfyUI(t *testing.T) {
	if _, err := os.Stat(fixture); err != nil {
		t.Skipf("fixture not present: %v", err)
	}
	code, stdout, stderr := wsplug(t, "validate", fixture)
	if code != exitOK || !strings.HasSuffix(stdout, ": ok: 6 apis, 0 plugins, 6 warnings\n") {
		t.Fatalf("validate: %d %q %q", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "warning: "); n != 6 {
		t.Errorf("%d warnings on stderr, want 6:\n%s", n, stderr)
	}

	code, stdout, stderr = wsplug(t, "resolve", fixture, "ComfyUI")
	if code != exitOK {
		t.Fatalf("resolve: %d %q", code, stderr)
	}
	want := regexp.MustCompile(`^ComfyUI \(disabled\)\n` +
		`  url  ws://127\.0\.0\.1:8188/ws\?clientId=` +
		`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$`)
	if !want.MatchString(stdout) {
		t.Errorf("resolve printed %q", stdout)
	}
}

func TestResolveRedactsSecrets(t *testing.T) {
	const token = "tok-Very-Secret-123"
	t.Setenv("WSPLUG_TEST_TOKEN", token)
	path := writeFile(t, secretConfig)

	code, stdout, stderr := wsplug(t, "resolve", path)
	want := "Chat\n" +
		"  url     wss://chat.example.com/ws?token=***&channel=general\n" +
		"  header  Authorization: Bearer ***\n"
	if code != exitOK || stdout != want {
		t.Errorf("exit %d\n got %q\nwant %q\nstderr %q", code, stdout, want, stderr)
	}
	if strings.Contains(stdout+stderr, token) {
		t.Error("the token was printed")
	}

	code, stdout, _ = wsplug(t, "resolve", path, "Chat", "--show-secrets")
	want = "Chat\n" +
		"  url     wss://chat.example.com/ws?token=" + token + "&channel=general\n" +
		"  header  Authorization: Bearer " + token + "\n"
	if code != exitOK || stdout != want {
		t.Errorf("--show-secrets: exit %d\n got %q\nwant %q", code, stdout, want)
	}
}

// TestResolveRedactsATokenInTheURL: a token in the websocket URL's own
// query or path prints as ***, and goes on the wire escaped, once.
func TestResolveRedactsATokenInTheURL(t *testing.T) {
	const token = "ab&admin=1#frag"
	t.Setenv("WSPLUG_TEST_TOKEN", token)
	path := writeFile(t, `apis:
  - name: C
    url: http://h
    websocket:
      url: "ws://h/{token}/ws?token={token}"
      token_required: true
      auth_token: "{env:WSPLUG_TEST_TOKEN}"
`)
	code, stdout, stderr := wsplug(t, "resolve", path)
	if want := "C\n  url  ws://h/***/ws?token=***\n"; code != exitOK || stdout != want {
		t.Errorf("exit %d\n got %q\nwant %q\nstderr %q", code, stdout, want, stderr)
	}
	code, stdout, _ = wsplug(t, "resolve", path, "C", "--show-secrets")
	want := "C\n  url  ws://h/ab&admin=1%23frag/ws?token=ab%26admin%3D1%23frag\n"
	if code != exitOK || stdout != want {
		t.Errorf("--show-secrets: exit %d\n got %q\nwant %q", code, stdout, want)
	}
}

func TestResolveErrors(t *testing.T) {
	os.Unsetenv("WSPLUG_TEST_TOKEN")
	path := writeFile(t, secretConfig)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unset env", []string{path},
			"wsplug: api[Chat] auth_token: {env:WSPLUG_TEST_TOKEN}: " +
				"environment variable WSPLUG_TEST_TOKEN is not set\n"},
		{"unknown api", []string{path, "Chatt"},
			`wsplug: no api named "Chatt" in ` + path + `; apis: ["Chat" "NoSocket"]` + "\n"},
		{"api without websocket", []string{path, "NoSocket"},
			`wsplug: api "NoSocket" has no websocket section` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := wsplug(t, append([]string{"resolve"}, tt.args...)...)
			if code != exitInput || stderr != tt.want {
				t.Errorf("exit %d, stderr\n got %q\nwant %q", code, stderr, tt.want)
			}
		})
	}
}

func TestPluginInspectAndHash(t *testing.T) {
	healthy := "../../host/testdata/hostile/healthy.wasm"
	code, stdout, stderr := wsplug(t, "plugin", "inspect", healthy)
	for _, want := range []string{
		"sha256    fc7d5447a8a557397326e940850b66b730bffdcce9b707bad3a045a85ca6f5d2\n",
		"abi       v1\n", "provides  client_id healthy_id\n", "          placeholder healthy\n",
		"          transform echo_healthy\n", "imports   wsplug_v1.input_read (function)\n",
		"verdict   loads\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, stdout)
		}
	}
	if code != exitOK || stderr != "" {
		t.Errorf("inspect: exit %d, stderr %q", code, stderr)
	}

	code, stdout, _ = wsplug(t, "plugin", "inspect", "../../host/testdata/hostile/import_sock.wasm")
	if code != exitInput || !strings.Contains(stdout, "verdict   refused\nbecause   it imports "+
		"wasi_snapshot_preview1.sock_send: plugins have no network\n") {
		t.Errorf("inspect of a refused module: exit %d\n%s", code, stdout)
	}

	code, stdout, _ = wsplug(t, "plugin", "hash", healthy)
	const healthySum = "fc7d5447a8a557397326e940850b66b730bffdcce9b707bad3a045a85ca6f5d2"
	if code != exitOK || stdout != healthySum+"  "+healthy+"\n" {
		t.Errorf("hash: %d %q", code, stdout)
	}
	code, _, stderr = wsplug(t, "plugin", "frob")
	if code != exitUsage || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown plugin command: %d %q", code, stderr)
	}
}

// TestValidateLoadsPlugins: a format a plugin provides is valid once the
// plugin loads, and a plugin that does not load is a problem with a line.
func TestValidateLoadsPlugins(t *testing.T) {
	healthy, _ := filepath.Abs("../../host/testdata/hostile/healthy.wasm")
	path := writeFile(t, "apis:\n  - name: A\n    url: http://h\n"+
		"    websocket: {client_id_format: healthy_id}\n"+
		"plugins:\n  - name: h\n    path: "+healthy+"\n")
	code, stdout, stderr := wsplug(t, "validate", path)
	if code != exitOK || !strings.HasSuffix(stdout, ": ok: 1 api, 1 plugin, 0 warnings\n") {
		t.Errorf("validate: %d %q %q", code, stdout, stderr)
	}
	code, stdout, _ = wsplug(t, "resolve", path)
	if code != exitOK || stdout != "A\n  url  ws://h/ws\n" {
		t.Errorf("resolve: %d %q", code, stdout)
	}
	path = writeFile(t, "apis: []\nplugins:\n  - name: h\n    path: missing.wasm\n")
	code, _, stderr = wsplug(t, "validate", path)
	want := path + ":4:5: plugins[0].path: plugin[h] load: open " +
		filepath.Join(filepath.Dir(path), "missing.wasm") +
		": no such file or directory\n1 problem\n"
	if code != exitInput || stderr != want {
		t.Errorf("missing plugin: %d\n got %q\nwant %q", code, stderr, want)
	}
}

// TestCacheDirFlag: validate and resolve take -cache-dir, as run does, so
// that a user without a cache directory can name one, or none.
func TestCacheDirFlag(t *testing.T) {
	t.Setenv("HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	healthy, err := filepath.Abs("../../host/testdata/hostile/healthy.wasm")
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeFile(t, "apis:\n  - name: A\n    url: http://h\n"+
		"    websocket: {client_id_format: healthy_id}\n"+
		"plugins:\n  - name: healthy\n    path: "+healthy+"\n")
	tests := []struct {
		name     string
		command  string
		cacheDir string // "dir": a new directory
		wantCode int
		inStderr string
	}{
		{name: "validate without a cache", command: "validate", wantCode: exitInput,
			inStderr: "(set a cache directory, or none)"},
		{name: "validate with a directory", command: "validate", cacheDir: "dir", wantCode: exitOK},
		{name: "validate with none", command: "validate", cacheDir: "none", wantCode: exitOK},
		{name: "resolve without a cache", command: "resolve", wantCode: exitInput,
			inStderr: "(set a cache directory, or none)"},
		{name: "resolve with a directory", command: "resolve", cacheDir: "dir", wantCode: exitOK},
		{name: "resolve with none", command: "resolve", cacheDir: "none", wantCode: exitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := []string{tt.command, cfg}
			dir := tt.cacheDir
			if dir == "dir" {
				dir = t.TempDir()
			}
			if dir != "" {
				args = append(args, "-cache-dir", dir)
			}
			code, _, stderr := wsplug(t, args...)
			if code != tt.wantCode || !strings.Contains(stderr, tt.inStderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q",
					code, stderr, tt.wantCode, tt.inStderr)
			}
			if tt.cacheDir == "dir" {
				if entries, _ := os.ReadDir(dir); len(entries) == 0 {
					t.Errorf("nothing cached in %s", dir)
				}
			}
		})
	}
}
