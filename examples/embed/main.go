// Command embed shows a Go program embedding wsplug's host: it registers a
// client_id format written in Go beside the config's Wasm plugins, connects
// to a websocket server, sends a message and prints what comes back.
//
//	make plugins
//	go run ./examples/embed                 # against an echo server of its own
//	go run ./examples/embed -url ws://...   # against yours
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/wsplug/wsplug/config"
	"github.com/wsplug/wsplug/host"
)

func main() {
	url := flag.String("url", "", "websocket server (default: an echo server in this process)")
	cfg := flag.String("c", "examples/embed/wsplug.yaml", "config file")
	flag.Parse()
	if *url == "" {
		srv := echoServer()
		defer srv.Close()
		*url = "ws" + strings.TrimPrefix(srv.URL, "http")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, *cfg, *url, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run loads the config with a Go client_id format registered first, starts
// the host, sends one message and prints the answer.
func run(ctx context.Context, configPath, url string, w io.Writer) error {
	os.Setenv("EMBED_URL", url) // the config reads {env:EMBED_URL}

	var tickets atomic.Int64
	reg := host.NewRegistry()
	ticket := func(context.Context) (string, error) {
		return fmt.Sprintf("ticket-%04d", tickets.Add(1)), nil
	}
	err := reg.RegisterClientIDFormat("ticket", config.ClientIDFunc(ticket))
	if err != nil {
		return err
	}
	setup, err := host.LoadConfig(ctx, configPath, reg, nil)
	if err != nil {
		return err
	}
	defer setup.Close(context.Background())
	h, err := host.New(setup, nil)
	if err != nil {
		return err
	}
	defer h.Close(context.Background())
	if err := h.Start(ctx); err != nil {
		return err
	}

	c, _ := h.Client("Echo")
	answers := c.Subscribe(host.Filter{})
	defer answers.Close()
	if err := c.Send(ctx, `{"text":"hello from {client_id}"}`, nil); err != nil {
		return err
	}
	in, err := answers.Next(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "client id: %s\nconnected to: %s\nthe server answered: %s\n",
		c.ClientID(), c.Stats().URL, in.Data)
	return nil
}

// echoServer sends every text message back.
func echoServer() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		for {
			typ, msg, err := conn.Read(r.Context())
			if err != nil {
				return
			}
			conn.Write(r.Context(), typ, msg)
		}
	}))
}
