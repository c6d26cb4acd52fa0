package host

import (
	"os"
	"testing"
)

// testCacheDir is the compilation cache the package's tests share, so that
// each plugin is compiled once per run.
var testCacheDir string

func TestMain(m *testing.M) {
	if os.Getenv(idleServerEnv) != "" {
		serveIdle() // the test binary as another process's server
		return
	}
	dir, err := os.MkdirTemp("", "wsplug-host-test-cache")
	if err != nil {
		panic(err)
	}
	testCacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
