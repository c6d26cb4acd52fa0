package main

import (
	"encoding/json"
	"errors"
	"slices"
)

// verdict is what a transform does with a message; main.go turns it into a
// guest.Result. It is separate so that tests can see it.
type verdict int

// The verdicts.
const (
	pass verdict = iota
	replace
	drop
)

// String names a verdict, for test failures.
func (v verdict) String() string {
	return [...]string{"pass", "replace", "drop"}[v]
}

// maxKeep is the largest output buffer kept for the next message: one huge
// message should not hold its memory for the life of the instance.
const maxKeep = 1 << 20

// valid reports whether a text frame is JSON that a transform can work on.
// When it is not, the frame passes, or with strict it is an error.
func (t *transforms) valid(data []byte) (bool, error) {
	if json.Valid(data) {
		return true, nil
	}
	if t.strict {
		return false, errors.New("json: the text frame is not valid JSON (strict is set)")
	}
	return false, nil
}

// buffer returns the output buffer, emptied.
func (t *transforms) buffer() []byte {
	if cap(t.out) > maxKeep {
		t.out = nil
	}
	return t.out[:0]
}

// wrap puts an outgoing message in the envelope, as the value of the wrap
// field: the message goes in as JSON, exactly as it was written.
func (t *transforms) wrap(data []byte, incoming, binary bool) (verdict, []byte, error) {
	if incoming || binary {
		return pass, nil, nil
	}
	if t.wrapHead == nil {
		return pass, nil, errors.New("json: the wrap transform needs wrap.envelope in " +
			"the plugin's config")
	}
	if ok, err := t.valid(data); !ok {
		return pass, nil, err
	}
	out := append(t.buffer(), t.wrapHead...)
	out = append(out, data[skipSpace(data, 0):trimEnd(data)]...)
	t.out = append(out, '}')
	return replace, t.out, nil
}

// trimEnd returns the length of data without its trailing white space.
func trimEnd(data []byte) int {
	n := len(data)
	for n > 0 {
		switch data[n-1] {
		case ' ', '\t', '\n', '\r':
			n--
		default:
			return n
		}
	}
	return n
}

// filter drops incoming messages by the string at filter.field: those in
// filter.drop, or those not in filter.keep. A message without that field,
// or where it is not a string, has no type: it passes filter.drop and is
// dropped by filter.keep.
func (t *transforms) filter(data []byte, incoming, binary bool) (verdict, []byte, error) {
	if !incoming || binary {
		return pass, nil, nil
	}
	if !t.filterOn {
		return pass, nil, errors.New("json: the filter transform needs filter.drop or " +
			"filter.keep in the plugin's config")
	}
	if ok, err := t.valid(data); !ok {
		return pass, nil, err
	}
	listed := false
	if at, ok := lookup(data, t.filterPath); ok && data[at.start] == '"' {
		q := data[at.start:at.end]
		if slices.Contains(q[1:len(q)-1], '\\') {
			var s string
			_ = json.Unmarshal(q, &s) // a valid JSON string
			_, listed = t.filterSet[s]
		} else {
			_, listed = t.filterSet[string(q[1:len(q)-1])]
		}
	}
	if listed != t.keep {
		return drop, nil, nil
	}
	return pass, nil, nil
}

// redact replaces the values at the redact.fields paths with the mask, in
// both directions. Paths that are absent are skipped; when nothing is
// masked (or all is masked already) the message passes, and the host
// copies nothing.
func (t *transforms) redact(data []byte, _, binary bool) (verdict, []byte, error) {
	if binary {
		return pass, nil, nil
	}
	if t.redactPaths == nil {
		return pass, nil, errors.New("json: the redact transform needs " +
			"redact.fields in the plugin's config")
	}
	if ok, err := t.valid(data); !ok {
		return pass, nil, err
	}
	t.spans = t.spans[:0]
	found := func(s span) {
		// A value that is the mask already needs no change.
		if string(data[s.start:s.end]) != string(t.mask) {
			t.spans = append(t.spans, s)
		}
	}
	for _, p := range t.redactPaths {
		walk(data, 0, p, found)
	}
	if len(t.spans) == 0 {
		return pass, nil, nil
	}
	// In text order; of spans that start together, the outer one first.
	slices.SortFunc(t.spans, func(a, b span) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	out, prev := t.buffer(), 0
	for _, s := range t.spans {
		if s.start < prev {
			continue // inside a value masked already
		}
		out = append(out, data[prev:s.start]...)
		out = append(out, t.mask...)
		prev = s.end
	}
	t.out = append(out, data[prev:]...)
	return replace, t.out, nil
}
