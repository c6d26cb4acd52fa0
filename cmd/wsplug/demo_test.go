package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// demoPlugins builds the demo's plugins once per test run.
var demoPlugins = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp(buildDir, "demo-plugins")
	if err != nil {
		return "", err
	}
	for _, name := range []string{"ids", "jwt", "json"} {
		cmd := exec.Command("go", "build", "-buildmode=c-shared",
			"-o", filepath.Join(dir, name+".wasm"), "../../plugins/"+name)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			return "", &buildError{name, err, b}
		}
	}
	return dir, nil
})

type buildError struct {
	name string
	err  error
	out  []byte
}

func (e *buildError) Error() string { return e.name + ": " + e.err.Error() + "\n" + string(e.out) }

// TestDemo runs wsplug demo, the main job on its embedded server, and
// checks that it tells the whole story without the token.
func TestDemo(t *testing.T) {
	dir, err := demoPlugins()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_CACHE_HOME", t.TempDir()) // the plugins' compiled code
	var out bytes.Buffer
	if err := demo(context.Background(), dir, 4, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`Loaded plugin ids +` +
			`client_id ulid, client_id nanoid, client_id snowflake`),
		regexp.MustCompile(`Client id \(ulid, from the ids plugin\): ([0-9A-HJKMNP-TV-Z]{26})\n`),
		regexp.MustCompile(`Dialled ws://127\.0\.0\.1:\d+/ws\?clientId=[0-9A-Z]{26}&token=\*\*\* `),
		regexp.MustCompile(`Bearer <a JWT of \d+ characters`),
		regexp.MustCompile(`Session id, read from ComfyUI's status message \(data\.sid\): ` +
			`[0-9A-Z]{26}\n`),
		regexp.MustCompile(`\{"type":"hello","data":\{"client":"[0-9A-Z]{26}","note":"hi"\}\}`),
		regexp.MustCompile(`(?s)execution_start.*executing.*progress 1/4.*progress 4/4` +
			`.*executed: ComfyUI_00001_\.png.*execution_success`),
		regexp.MustCompile(`Binary preview frames received: 4\n`),
		regexp.MustCompile(`the server sent 4, the json plugin's filter let 0 through`),
		regexp.MustCompile(`Done: ComfyUI_00001_\.png in `),
	} {
		if !want.MatchString(text) {
			t.Errorf("the demo's output lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, "demo-secret-token") {
		t.Error("the demo printed the token")
	}
}

func TestDemoWithoutPlugins(t *testing.T) {
	code, _, stderr := wsplug(t, "demo", "-plugins", t.TempDir())
	want := "Build the plugins first: make plugins (or run make demo)."
	if code != exitInput || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
