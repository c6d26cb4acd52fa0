package host

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/wsplug/wsplug/config"
)

// Response is what an endpoint answered.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Header is the response's header; nil when no request was made.
	Header http.Header
	// Body is the body, up to 64 MiB, read before Call returns; for an
	// endpoint with method null, which makes no request, the payload as
	// JSON.
	Body []byte
}

// JSON decodes the body into v.
func (r *Response) JSON(v any) error { return json.Unmarshal(r.Body, v) }

// HTTPError is a response outside 2xx; the Response is returned too.
type HTTPError struct {
	// API and Endpoint name what was called, as in the config.
	API, Endpoint string
	// Status is the HTTP status code.
	Status int
	Body   string // the start of it
}

// Error says which endpoint answered what.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("api[%s] endpoint[%s]: HTTP %d: %s", e.API, e.Endpoint, e.Status, e.Body)
}

// maxResponse bounds the body Call reads.
const maxResponse = 64 << 20

// Call makes a request to one of the API's endpoints. The payload is
// JSON-shaped data (maps, slices, strings, numbers) or any value that
// encodes as JSON. The path and the payload resolve their placeholders from
// vars, the client's values, the environment and the plugins. The values
// are the websocket's: a Call before the first Enable resolves them, and
// makes the client id the websocket will use; an API without a websocket
// gets a client id of the default format, made once;
// default_headers go under the endpoint's headers; auth, timeout (the
// endpoint's or default_timeout) and retry (with backoff, on network errors
// and 5xx answers) apply; payload_type json, form, query or multipart says
// how the payload travels. An endpoint with method null makes no request:
// its Response carries the resolved payload as JSON, status 0.
func (c *Client) Call(
	ctx context.Context,
	endpoint string,
	payload any,
	vars Vars,
) (*Response, error) {
	ep := c.endpoint(endpoint)
	if ep == nil {
		names := make([]string, len(c.api.Endpoints))
		for i, e := range c.api.Endpoints {
			names[i] = e.Name
		}
		return nil, fmt.Errorf("api[%s]: no endpoint %q; endpoints: %q", c.name, endpoint, names)
	}
	fail := func(err error) (*Response, error) {
		return nil, fmt.Errorf("api[%s] endpoint[%s]: %w", c.name, ep.Name, err)
	}
	if err := c.resolveOnce(ctx); err != nil {
		return nil, err // it names the API and the value
	}
	body, build, err := c.prepareCall(ctx, ep, payload, vars)
	if err != nil {
		return fail(err)
	}
	if build == nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fail(err)
		}
		return &Response{Body: b}, nil
	}
	timeout := ep.Timeout
	if timeout == 0 {
		timeout = c.api.DefaultTimeout
	}
	var lastErr error
	for attempt := 0; attempt <= ep.Retry; attempt++ {
		if attempt > 0 && !sleep(ctx, httpBackoff(attempt)) {
			break
		}
		resp, err, retry := c.do(ctx, build, timeout, ep)
		if !retry {
			return resp, err
		}
		lastErr = err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, lastErr
}

// prepareCall resolves the payload and what the request needs; build is
// nil for an endpoint that makes no request. The plugins it calls are held
// for that long only, not through the request and its retries.
func (c *Client) prepareCall(ctx context.Context, ep *config.Endpoint, payload any,
	vars Vars) (body any, build func(context.Context) (*http.Request, error), err error) {
	info := c.info.Load()
	setup, hd := c.host.useSetup()
	defer hd.release()
	lk := config.Chain(vars, info.Values, c.sources(setup, info))
	if payload != nil {
		p, err := config.ParsePayload(payload)
		if err != nil {
			// Not JSON-shaped data (a struct, say): take it as JSON.
			b, merr := json.Marshal(payload)
			if merr != nil {
				return nil, nil, merr
			}
			if p, err = config.ParsePayloadJSON(b); err != nil {
				return nil, nil, err
			}
		}
		if body, err = p.Resolve(ctx, lk, config.ResolveOptions{}); err != nil {
			return nil, nil, err
		}
	}
	if ep.Method == config.NoRequest {
		return body, nil, nil
	}
	build, err = c.requestBuilder(ctx, ep, body, lk)
	return body, build, err
}

func (c *Client) endpoint(name string) *config.Endpoint {
	for i := range c.api.Endpoints {
		if c.api.Endpoints[i].Name == name {
			return &c.api.Endpoints[i]
		}
	}
	return nil
}

// httpBackoff is the wait before retry n of a request: 250ms doubling to
// 5s, with full jitter.
func httpBackoff(n int) time.Duration {
	ceiling := min(250*time.Millisecond<<min(n-1, 5), 5*time.Second)
	return time.Duration(rand.Int64N(int64(ceiling))) + 1
}

// requestBuilder resolves what does not change between attempts and
// returns a function that makes a fresh request for each.
func (c *Client) requestBuilder(ctx context.Context, ep *config.Endpoint, body any,
	lk config.Lookup) (func(context.Context) (*http.Request, error), error) {
	base, err := config.ParseTemplate(c.api.URL).Resolve(ctx, lk)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	path, err := config.ParseTemplate(ep.Path).ResolvePath(ctx, lk)
	if err != nil {
		return nil, fmt.Errorf("path: %w", err)
	}
	u, err := url.Parse(strings.TrimRight(base, "/") + "/" + strings.TrimLeft(path, "/"))
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	header := http.Header{}
	for _, pairs := range [][]config.Pair{c.api.DefaultHeaders, ep.Headers} {
		for _, h := range pairs {
			v, err := config.ParseTemplate(h.Value).Resolve(ctx, lk)
			if err != nil {
				return nil, fmt.Errorf("headers.%s: %w", h.Name, err)
			}
			header.Set(h.Name, v)
		}
	}
	epType := ""
	for _, h := range ep.Headers {
		if http.CanonicalHeaderKey(h.Name) == "Content-Type" {
			epType = h.Value
		}
	}
	var data []byte
	contentType := ""
	if body != nil {
		switch ep.PayloadType {
		case config.PayloadJSON:
			if data, err = json.Marshal(body); err != nil {
				return nil, err
			}
			contentType = "application/json"
		case config.PayloadForm:
			vals, err := formValues(body)
			if err != nil {
				return nil, err
			}
			data, contentType = []byte(vals.Encode()), "application/x-www-form-urlencoded"
		case config.PayloadQuery:
			vals, err := formValues(body)
			if err != nil {
				return nil, err
			}
			q := u.Query()
			for k, vs := range vals {
				for _, v := range vs {
					q.Add(k, v)
				}
			}
			u.RawQuery = q.Encode()
		case config.PayloadMultipart:
			if data, contentType, err = multipartBody(body); err != nil {
				return nil, err
			}
		}
	}
	if contentType != "" {
		// The payload type decides, unless the endpoint itself names a
		// type (default_headers' Content-Type is for JSON calls).
		if epType == "" || ep.PayloadType == config.PayloadMultipart {
			header.Set("Content-Type", contentType)
		}
	} else if epType == "" && body == nil {
		header.Del("Content-Type")
	}
	var user, password string
	if a := c.api.Auth; a != nil {
		if user, err = config.ParseTemplate(a.Username).Resolve(ctx, lk); err != nil {
			return nil, fmt.Errorf("auth.username: %w", err)
		}
		if password, err = config.ParseTemplate(a.Password.Reveal()).Resolve(ctx, lk); err != nil {
			return nil, fmt.Errorf("auth.password: %w", err)
		}
	}
	target := u.String()
	return func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, ep.Method, target, bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		req.Header = header.Clone()
		if len(data) == 0 {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		if c.api.Auth != nil {
			req.SetBasicAuth(user, password)
		}
		return req, nil
	}, nil
}

// do makes one attempt; retry says whether another may help.
func (c *Client) do(ctx context.Context, build func(context.Context) (*http.Request, error),
	timeout time.Duration, ep *config.Endpoint) (resp *Response, err error, retry bool) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := build(actx)
	if err != nil {
		return nil, fmt.Errorf("api[%s] endpoint[%s]: %w", c.name, ep.Name, err), false
	}
	hr, err := c.host.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its text repeats the URL, which may hold a secret
		}
		return nil, fmt.Errorf("api[%s] endpoint[%s]: %s %s: %w", c.name, ep.Name, ep.Method,
			redactedPath(req.URL), err), ctx.Err() == nil
	}
	defer hr.Body.Close()
	body, err := io.ReadAll(io.LimitReader(hr.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("api[%s] endpoint[%s]: reading the response: %w",
			c.name, ep.Name, err), ctx.Err() == nil
	}
	resp = &Response{Status: hr.StatusCode, Header: hr.Header, Body: body}
	if hr.StatusCode < 200 || hr.StatusCode > 299 {
		snippet := string(body)
		if len(snippet) > 200 {
			snippet = snippet[:200] + "…"
		}
		herr := &HTTPError{API: c.name, Endpoint: ep.Name, Status: hr.StatusCode, Body: snippet}
		return resp, herr, hr.StatusCode >= 500
	}
	return resp, nil, false
}

// redactedPath is a request URL for an error: scheme, host and path, no
// query (it may hold a secret).
func redactedPath(u *url.URL) string {
	c := *u
	c.RawQuery, c.User = "", nil
	return c.String()
}

// formValues flattens a payload object into form values: text as it is,
// lists as repeated keys, anything else as JSON.
func formValues(body any) (url.Values, error) {
	obj, ok := body.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a %s payload must be an object, got %T", "form or query", body)
	}
	vals := url.Values{}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		items, isList := obj[k].([]any)
		if !isList {
			items = []any{obj[k]}
		}
		for _, item := range items {
			s, err := formText(item)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			vals.Add(k, s)
		}
	}
	return vals, nil
}

func formText(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case nil:
		return "", nil
	}
	b, err := json.Marshal(v)
	return strings.Trim(string(b), `"`), err
}

// multipartBody makes a multipart/form-data body of a payload object's
// fields.
func multipartBody(body any) ([]byte, string, error) {
	vals, err := formValues(body)
	if err != nil {
		return nil, "", err
	}
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range vals[k] {
			if err := w.WriteField(k, v); err != nil {
				return nil, "", err
			}
		}
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}
