package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"text/tabwriter"

	"github.com/wsplug/wsplug/config"
	"github.com/wsplug/wsplug/host"
)

func runValidate(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	quiet := fs.Bool("q", false, "print nothing on success")
	cacheDir := fs.String("cache-dir", "", cacheDirUsage)
	pos, code := parse(fs, args, stdout, 1, 1)
	if code >= 0 {
		return code
	}
	ctx := context.Background()
	s, code := loadWith(ctx, pos[0], loaderOptions(*cacheDir), stderr)
	if s == nil {
		return code
	}
	defer s.Close(ctx)
	f := s.File
	if !*quiet {
		fmt.Fprintf(stdout, "%s: ok: %d %s, %d %s, %d %s\n", pos[0],
			len(f.APIs), plural(len(f.APIs), "api", "apis"),
			len(f.Plugins), plural(len(f.Plugins), "plugin", "plugins"),
			len(f.Warnings), plural(len(f.Warnings), "warning", "warnings"))
	}
	return exitOK
}

// cacheDirUsage explains -cache-dir, which run, validate and resolve share.
const cacheDirUsage = `where compiled plugins are kept (default under the user cache directory; ` +
	`"none" compiles them in memory only)`

// loaderOptions are the plugin loader's options for a -cache-dir value.
func loaderOptions(cacheDir string) *host.LoaderOptions {
	if cacheDir == "none" {
		return &host.LoaderOptions{NoCache: true}
	}
	return &host.LoaderOptions{CacheDir: cacheDir}
}

// loadWith loads a config file with its plugins and validates it, printing
// its warnings; or prints every problem and returns an exit code.
func loadWith(ctx context.Context, path string, opts *host.LoaderOptions,
	stderr io.Writer) (*host.Setup, int) {
	s, err := host.LoadConfig(ctx, path, nil, opts)
	if err != nil {
		printLoadError(stderr, err)
		return nil, exitInput
	}
	for _, w := range s.File.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return s, exitOK
}

// printLoadError prints every problem of a config file, one a line, or the
// error that kept it from loading.
func printLoadError(w io.Writer, err error) {
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		fmt.Fprintf(w, "wsplug: %v\n", err)
		return
	}
	for _, p := range ve.Problems {
		fmt.Fprintf(w, "%s\n", p)
	}
	n := len(ve.Problems)
	fmt.Fprintf(w, "%d %s\n", n, plural(n, "problem", "problems"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func runResolve(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) int {
	show := fs.Bool("show-secrets", false, "print tokens and other secrets instead of ***")
	cacheDir := fs.String("cache-dir", "", cacheDirUsage)
	pos, code := parse(fs, args, stdout, 1, 2)
	if code >= 0 {
		return code
	}
	ctx := context.Background()
	s, code := loadWith(ctx, pos[0], loaderOptions(*cacheDir), stderr)
	if s == nil {
		return code
	}
	defer s.Close(ctx)
	apis, code := apisToResolve(s.File, pos, stderr)
	if code >= 0 {
		return code
	}

	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	failed := false
	for i := range apis {
		if apis[i].Websocket == nil {
			continue
		}
		if err := printResolved(ctx, tw, s.Registry, &apis[i], *show); err != nil {
			fmt.Fprintf(stderr, "wsplug: %v\n", err)
			failed = true
		}
	}
	tw.Flush()
	if failed {
		return exitInput
	}
	return exitOK
}

// apisToResolve returns the API that pos names after the file, or every API;
// or an exit code when there is no such API with a websocket.
func apisToResolve(f *config.File, pos []string, stderr io.Writer) ([]config.API, int) {
	if len(pos) < 2 {
		return f.APIs, -1
	}
	a, ok := f.API(pos[1])
	if !ok {
		names := make([]string, len(f.APIs))
		for i, a := range f.APIs {
			names[i] = a.Name
		}
		fmt.Fprintf(stderr, "wsplug: no api named %q in %s; apis: %q\n", pos[1], pos[0], names)
		return nil, exitInput
	}
	if a.Websocket == nil {
		fmt.Fprintf(stderr, "wsplug: api %q has no websocket section\n", a.Name)
		return nil, exitInput
	}
	return []config.API{*a}, -1
}

// printResolved resolves an API's websocket URL and headers and prints
// them, redacted unless show.
func printResolved(ctx context.Context, tw io.Writer, reg *host.Registry, a *config.API,
	show bool) error {
	t, err := resolve(ctx, reg, a)
	if err != nil {
		return err
	}
	state := ""
	if !a.Enabled {
		state = " (disabled)"
	}
	fmt.Fprintf(tw, "%s%s\n", a.Name, state)
	url, header := t.Redacted(), t.RedactedHeader()
	if show {
		url, header = t.URL, nil
		for _, h := range a.Websocket.Headers {
			name := http.CanonicalHeaderKey(h.Name)
			header = append(header, config.Pair{Name: name, Value: t.Header.Get(name)})
		}
	}
	fmt.Fprintf(tw, "  url\t%s\n", url)
	for _, h := range header {
		fmt.Fprintf(tw, "  header\t%s: %s\n", h.Name, h.Value)
	}
	return nil
}

// resolve makes an API's client id and resolves its websocket URL and
// headers, with the built-in placeholders, the environment and the
// plugins'.
func resolve(ctx context.Context, reg *host.Registry, a *config.API) (*config.Target, error) {
	plan, err := config.NewPlan(a)
	if err != nil {
		return nil, err
	}
	client := &host.ClientInfo{API: a.Name, Values: &config.Values{}, Auth: a.Auth}
	src := config.Chain(config.Env{}, reg.Lookup(client))
	v, err := plan.Values(ctx, src)
	if err != nil {
		return nil, err
	}
	*client.Values = v
	if v.ClientID == "" {
		name := plan.ClientIDFormat()
		format, ok := reg.ClientIDFormat(name)
		if !ok {
			return nil, fmt.Errorf("api[%s]: unknown client_id_format %q", a.Name, name)
		}
		if client.Values.ClientID, err = format.NewClientID(ctx); err != nil {
			return nil, fmt.Errorf("api[%s] client_id_format[%s]: %w", a.Name, name, err)
		}
	}
	return plan.Resolve(ctx, client.Values, src)
}
