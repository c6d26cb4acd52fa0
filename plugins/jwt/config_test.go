package main

import (
	"strings"
	"testing"
)

// TestConfigErrors checks that each invalid config fails loading with an
// error that names its key.
func TestConfigErrors(t *testing.T) {
	jwt := func(m map[string]any) map[string]any { return map[string]any{"jwt": m} }
	tests := []struct {
		name   string
		config any
		error  string
	}{
		{name: "both key sources", error: "jwt.key and jwt.key_from are both set",
			config: jwt(map[string]any{"key": "k", "key_from": "token"})},
		{name: "empty key", error: "jwt.key is empty",
			config: jwt(map[string]any{"key": ""})},
		{name: "key from password", error: `jwt.key_from: "password" is not one of token`,
			config: jwt(map[string]any{"key_from": "password"})},
		{name: "hmac both", error: "hmac.key and hmac.key_from",
			config: map[string]any{"hmac": map[string]any{
				"key": "k", "key_from": "token"}}},
		{name: "bad lifetime", error: `jwt.lifetime: "soon" is not a duration`,
			config: jwt(map[string]any{"key": "k", "lifetime": "soon"})},
		{name: "short lifetime", error: "jwt.lifetime: 10ms is less than 1s",
			config: jwt(map[string]any{"key": "k", "lifetime": "10ms"})},
		{name: "lifetime number",
			error:  "jwt.lifetime: a JSON number where a string is needed",
			config: jwt(map[string]any{"key": "k", "lifetime": 60})},
		{name: "empty issuer", error: "jwt.issuer is empty",
			config: jwt(map[string]any{"key": "k", "issuer": ""})},
		{name: "audience number", error: "jwt.audience: 5 is not a string",
			config: jwt(map[string]any{"key": "k", "audience": 5})},
		{name: "audience empty list", error: "jwt.audience",
			config: jwt(map[string]any{"key": "k", "audience": []any{}})},
		{name: "claims exp",
			error:  "jwt.claims.exp: the plugin sets exp; use jwt.lifetime",
			config: jwt(map[string]any{"key": "k", "claims": map[string]any{"exp": 1}})},
		{name: "claims iss",
			error:  "jwt.claims.iss: the plugin sets iss; use jwt.issuer",
			config: jwt(map[string]any{"key": "k", "claims": map[string]any{"iss": 1}})},
		{name: "claims not an object",
			error:  "jwt.claims: a JSON number where an object is needed",
			config: jwt(map[string]any{"key": "k", "claims": 1})},
		{name: "unknown key", error: `unknown key "lifetme"`,
			config: jwt(map[string]any{"key": "k", "lifetme": "1h"})},
		{name: "not an object", config: "jwt", error: "the config is a JSON string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := configOf(t, tt.config)
			if err == nil {
				_, err = newSettings(cfg, fixedClock)
			}
			if err == nil || !strings.Contains(err.Error(), tt.error) {
				t.Errorf("error %v, want one with %q", err, tt.error)
			}
		})
	}
}
