package host

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/wsplug/wsplug/host/internal/testplugin"
)

// blaster is a server that writes 1 KiB text messages to each client as
// fast as it can, until the client goes.
func blaster(tb testing.TB) *httptest.Server {
	msg := []byte(`{"type":"progress","data":"` + strings.Repeat("x", 1024-29) + `"}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		defer conn.CloseNow()
		ctx := conn.CloseRead(r.Context())
		for ctx.Err() == nil {
			if conn.Write(ctx, websocket.MessageText, msg) != nil {
				return
			}
		}
	}))
	tb.Cleanup(srv.Close)
	return srv
}

func wsURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") }

// BenchmarkReceive1KiB reads 1 KiB text messages pipelined over loopback:
// raw coder/websocket (a reader into a reused buffer), then wsplug's Client
// delivering to a subscriber, without and with one Go-guest transform on
// every incoming message: go_pass reads the message and leaves it
// unchanged, go_echo reads it and replaces it with its copy.
//
//	go test -run '^$' -bench Receive1KiB -benchmem ./host/
func BenchmarkReceive1KiB(b *testing.B) {
	srv := blaster(b)
	b.Run("raw", func(b *testing.B) {
		ctx := context.Background()
		conn, _, err := websocket.Dial(ctx, wsURL(srv), &websocket.DialOptions{
			CompressionMode: websocket.CompressionDisabled,
		})
		if err != nil {
			b.Fatal(err)
		}
		defer conn.CloseNow()
		var buf []byte
		b.SetBytes(1024)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			_, r, err := conn.Reader(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if buf, err = readAll(r, buf[:0]); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, tc := range []struct{ name, transforms string }{
		{"client", ""},
		{"client+go-transform", "      transforms: {incoming: [go_pass]}\n"},
		{"client+go-replace", "      transforms: {incoming: [go_echo]}\n"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			yaml := "apis:\n  - name: B\n    url: http://127.0.0.1\n    websocket:\n" +
				"      url: " + wsURL(srv) + "\n      ping_interval: 0\n" + tc.transforms
			if tc.transforms != "" {
				yaml += "plugins:\n  - name: g\n    path: " + testplugin.Build(b, "host/testdata/goguest") +
					"\n    limits: {timeout: 0, instances: 1}\n"
			}
			h, c := startHost(b, yaml)
			defer h.Close(context.Background())
			// A buffer for every message: the benchmark measures delivery,
			// not what a subscriber too slow for its buffer loses.
			sub := c.Subscribe(Filter{Buffer: 1 << 20})
			defer sub.Close()
			ctx := context.Background()
			b.SetBytes(1024)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if _, err := sub.Next(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if n := sub.Dropped(); n > 0 {
				b.Errorf("%d messages dropped", n)
			}
		})
	}
}
