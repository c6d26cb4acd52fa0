package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wsplug/wsplug/abi"
	"github.com/wsplug/wsplug/abi/guest"
)

// DefaultLifetime is how long a token is valid when jwt.lifetime is unset.
const DefaultLifetime = time.Hour

// keyConfig says where a key comes from: exactly one of Key (the key's
// text, used as its UTF-8 bytes) and KeyFrom (the name of a client value).
type keyConfig struct {
	Key     *string `json:"key"`
	KeyFrom *string `json:"key_from"`
}

// jwtConfig is the jwt section of the config.
type jwtConfig struct {
	keyConfig
	Claims   map[string]json.RawMessage `json:"claims"`
	Lifetime *string                    `json:"lifetime"`
	Issuer   *string                    `json:"issuer"`
	Audience json.RawMessage            `json:"audience"`
}

// config is the plugin's config, as the host passes it.
type config struct {
	JWT  *jwtConfig `json:"jwt"`
	HMAC *keyConfig `json:"hmac"`
}

// decodeConfig reads the config with decode (guest.DecodeConfig in the
// plugin) and rejects keys it does not know, so that a typo such as
// "lifetme" is an error rather than a silently default lifetime.
func decodeConfig(decode func(any) error) (config, error) {
	var cfg config
	if err := decode(&cfg); err != nil {
		return cfg, fmt.Errorf("jwt: %w", err)
	}
	return cfg, nil
}

// valueFunc reads one of the client's values: guest.Value in the plugin, a
// fake in tests.
type valueFunc func(name string) (string, error)

// keySource is a checked keyConfig.
type keySource struct {
	// section names the config section the key was set in, for errors.
	section string
	key     []byte
	// from is the client value the key is read from at each call, when
	// key is nil.
	from string
}

// keyFromValues are the client values a key may come from.
var keyFromValues = []string{abi.ValueToken}

// newKeySource checks a keyConfig of section. It returns nil when neither
// key nor key_from is set.
func newKeySource(section string, k keyConfig) (*keySource, error) {
	switch {
	case k.Key != nil && k.KeyFrom != nil:
		return nil, fmt.Errorf("jwt: %s.key and %s.key_from are both set; set one",
			section, section)
	case k.Key != nil:
		if *k.Key == "" {
			return nil, fmt.Errorf("jwt: %s.key is empty", section)
		}
		return &keySource{section: section, key: []byte(*k.Key)}, nil
	case k.KeyFrom != nil:
		if !slices.Contains(keyFromValues, *k.KeyFrom) {
			return nil, fmt.Errorf("jwt: %s.key_from: %q is not one of %s", section,
				*k.KeyFrom, strings.Join(keyFromValues, ", "))
		}
		return &keySource{section: section, from: *k.KeyFrom}, nil
	}
	return nil, nil
}

// get returns the key, reading it from the client with value when it comes
// from a client value.
func (k *keySource) get(value valueFunc) ([]byte, error) {
	if k.key != nil {
		return k.key, nil
	}
	v, err := value(k.from)
	switch {
	case errors.Is(err, guest.ErrDenied):
		return nil, fmt.Errorf("jwt: %s.key_from: reading the client's %s needs the "+
			"secrets capability: add secrets to the plugin's allow", k.section, k.from)
	case err != nil && !errors.Is(err, guest.ErrNotFound):
		return nil, fmt.Errorf("jwt: %s.key_from: reading the client's %s: %w",
			k.section, k.from, err)
	case v == "":
		return nil, fmt.Errorf("jwt: %s.key_from: the client has no %s",
			k.section, k.from)
	}
	return []byte(v), nil
}

// settings are the checked config: what the placeholders need at a call.
type settings struct {
	now func() time.Time
	// jwtKey and hmacKey are nil when the config gives no key for them;
	// hmacKey falls back to jwtKey.
	jwtKey, hmacKey *keySource
	lifetime        time.Duration
	// claims holds the fixed members of the payload, each preceded by a
	// comma: `,"iss":"me","role":"bot"`.
	claims []byte
	// fixedSub is whether the configured claims have a sub, which then
	// wins over the client id.
	fixedSub bool
}

// reservedClaims are claims the plugin sets itself, with the key to set
// instead.
var reservedClaims = map[string]string{
	"iat": "jwt.lifetime (iat is the time of the call)",
	"exp": "jwt.lifetime",
	"iss": "jwt.issuer",
	"aud": "jwt.audience",
}

// newSettings checks the config; now is the clock iat and exp come from.
func newSettings(cfg config, now func() time.Time) (*settings, error) {
	s := &settings{now: now, lifetime: DefaultLifetime}
	j := cfg.JWT
	if j == nil {
		j = &jwtConfig{}
	}
	var err error
	if s.jwtKey, err = newKeySource("jwt", j.keyConfig); err != nil {
		return nil, err
	}
	s.hmacKey = s.jwtKey
	if cfg.HMAC != nil {
		k, err := newKeySource("hmac", *cfg.HMAC)
		if err != nil {
			return nil, err
		}
		if k != nil {
			s.hmacKey = k
		}
	}
	if j.Lifetime != nil {
		d, err := time.ParseDuration(*j.Lifetime)
		if err != nil {
			return nil, fmt.Errorf("jwt: jwt.lifetime: %q is not a duration "+
				"such as 1h or 90m", *j.Lifetime)
		}
		if d < time.Second {
			return nil, fmt.Errorf("jwt: jwt.lifetime: %v is less than 1s", d)
		}
		s.lifetime = d
	}
	if s.claims, err = fixedClaims(j); err != nil {
		return nil, err
	}
	_, s.fixedSub = j.Claims["sub"]
	return s, nil
}

// fixedClaims encodes the claims that are the same in every token: iss,
// aud and jwt.claims in key order, so that tokens made from one config
// differ only in sub, iat and exp.
func fixedClaims(j *jwtConfig) ([]byte, error) {
	var b []byte
	if j.Issuer != nil {
		if *j.Issuer == "" {
			return nil, errors.New("jwt: jwt.issuer is empty")
		}
		b = appendMember(b, "iss", nil)
		b = appendString(b, *j.Issuer)
	}
	if len(j.Audience) > 0 && !bytes.Equal(j.Audience, []byte("null")) {
		var aud any
		_ = json.Unmarshal(j.Audience, &aud) // valid JSON: it was decoded once
		if !isAudience(aud) {
			return nil, fmt.Errorf("jwt: jwt.audience: %s is not a string or a list "+
				"of strings", j.Audience)
		}
		b = appendMember(b, "aud", j.Audience)
	}
	names := make([]string, 0, len(j.Claims))
	for name := range j.Claims {
		if instead, ok := reservedClaims[name]; ok {
			return nil, fmt.Errorf("jwt: jwt.claims.%s: the plugin sets %s; use %s",
				name, name, instead)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		b = appendMember(b, name, j.Claims[name])
	}
	return b, nil
}

// isAudience reports whether v is a JWT aud: a string or a list of them.
func isAudience(v any) bool {
	switch v := v.(type) {
	case string:
		return v != ""
	case []any:
		for _, e := range v {
			if s, ok := e.(string); !ok || s == "" {
				return false
			}
		}
		return len(v) > 0
	}
	return false
}

// appendMember appends `,"name":` and value, compacted, to b. A nil value
// appends the name only, for the caller to append the value.
func appendMember(b []byte, name string, value json.RawMessage) []byte {
	b = append(b, ',')
	b = appendString(b, name)
	b = append(b, ':')
	if value == nil {
		return b
	}
	var c bytes.Buffer
	_ = json.Compact(&c, value) // valid JSON: it was decoded once
	return append(b, c.Bytes()...)
}

// appendString appends s as a JSON string, leaving <, > and & as they are
// (json.Marshal would escape them for HTML, which a token does not need).
func appendString(b []byte, s string) []byte {
	var q bytes.Buffer
	e := json.NewEncoder(&q)
	e.SetEscapeHTML(false)
	_ = e.Encode(s) // a string always encodes
	return append(b, bytes.TrimSuffix(q.Bytes(), []byte("\n"))...)
}
