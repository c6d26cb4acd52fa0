package host

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wsplug/wsplug/config"
	"github.com/wsplug/wsplug/host/internal/testplugin"
	"github.com/wsplug/wsplug/plugins/benchjson/transform"
)

// Benchmarks compare layers in one run: a native Go transform against the
// same code in a Go-guest plugin, with and without a time limit. Report
// ratios, not absolute times: machines are shared and noisy.
//
//	go test -run '^$' -bench . -benchmem ./host/

func benchLoad(b *testing.B, file string, limits config.Limits, name string) Transform {
	b.Helper()
	l := newTestLoader(b, nil)
	p, err := load(b, l, "bench", file, limits)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close(context.Background()) })
	r := NewRegistry()
	if err := r.AddPlugin(p); err != nil {
		b.Fatal(err)
	}
	tr, ok := r.Transform(name)
	if !ok {
		b.Fatalf("%s provides no transform %s", file, name)
	}
	return tr
}

var benchNative = TransformFunc(func(_ context.Context, m *Message) (Action, error) {
	out, err := transform.Apply(m.Data)
	if err != nil {
		return Pass, err
	}
	m.Data = out
	return Replace, nil
})

func runTransform(b *testing.B, tr Transform, payload []byte) {
	ctx := context.Background()
	m := &Message{}
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		m.Data = payload
		if _, err := tr.Transform(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTransform1KiB runs two transforms of a 1 KiB JSON message,
// natively and in plugins: "json" decodes it into a map, changes it and
// encodes it (plugins/benchjson's Apply, in a Go guest); "upper" upper-cases
// its ASCII letters (transform.Upper in a Go guest, and the C and WAT
// examples, which do the same). The ratios to native are what to read.
func BenchmarkTransform1KiB(b *testing.B) {
	goGuest := testplugin.Build(b, "plugins/benchjson")
	unlimited := config.Limits{Memory: 64 << 20, Instances: 1}
	limited := config.Limits{Memory: 64 << 20, Timeout: time.Second, Instances: 1}
	b.Run("json/native", func(b *testing.B) {
		runTransform(b, benchNative, transform.Sample)
	})
	b.Run("json/go", func(b *testing.B) {
		runTransform(b, benchLoad(b, goGuest, unlimited, "bench"), transform.Sample)
	})
	b.Run("json/go-timeout", func(b *testing.B) {
		runTransform(b, benchLoad(b, goGuest, limited, "bench"), transform.Sample)
	})
	b.Run("upper/native", func(b *testing.B) {
		var buf []byte
		runTransform(b, TransformFunc(func(_ context.Context, m *Message) (Action, error) {
			buf = transform.Upper(buf, m.Data)
			m.Data = buf
			return Replace, nil
		}), transform.Sample)
	})
	b.Run("upper/go", func(b *testing.B) {
		runTransform(b, benchLoad(b, goGuest, unlimited, "bench_upper"), transform.Sample)
	})
	b.Run("upper/go-timeout", func(b *testing.B) {
		runTransform(b, benchLoad(b, goGuest, limited, "bench_upper"), transform.Sample)
	})
	for _, lang := range []string{"c", "wat"} {
		file := filepath.Join("..", "examples", "plugins", lang, "upper.wasm")
		b.Run("upper/"+lang, func(b *testing.B) {
			if _, err := os.Stat(file); err != nil {
				b.Skipf("%s: run make examples first", file)
			}
			runTransform(b, benchLoad(b, file, unlimited, "upper"), transform.Sample)
		})
	}
}

// BenchmarkPassThrough: a transform that answers "unchanged" at once, so
// the time is the host's: pool, call in, status, pool. Natively, the same
// decision is a function call.
func BenchmarkPassThrough(b *testing.B) {
	file := filepath.Join("testdata", "bench", "pass.wasm")
	payload := bytes.Repeat([]byte("x"), 1024)
	b.Run("native", func(b *testing.B) {
		runTransform(b, TransformFunc(func(context.Context, *Message) (Action, error) {
			return Pass, nil
		}), payload)
	})
	b.Run("plugin", func(b *testing.B) {
		runTransform(b, benchLoad(b, file, config.Limits{Memory: 1 << 20, Instances: 1}, "pass"), payload)
	})
	b.Run("plugin-timeout", func(b *testing.B) {
		runTransform(b, benchLoad(b, file, config.Limits{Memory: 1 << 20, Timeout: time.Second, Instances: 1},
			"pass"), payload)
	})
}

// BenchmarkLoadWarm loads a plugin whose compiled code is in the cache:
// read, hash, check, compile (a cache hit), instantiate, init, describe. A
// Go guest is a 3.6 MB module; a WAT one half a kilobyte.
func BenchmarkLoadWarm(b *testing.B) {
	for _, c := range []struct{ name, file string }{
		{"go", testplugin.Build(b, "plugins/benchjson")},
		{"wat", hostile("healthy")},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			l := newTestLoader(b, nil)
			spec := config.Plugin{Name: "bench", File: c.file,
				Limits: config.Limits{Memory: 64 << 20, Instances: 1}}
			p, err := l.Load(ctx, spec) // fills the cache
			if err != nil {
				b.Fatal(err)
			}
			p.Close(ctx)
			b.ResetTimer()
			for b.Loop() {
				p, err := l.Load(ctx, spec)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				p.Close(ctx)
				b.StartTimer()
			}
		})
	}
}

// BenchmarkLoadCold loads a plugin with no compiled code to reuse: a new
// in-memory cache each time, so the load compiles every function, on every
// core.
func BenchmarkLoadCold(b *testing.B) {
	file := testplugin.Build(b, "plugins/benchjson")
	ctx := context.Background()
	spec := config.Plugin{Name: "bench", File: file,
		Limits: config.Limits{Memory: 64 << 20, Instances: 1}}
	for b.Loop() {
		l, err := NewLoader(&LoaderOptions{NoCache: true})
		if err != nil {
			b.Fatal(err)
		}
		p, err := l.Load(ctx, spec)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		p.Close(ctx)
		l.Close(ctx)
		b.StartTimer()
	}
}

// BenchmarkPoolAcquire takes an idle instance and gives it back.
func BenchmarkPoolAcquire(b *testing.B) {
	l := newTestLoader(b, nil)
	p, err := load(b, l, "pass", filepath.Join("testdata", "bench", "pass.wasm"),
		config.Limits{Memory: 1 << 20, Instances: 4})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		in, err := p.pool.get(ctx)
		if err != nil {
			b.Fatal(err)
		}
		p.pool.put(in)
	}
}

// BenchmarkGoGuestMemory runs a Go guest's echo transform (which allocates
// a copy of each 1 KiB payload) b.N times in one instance and reports the
// instance's memory at the start and the end: run it with
// -benchtime=1000000x to see that a million calls leave it flat.
func BenchmarkGoGuestMemory(b *testing.B) {
	p, r := loadGoGuest(b, config.Limits{Memory: 64 << 20, Instances: 1})
	tr, _ := r.Transform("go_echo")
	start := memorySize(p)
	runTransform(b, tr, bytes.Repeat([]byte("x"), 1024))
	b.ReportMetric(float64(start)/(1<<20), "MiB-start")
	b.ReportMetric(float64(memorySize(p))/(1<<20), "MiB-end")
}

// BenchmarkGoGuestCall measures a Go guest's fixed cost per call: the SDK
// reads the 1 KiB payload and passes it, or echoes it back.
func BenchmarkGoGuestCall(b *testing.B) {
	payload := bytes.Repeat([]byte("x"), 1024)
	_, r := loadGoGuest(b, config.Limits{Memory: 64 << 20, Instances: 1})
	for _, name := range []string{"go_pass", "go_echo"} {
		b.Run(name, func(b *testing.B) {
			tr, _ := r.Transform(name)
			runTransform(b, tr, payload)
		})
	}
}
