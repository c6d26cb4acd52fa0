package host

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/wsplug/wsplug/abi"
	"github.com/wsplug/wsplug/config"
)

// The providers of a plugin: each call takes an instance from the pool, calls
// the export with the provider's index, and gives the instance back.

type pluginClientID struct {
	p     *Plugin
	index uint64
	call  string // "client_id[NAME]", for errors
}

func (f *pluginClientID) NewClientID(ctx context.Context) (string, error) {
	in, err := f.p.acquire(ctx, f.call)
	if err != nil {
		return "", err
	}
	defer f.p.release(in)
	status, err := in.call(ctx, f.call, in.fnClientID, &callArgs{params: [2]uint64{f.index}})
	if err != nil {
		return "", f.p.failed(err)
	}
	if status != abi.StatusOK || len(in.out) == 0 {
		return "", f.p.failed(f.p.error(f.call, ErrPluginFailed, resultProblem(status, in)))
	}
	return string(in.out), nil
}

type pluginPlaceholder struct {
	p      *Plugin
	index  uint64
	secret bool
	call   string
}

func (s *pluginPlaceholder) Placeholder(
	ctx context.Context,
	_, arg string,
	c *ClientInfo,
) (any, error) {
	in, err := s.p.acquire(ctx, s.call)
	if err != nil {
		return nil, err
	}
	defer s.p.release(in)
	status, err := in.call(ctx, s.call, in.fnPlaceholder,
		&callArgs{params: [2]uint64{s.index}, input: []byte(arg), client: c})
	if err != nil {
		return nil, s.p.failed(err)
	}
	secret := s.secret || in.readSecret
	switch {
	case in.tooLarge > 0:
		// output_set refused the value: there is none to give.
	case status == abi.StatusOK:
		if secret {
			return config.Secret(in.out), nil
		}
		return string(in.out), nil
	case status == abi.StatusJSON:
		if secret {
			// A secret keeps its JSON text: the type is lost, the secret kept.
			return config.Secret(in.out), nil
		}
		dec := json.NewDecoder(bytes.NewReader(in.out))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			msg := "its JSON value does not parse: " + err.Error()
			return nil, s.p.failed(s.p.error(s.call, ErrPluginFailed, msg))
		}
		return v, nil
	}
	return nil, s.p.failed(s.p.error(s.call, ErrPluginFailed, resultProblem(status, in)))
}

type pluginTransform struct {
	p     *Plugin
	index uint64
	call  string
}

func (t *pluginTransform) Transform(ctx context.Context, m *Message) (Action, error) {
	in, err := t.p.acquire(ctx, t.call)
	if err != nil {
		return Pass, err
	}
	flags := uint64(0)
	if m.Incoming {
		flags |= uint64(abi.FlagIncoming)
	}
	if m.Binary {
		flags |= uint64(abi.FlagBinary)
	}
	dst := m.scratch()
	status, err := in.call(ctx, t.call, in.fnTransform,
		&callArgs{params: [2]uint64{t.index, flags}, input: m.Data, dst: dst, client: m.Client})
	outputSet := in.outputSet
	if err != nil {
		t.p.release(in)
		return Pass, t.p.failed(err)
	}
	switch status {
	case abi.StatusOK:
		t.p.release(in)
		return Pass, nil
	case abi.StatusDrop:
		t.p.release(in)
		return Drop, nil
	case abi.StatusReplace:
		if outputSet {
			t.p.release(in)
			m.Data = *dst
			return Replace, nil
		}
	}
	problem := resultProblem(status, in)
	t.p.release(in)
	return Pass, t.p.failed(t.p.error(t.call, ErrPluginFailed, problem))
}

// resultProblem says what is wrong with a call that returned without error.
func resultProblem(status abi.Status, in *instance) string {
	uses := status == abi.StatusReplace || status == abi.StatusOK || status == abi.StatusJSON
	switch {
	case uses && in.tooLarge > 0:
		return fmt.Sprintf("its output of %d bytes is larger than the limit of %d",
			in.tooLarge, in.plugin.maxOutput)
	case status == abi.StatusReplace:
		return "returned replace without calling output_set"
	case status == abi.StatusOK && len(in.out) == 0:
		return "returned an empty value"
	}
	return fmt.Sprintf("returned status %d (%s), which this call does not take",
		int32(status), status)
}

// acquire takes an instance for a call.
func (p *Plugin) acquire(ctx context.Context, call string) (*instance, error) {
	p.calls.Add(1)
	in, err := p.pool.get(ctx)
	if err != nil {
		p.failures.Add(1)
		if pe, ok := err.(*PluginError); ok {
			return nil, pe
		}
		// No export ran: the call did not get an instance.
		return nil, &PluginError{Plugin: p.name, Call: call, Kind: err}
	}
	return in, nil
}

func (p *Plugin) release(in *instance) { p.pool.put(in) }

// failed counts a failure and passes it on.
func (p *Plugin) failed(err error) error {
	p.failures.Add(1)
	return err
}
