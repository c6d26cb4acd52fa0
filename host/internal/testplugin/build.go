// Package testplugin builds Go plugins for tests: once per content, into a
// cache under the system's temporary directory, so that a test run after
// the first links nothing.
package testplugin

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	built = map[string]string{}
)

// Build builds the Go plugin in dir (relative to the module root, as
// "plugins/ids") with GOOS=wasip1 and returns the .wasm file's path.
func Build(tb testing.TB, dir string) string {
	tb.Helper()
	mu.Lock()
	defer mu.Unlock()
	if path, ok := built[dir]; ok {
		return path
	}
	root := moduleRoot(tb)
	sum := sourceHash(tb, root, dir)
	out := filepath.Join(os.TempDir(), "wsplug-testplugins",
		strings.ReplaceAll(dir, "/", "_")+"-"+sum[:16]+".wasm")
	if _, err := os.Stat(out); err != nil {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			tb.Fatal(err)
		}
		tmp := out + ".tmp" + strings.ReplaceAll(tb.Name(), "/", "_")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", tmp, "./"+dir)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("building %s: %v\n%s", dir, err, b)
		}
		if err := os.Rename(tmp, out); err != nil {
			tb.Fatal(err)
		}
	}
	built[dir] = out
	return out
}

func moduleRoot(tb testing.TB) string {
	b, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		tb.Fatalf("go env GOMOD: %v", err)
	}
	return filepath.Dir(strings.TrimSpace(string(b)))
}

// sourceHash hashes what the plugin is built from: its own files, the SDK,
// the module files and the Go version.
func sourceHash(tb testing.TB, root, dir string) string {
	h := sha256.New()
	h.Write([]byte(runtime.Version()))
	for _, d := range []string{dir, "abi"} {
		top := filepath.Join(root, d)
		err := filepath.WalkDir(top, func(path string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") && e.Name() != "go.mod" {
				return err
			}
			b, err := os.ReadFile(path)
			h.Write([]byte(path))
			h.Write(b)
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		b, _ := os.ReadFile(filepath.Join(root, f))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}
