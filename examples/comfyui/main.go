// Command comfyui queues a prompt on a local ComfyUI server and follows it
// to the end, with the config beside it: the websocket carries the
// progress, POST /prompt queues the workflow with the same client id.
//
//	go run ./examples/comfyui [-c examples/comfyui/wsplug.yaml] [workflow.json]
//
// The workflow is ComfyUI's API format (Save (API Format) in its menu);
// without one, the prompt is a small stand-in that a real server refuses,
// which is enough to see the connection and the error path.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/google/uuid"

	"github.com/wsplug/wsplug/host"
)

func main() {
	cfg := flag.String("c", "examples/comfyui/wsplug.yaml", "config file")
	flag.Parse()
	workflow := map[string]any{
		"3": map[string]any{"class_type": "KSampler", "inputs": map[string]any{}},
	}
	if flag.NArg() > 0 {
		b, err := os.ReadFile(flag.Arg(0))
		if err != nil {
			log.Fatal(err)
		}
		if err := json.Unmarshal(b, &workflow); err != nil {
			log.Fatalf("%s: %v", flag.Arg(0), err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	setup, err := host.LoadConfig(ctx, *cfg, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer setup.Close(context.Background())
	h, err := host.New(setup, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer h.Close(context.Background())
	if err := h.Start(ctx); err != nil {
		log.Fatal(err)
	}
	c, _ := h.Client("ComfyUI")
	images, err := runPrompt(ctx, c, workflow, os.Stdout)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("images:", images)
}

// runPrompt is ComfyUI's prompt-tracking flow: choose the prompt id, watch
// for its messages, queue it with the client's id, print the progress
// until execution_success, and return the images of its outputs.
func runPrompt(ctx context.Context, c *host.Client, workflow map[string]any,
	w io.Writer) (any, error) {
	id := uuid.NewString()
	sub := c.Subscribe(host.Filter{
		Types: []string{"execution_start", "progress", "executed", "execution_success",
			"execution_error"},
		Where:   map[string]any{"data.prompt_id": id},
		Until:   map[string]any{"type": "execution_success"},
		Extract: map[string]string{"images": "data.output.images"},
		Idle:    5 * time.Minute,
	})
	defer sub.Close()
	_, err := c.Call(ctx, "Queue prompt", map[string]any{
		"prompt": workflow, "client_id": "{client_id}", "prompt_id": "{id}",
	}, host.Vars{"id": id})
	if err != nil {
		return nil, err
	}
	for {
		in, err := sub.Next(ctx)
		if err != nil {
			return nil, err
		}
		if in == nil {
			break
		}
		switch in.Type {
		case "progress":
			v, _ := in.Field("data.value")
			m, _ := in.Field("data.max")
			fmt.Fprintf(w, "progress %v/%v\n", v, m)
		case "execution_error":
			msg, _ := in.Field("data.exception_message")
			return nil, fmt.Errorf("ComfyUI: %v", msg)
		default:
			fmt.Fprintln(w, in.Type)
		}
	}
	values, err := sub.Wait(ctx)
	return values["images"], err
}
