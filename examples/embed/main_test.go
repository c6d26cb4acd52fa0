package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEmbed runs the example against its own echo server, with the json
// plugin built from this repository.
func TestEmbed(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-buildmode=c-shared",
		"-o", filepath.Join(dir, "json.wasm"), "../../plugins/json")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the json plugin: %v\n%s", err, b)
	}
	cfg, _ := os.ReadFile("wsplug.yaml")
	path := filepath.Join(dir, "wsplug.yaml")
	cfg = bytes.Replace(cfg, []byte("../../plugins/json.wasm"), []byte("json.wasm"), 1)
	os.WriteFile(path, cfg, 0o600)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())

	srv := echoServer()
	defer srv.Close()
	var out bytes.Buffer
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	if err := run(context.Background(), path, url, &out); err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`^client id: ticket-0001\n` +
		`connected to: ws://127\.0\.0\.1:\d+\?clientId=ticket-0001\n` +
		`the server answered: \{"type":"chat","message":\{"text":"hello from ticket-0001"\}\}\n$`)
	if !want.MatchString(out.String()) {
		t.Errorf("output:\n%s", out.String())
	}
}
