package config_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/wsplug/wsplug/config"
)

func ExampleParse() {
	const file = `
apis:
  - name: ComfyUI
    url: http://127.0.0.1:8188
    websocket:
      client_id_required: true
      tokn_name: t
      retry: -2
`
	f, err := config.Parse("wsplug.yaml", []byte(file))
	if err == nil {
		err = f.Validate(nil)
	}
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// wsplug.yaml:7:7: apis[0].websocket.tokn_name: unknown key; did you mean token_name?
	// wsplug.yaml:8:7: apis[0].websocket.retry: must be >= -1 (-1 retries without end), got -2
}

func ExamplePlan_Resolve() {
	const file = `
apis:
  - name: ComfyUI
    url: http://127.0.0.1:8188
    websocket:
      client_id_required: true
      token_required: true
      auth_token: "{env:COMFY_TOKEN}"
      query_params: {clientId: "{client_id}"}
      headers: {Authorization: "Bearer {token}"}
`
	f, _ := config.Parse("wsplug.yaml", []byte(file))
	if err := f.Validate(nil); err != nil {
		fmt.Println(err)
		return
	}
	plan, _ := config.NewPlan(&f.APIs[0])

	env := config.Env{Getenv: func(string) (string, bool) { return "s3cr3t", true }}
	ctx := context.Background()
	v, _ := plan.Values(ctx, env)
	v.ClientID = "7d3c0b5e" // made by the client_id_format otherwise
	target, _ := plan.Resolve(ctx, &v, env)

	fmt.Println(target.URL)
	fmt.Println(target) // for people: secrets redacted
	fmt.Println(target.RedactedHeader())
	// Output:
	// ws://127.0.0.1:8188/ws?clientId=7d3c0b5e&token=s3cr3t
	// ws://127.0.0.1:8188/ws?clientId=7d3c0b5e&token=***
	// [{Authorization Bearer ***}]
}

func ExampleTemplate() {
	t := config.ParseTemplate(`{"client":"{client_id}","opts":{"n":1}} {{literal}}`)
	s, _ := t.Resolve(context.Background(), &config.Values{ClientID: "abc"})
	fmt.Println(s)
	// Output:
	// {"client":"abc","opts":{"n":1}} {literal}
}

func ExamplePayload_Resolve() {
	p, _ := config.ParsePayloadJSON([]byte(`{"prompt": {"seed": "{seed}"}, "client_id": "{client_id}"}`))
	vars := config.LookupFunc(func(_ context.Context, name, _ string) (any, error) {
		if name == "seed" {
			return 42, nil
		}
		return nil, config.ErrUnknownPlaceholder
	})
	v, _ := p.Resolve(context.Background(), config.Chain(vars, &config.Values{ClientID: "abc"}),
		config.ResolveOptions{})
	fmt.Println(v)
	// Output:
	// map[client_id:abc prompt:map[seed:42]]
}
