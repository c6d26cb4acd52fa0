package host

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wsplug/wsplug/config"
	"github.com/wsplug/wsplug/host/internal/testplugin"
)

// The first-party plugins, loaded through a config file as a user would.

// writeConfig writes a config file beside the plugins it names.
func writeConfig(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "wsplug.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func loadSetup(t *testing.T, yaml string) *Setup {
	t.Helper()
	s, err := LoadConfig(context.Background(), writeConfig(t, yaml), nil,
		&LoaderOptions{CacheDir: testCacheDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func TestFirstPartyPlugins(t *testing.T) {
	ids := testplugin.Build(t, "plugins/ids")
	jwt := testplugin.Build(t, "plugins/jwt")
	js := testplugin.Build(t, "plugins/json")
	s := loadSetup(t, `
apis:
  - name: Chat
    url: http://chat.example
    websocket:
      client_id_format: ulid
      token_required: true
      auth_token: the-token
      headers: {Authorization: "Bearer {jwt}", X-Sig: "{hmac:client_id}"}
      transforms: {outgoing: [redact, wrap], incoming: [filter]}
plugins:
  - name: ids
    path: `+ids+`
    allow: [clock, random]
    config: {snowflake: {node: 7}}
    limits: {instances: 1}
  - name: jwt
    path: `+jwt+`
    allow: [clock, secrets]
    config: {jwt: {key_from: token, lifetime: 10m, issuer: wsplug}}
  - name: json
    path: `+js+`
    config:
      wrap: {envelope: {type: prompt}, field: data}
      filter: {drop: [crystools.monitor]}
      redact: {fields: [password]}
`)
	ctx := context.Background()
	reg := s.Registry

	t.Run("ids", func(t *testing.T) {
		for format, shape := range map[string]string{
			"ulid":      `^[0-9A-HJKMNP-TV-Z]{26}$`,
			"nanoid":    `^[A-Za-z0-9_-]{21}$`,
			"snowflake": `^[0-9]{15,20}$`,
		} {
			f, ok := reg.ClientIDFormat(format)
			if !ok {
				t.Fatalf("no format %s", format)
			}
			a, err := f.NewClientID(ctx)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := f.NewClientID(ctx)
			if !regexp.MustCompile(shape).MatchString(a) || a == b {
				t.Errorf("%s: %q then %q", format, a, b)
			}
		}
	})

	t.Run("jwt and hmac through the websocket plan", func(t *testing.T) {
		api := &s.File.APIs[0]
		plan, _ := config.NewPlan(api)
		client := &ClientInfo{API: api.Name, Values: &config.Values{}}
		src := config.Chain(config.Env{}, reg.Lookup(client))
		v, err := plan.Values(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		*client.Values = v
		client.Values.ClientID = "client-42"
		target, err := plan.Resolve(ctx, client.Values, src)
		if err != nil {
			t.Fatal(err)
		}
		token := strings.TrimPrefix(target.Header.Get("Authorization"), "Bearer ")
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("not a JWT: %q", token)
		}
		mac := hmac.New(sha256.New, []byte("the-token"))
		mac.Write([]byte(parts[0] + "." + parts[1]))
		if got := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)); got != parts[2] {
			t.Error("the JWT's signature does not verify with the token as key")
		}
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		var claims struct {
			Sub, Iss string
			Iat, Exp int64
		}
		json.Unmarshal(payload, &claims)
		if claims.Sub != "client-42" || claims.Iss != "wsplug" || claims.Exp-claims.Iat != 600 ||
			time.Since(time.Unix(claims.Iat, 0)).Abs() > time.Minute {
			t.Errorf("claims %+v", claims)
		}
		mac = hmac.New(sha256.New, []byte("the-token"))
		mac.Write([]byte("client-42"))
		if got := target.Header.Get("X-Sig"); got != hex.EncodeToString(mac.Sum(nil)) {
			t.Errorf("X-Sig = %q", got)
		}
		// Secrets stay out of what people see.
		for _, h := range target.RedactedHeader() {
			if h.Value != "Bearer ***" && h.Value != "***" {
				t.Errorf("header %s shows %q", h.Name, h.Value)
			}
		}
	})

	t.Run("json transforms", func(t *testing.T) {
		redact, _ := reg.Transform("redact")
		wrap, _ := reg.Transform("wrap")
		filter, _ := reg.Transform("filter")
		m := &Message{Data: []byte(`{"user":"ada","password":"hunter2"}`)}
		for _, tr := range []Transform{redact, wrap} {
			if _, err := tr.Transform(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		if want := `{"type":"prompt","data":{"user":"ada","password":"***"}}`; string(m.Data) != want {
			t.Errorf("outgoing: %s\nwant      %s", m.Data, want)
		}
		in := &Message{Incoming: true, Data: []byte(`{"type":"crystools.monitor","data":{}}`)}
		if a, err := filter.Transform(ctx, in); a != Drop || err != nil {
			t.Errorf("filter: %v %v", a, err)
		}
		in = &Message{Incoming: true, Data: []byte(`{"type":"progress","data":{"value":3}}`)}
		if a, err := filter.Transform(ctx, in); a != Pass || err != nil {
			t.Errorf("filter passes progress: %v %v", a, err)
		}
	})
}

func TestLoadConfigReportsPluginProblems(t *testing.T) {
	healthy, _ := filepath.Abs(hostile("healthy"))
	trap, _ := filepath.Abs(hostile("import_sock"))
	yaml := `apis:
  - name: A
    url: http://h
    websocket:
      client_id_format: healthy_idd
plugins:
  - name: healthy
    path: ` + healthy + `
    sha256: ` + strings.Repeat("0", 64) + `
  - name: sock
    path: ` + trap + `
  - name: again
    path: ` + healthy + `
`
	_, err := LoadConfig(context.Background(), writeConfig(t, yaml), nil, &LoaderOptions{CacheDir: testCacheDir})
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("want a ValidationError, got %v", err)
	}
	var got []string
	for _, p := range ve.Problems {
		got = append(got, p.Path+" (line "+strconv.Itoa(p.Pos.Line)+"): "+p.Message)
	}
	want := []string{
		`apis[0].websocket.client_id_format (line 5): unknown client_id_format "healthy_idd"; did you mean ` +
			`healthy_id?; available: env_user, healthy_id, hex, int, machine, opaque, short, timestamp, uuid, uuid7`,
		"plugins[0].sha256 (line 9): plugin[healthy] load: refused: sha256 mismatch: " + healthy +
			" hashes to fc7d5447a8a557397326e940850b66b730bffdcce9b707bad3a045a85ca6f5d2; the config pins " +
			strings.Repeat("0", 64),
		"plugins[1].path (line 11): plugin[sock] load: refused: it imports wasi_snapshot_preview1.sock_send: " +
			"plugins have no network",
	}
	// The hash-mismatched plugin did not load, so plugin "again" (the same
	// module) registered its names; the suggestion shows it.
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// requireTool returns the path of a build tool, or skips the test when it is
// missing and WSPLUG_REQUIRE_TOOLS is unset (CI sets it: there a missing
// tool is a failure).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("WSPLUG_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s is needed: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}

// TestExamplePlugins builds the upper-case transform written in C and in
// WAT and checks both against the same thing done natively.
func TestExamplePlugins(t *testing.T) {
	dir := t.TempDir()
	cOut := filepath.Join(dir, "upper-c.wasm")
	watOut := filepath.Join(dir, "upper-wat.wasm")
	requireTool(t, "clang")
	cBuild := exec.Command("sh", "../examples/plugins/c/build.sh", cOut)
	if b, err := cBuild.CombinedOutput(); err != nil {
		t.Fatalf("building the C plugin: %v\n%s", err, b)
	}
	wat2wasm := requireTool(t, "wat2wasm")
	watBuild := exec.Command(wat2wasm, "../examples/plugins/wat/upper.wat", "-o", watOut)
	if b, err := watBuild.CombinedOutput(); err != nil {
		t.Fatalf("building the WAT plugin: %v\n%s", err, b)
	}
	big := bytes.Repeat([]byte("mixed Case text, ünïcode stays; "), 10000) // 330 KiB: memory must grow
	for _, file := range []string{cOut, watOut} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			l := newTestLoader(t, nil)
			p, err := load(t, l, "upper", file, config.Limits{Memory: 16 << 20, Timeout: time.Second, Instances: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			r := NewRegistry()
			if err := r.AddPlugin(p); err != nil {
				t.Fatal(err)
			}
			tr, _ := r.Transform("upper")
			for _, in := range [][]byte{[]byte("hello, World 42"), {}, big} {
				m := &Message{Data: in}
				a, err := tr.Transform(context.Background(), m)
				if err != nil || a != Replace || !bytes.Equal(m.Data, asciiUpper(in)) {
					t.Errorf("text of %d bytes: %v %v, equal %v", len(in), a, err, bytes.Equal(m.Data, asciiUpper(in)))
				}
			}
			m := &Message{Data: []byte("binary"), Binary: true}
			if a, err := tr.Transform(context.Background(), m); a != Pass || err != nil {
				t.Errorf("binary: %v %v", a, err)
			}
		})
	}
}

func asciiUpper(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		out[i] = c
	}
	return out
}

// TestWATModulesAreUpToDate rebuilds each WAT test module and compares it
// with the .wasm kept beside it.
func TestWATModulesAreUpToDate(t *testing.T) {
	wat2wasm := requireTool(t, "wat2wasm")
	wats, _ := filepath.Glob(filepath.Join("testdata", "*", "*.wat"))
	if len(wats) < 25 {
		t.Fatalf("only %d .wat files", len(wats))
	}
	for _, wat := range wats {
		out := filepath.Join(t.TempDir(), "out.wasm")
		if b, err := exec.Command(wat2wasm, wat, "-o", out).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", wat, err, b)
			continue
		}
		fresh, _ := os.ReadFile(out)
		kept, err := os.ReadFile(strings.TrimSuffix(wat, ".wat") + ".wasm")
		if err != nil || !bytes.Equal(fresh, kept) {
			t.Errorf("%s: the .wasm beside it is stale (run make wat)", wat)
		}
	}
}
