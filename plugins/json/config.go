package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Defaults of the config keys.
const (
	DefaultWrapField   = "data"
	DefaultFilterField = "type"
	DefaultMask        = "***"
)

// config is the plugin's config, as the host passes it.
type config struct {
	// Strict makes a text frame that is not JSON an error instead of
	// passing it.
	Strict bool          `json:"strict"`
	Wrap   *wrapConfig   `json:"wrap"`
	Filter *filterConfig `json:"filter"`
	Redact *redactConfig `json:"redact"`
}

// wrapConfig is the wrap section.
type wrapConfig struct {
	Envelope json.RawMessage `json:"envelope"`
	Field    *string         `json:"field"`
}

// filterConfig is the filter section.
type filterConfig struct {
	Field *string  `json:"field"`
	Drop  []string `json:"drop"`
	Keep  []string `json:"keep"`
}

// redactConfig is the redact section.
type redactConfig struct {
	Fields []string `json:"fields"`
	Mask   *string  `json:"mask"`
}

// decodeConfig reads the config with decode (guest.DecodeConfig in the
// plugin) and rejects keys it does not know, so that a typo such as
// "filter: {dorp: [...]}" is an error rather than a filter that keeps all.
func decodeConfig(decode func(any) error) (config, error) {
	var cfg config
	if err := decode(&cfg); err != nil {
		return cfg, fmt.Errorf("json: %w", err)
	}
	return cfg, nil
}

// transforms are one instance's checked config and the buffers its
// transforms reuse from message to message.
type transforms struct {
	strict bool

	// wrapHead is the envelope up to the message: `{"type":"x","data":`;
	// nil when the config has no wrap section.
	wrapHead []byte

	// filterOn says the config has a filter section.
	filterOn   bool
	filterPath []segment
	filterSet  map[string]struct{}
	// keep: filterSet lists the types to keep, not those to drop.
	keep bool

	// redactPaths is nil when the config has no redact section.
	redactPaths [][]segment
	mask        []byte // the mask as a JSON string

	out   []byte // the last replacement
	spans []span
}

// newTransforms checks the config. A section that is absent is not an
// error here, since a host may use only some of the transforms: it is an
// error of each call of that transform. A section that is present must be
// complete.
func newTransforms(cfg config) (*transforms, error) {
	t := &transforms{strict: cfg.Strict}
	if cfg.Wrap != nil {
		head, err := wrapHead(cfg.Wrap)
		if err != nil {
			return nil, err
		}
		t.wrapHead = head
	}
	if cfg.Filter != nil {
		if err := t.setFilter(cfg.Filter); err != nil {
			return nil, err
		}
	}
	if cfg.Redact != nil {
		if err := t.setRedact(cfg.Redact); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// wrapHead checks the wrap section and encodes the envelope without its
// closing brace, followed by the field's key.
func wrapHead(w *wrapConfig) ([]byte, error) {
	env := bytes.TrimSpace(w.Envelope)
	if len(env) == 0 || string(env) == "null" {
		return nil, errors.New("json: wrap.envelope is missing: the object to put each " +
			"message in, such as {type: prompt}")
	}
	if env[0] != '{' {
		return nil, fmt.Errorf("json: wrap.envelope: %s is not an object", env)
	}
	field := DefaultWrapField
	if w.Field != nil {
		if field = *w.Field; field == "" {
			return nil, errors.New("json: wrap.field is empty")
		}
	}
	if _, dup := lookup(env, []segment{{key: field, index: -1}}); dup {
		return nil, fmt.Errorf("json: wrap.envelope already has the key %q "+
			"that wrap.field names", field)
	}
	var head bytes.Buffer
	if err := json.Compact(&head, env); err != nil {
		return nil, fmt.Errorf("json: wrap.envelope: %v", err)
	}
	head.Truncate(head.Len() - 1) // the closing brace
	if head.Len() > 1 {
		head.WriteByte(',')
	}
	head.Write(quote(field))
	head.WriteByte(':')
	return head.Bytes(), nil
}

// setFilter checks the filter section.
func (t *transforms) setFilter(f *filterConfig) error {
	field := DefaultFilterField
	if f.Field != nil {
		field = *f.Field
	}
	path, err := parsePath(field)
	if err != nil {
		return fmt.Errorf("json: filter.field: %v", err)
	}
	list := f.Drop
	switch {
	case f.Drop != nil && f.Keep != nil:
		return errors.New("json: filter.drop and filter.keep are both set; set one")
	case f.Keep != nil:
		if len(f.Keep) == 0 {
			return errors.New("json: filter.keep is empty: " +
				"every message would be dropped")
		}
		list, t.keep = f.Keep, true
	case f.Drop == nil:
		return errors.New("json: the filter section needs filter.drop or filter.keep")
	}
	t.filterOn, t.filterPath = true, path
	t.filterSet = make(map[string]struct{}, len(list))
	for _, v := range list {
		t.filterSet[v] = struct{}{}
	}
	return nil
}

// setRedact checks the redact section.
func (t *transforms) setRedact(r *redactConfig) error {
	if len(r.Fields) == 0 {
		return errors.New("json: redact.fields is missing or empty: the dotted paths " +
			"to mask, such as [data.token]")
	}
	t.redactPaths = make([][]segment, len(r.Fields))
	for i, f := range r.Fields {
		p, err := parsePath(f)
		if err != nil {
			return fmt.Errorf("json: redact.fields[%d]: %v", i, err)
		}
		t.redactPaths[i] = p
	}
	mask := DefaultMask
	if r.Mask != nil {
		mask = *r.Mask
	}
	t.mask = quote(mask)
	return nil
}

// quote encodes s as a JSON string, leaving <, > and & as they are (which
// json.Marshal would escape for HTML) so that a mask reads as written.
func quote(s string) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode(s) // a string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
