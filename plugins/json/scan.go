package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// This file finds values in JSON text without decoding it: a transform
// that changes one value, or reads one, copies the rest of the message as
// it is, so key order, spacing and number formats are kept, and nothing is
// allocated per message. The functions assume the text is valid JSON
// (json.Valid said so): they do not check it again.

// segment is one step of a dotted path: an object key or an array index.
type segment struct {
	key string
	// index is the key as an array index, or -1 when it is not a decimal
	// number: "items.0.id" reads element 0 of an array items, or the key
	// "0" of an object items.
	index int
}

// parsePath splits a dotted path such as data.items.0.id into segments.
// Keys that contain a dot cannot be named.
func parsePath(path string) ([]segment, error) {
	if path == "" {
		return nil, errors.New("the path is empty")
	}
	parts := strings.Split(path, ".")
	segs := make([]segment, len(parts))
	for i, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("%q has an empty segment", path)
		}
		segs[i] = segment{key: p, index: arrayIndex(p)}
	}
	return segs, nil
}

// arrayIndex returns s as a non-negative decimal index, or -1.
func arrayIndex(s string) int {
	if len(s) > 9 {
		return -1
	}
	n := 0
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return -1
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// span is where a value lies in the text: [start, end).
type span struct{ start, end int }

// walk calls found with the span of each value at path in the value that
// starts at or after b[i], and returns the index just after that value, so
// that the caller goes on from there: each byte is scanned once, however
// deep the path. Every key that matches is followed, so a key repeated in
// one object (valid JSON, if unwise) is found each time.
func walk(b []byte, i int, path []segment, found func(span)) int {
	i = skipSpace(b, i)
	if len(path) == 0 {
		end := skipValue(b, i)
		found(span{i, end})
		return end
	}
	switch b[i] {
	case '{':
		i = skipSpace(b, i+1)
		if b[i] == '}' {
			return i + 1
		}
		for {
			keyStart := i
			i = skipString(b, i)
			match := keyEquals(b[keyStart:i], path[0].key)
			i = skipSpace(b, i)   // at ':'
			i = skipSpace(b, i+1) // at the value
			if match {
				i = walk(b, i, path[1:], found)
			} else {
				i = skipValue(b, i)
			}
			if i = skipSpace(b, i); b[i] != ',' {
				return i + 1 // after '}'
			}
			i = skipSpace(b, i+1)
		}
	case '[':
		i = skipSpace(b, i+1)
		if b[i] == ']' {
			return i + 1
		}
		for n := 0; ; n++ {
			if n == path[0].index {
				i = walk(b, i, path[1:], found)
			} else {
				i = skipValue(b, i)
			}
			if i = skipSpace(b, i); b[i] != ',' {
				return i + 1 // after ']'
			}
			i = skipSpace(b, i+1)
		}
	}
	return skipValue(b, i)
}

// lookup returns the span of the value at path, the last one when a key
// repeats (as encoding/json would decode it).
func lookup(b []byte, path []segment) (span, bool) {
	at, ok := span{}, false
	walk(b, 0, path, func(s span) { at, ok = s, true })
	return at, ok
}

// keyEquals reports whether the quoted JSON string q is key. Only a key
// with escapes is decoded, which allocates.
func keyEquals(q []byte, key string) bool {
	raw := q[1 : len(q)-1]
	for _, c := range raw {
		if c == '\\' {
			var s string
			return json.Unmarshal(q, &s) == nil && s == key
		}
	}
	return string(raw) == key
}

// skipSpace returns the index of the first byte at or after i that is not
// JSON white space.
func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipString returns the index just after the string that starts at b[i].
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// skipValue returns the index just after the value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	// A number, true, false or null runs to the next delimiter.
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}
