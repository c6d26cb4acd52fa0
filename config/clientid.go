package config

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// ClientIDFormat makes client ids of one format. The built-ins below, Go
// functions of an embedding program and Wasm plugins all implement it.
type ClientIDFormat interface {
	NewClientID(ctx context.Context) (string, error)
}

// ClientIDFunc adapts a function to ClientIDFormat.
type ClientIDFunc func(ctx context.Context) (string, error)

// NewClientID calls f.
func (f ClientIDFunc) NewClientID(ctx context.Context) (string, error) { return f(ctx) }

// DefaultClientIDFormat is the format used when client_id_format is not set.
const DefaultClientIDFormat = "uuid"

// builtinFormats are the formats of the original format, made the same way,
// plus uuid7.
var builtinFormats = map[string]ClientIDFormat{
	"uuid":      ClientIDFunc(newUUID4),
	"uuid7":     ClientIDFunc(newUUID7),
	"short":     ClientIDFunc(newShort),
	"timestamp": ClientIDFunc(newTimestamp),
	"hex":       ClientIDFunc(newHex),
	"opaque":    ClientIDFunc(newOpaque),
	"int":       ClientIDFunc(newInt),
	"machine":   ClientIDFunc(newMachine),
	"env_user":  ClientIDFunc(newEnvUser),
}

// BuiltinClientIDFormat returns the built-in format of that name.
func BuiltinClientIDFormat(name string) (ClientIDFormat, bool) {
	f, ok := builtinFormats[name]
	return f, ok
}

// BuiltinClientIDFormats returns the names of the built-in formats, sorted.
func BuiltinClientIDFormats() []string {
	names := make([]string, 0, len(builtinFormats))
	for n := range builtinFormats {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func newUUID4(context.Context) (string, error) {
	id, err := uuid.NewRandom()
	return id.String(), err
}

func newUUID7(context.Context) (string, error) {
	id, err := uuid.NewV7()
	return id.String(), err
}

const alphanumeric = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newShort draws 8 characters uniformly from [A-Za-z0-9].
func newShort(context.Context) (string, error) {
	const n = 8
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", err
		}
		for _, b := range buf {
			// 248 = 4*62: larger bytes would favour the first letters.
			if b < 248 && len(out) < n {
				out = append(out, alphanumeric[b%62])
			}
		}
	}
	return string(out), nil
}

func newTimestamp(context.Context) (string, error) {
	return strconv.FormatInt(time.Now().Unix(), 10), nil
}

// newHex makes 16 hex digits from 8 random bytes.
func newHex(context.Context) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// newOpaque makes 22 URL-safe characters from 16 random bytes.
func newOpaque(context.Context) (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// newInt draws a decimal number uniformly below 10^8.
func newInt(context.Context) (string, error) {
	const limit = 100_000_000
	const bound = (1 << 32) / limit * limit // rejecting above keeps it uniform
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return "", err
		}
		if v := binary.LittleEndian.Uint32(b[:]); v < bound {
			return strconv.FormatUint(uint64(v%limit), 10), nil
		}
	}
}

func newMachine(context.Context) (string, error) {
	return os.Hostname()
}

func newEnvUser(context.Context) (string, error) {
	if u, ok := os.LookupEnv("USER"); ok {
		return u, nil
	}
	return "unknown_user", nil
}
