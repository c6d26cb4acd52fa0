//go:build !wasip1

package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wsplug/wsplug/abi/guest"
)

// TestDescribe checks what the host is told the plugin provides, in the
// order that gives each format its index.
func TestDescribe(t *testing.T) {
	var s guest.Sim
	want := "client_id ulid\nclient_id nanoid\nclient_id snowflake\n"
	if got := s.Describe(); got != want {
		t.Errorf("describe = %q, want %q", got, want)
	}
}

// TestFormats runs each format through the simulated host, with the
// config a host config would give.
func TestFormats(t *testing.T) {
	tests := []struct {
		name   string
		config any
		format string
		shape  string // a regexp every id matches
	}{
		{name: "ulid", format: "ulid", shape: `^[0-7][0-9A-HJKMNP-TV-Z]{25}$`},
		{name: "nanoid default", format: "nanoid", shape: `^[A-Za-z0-9_-]{21}$`},
		{name: "nanoid sized", format: "nanoid", shape: `^[A-Za-z0-9_-]{8}$`,
			config: map[string]any{"nanoid": map[string]any{"size": 8}}},
		{name: "snowflake", format: "snowflake", shape: `^[1-9][0-9]{17,18}$`,
			config: map[string]any{"snowflake": map[string]any{"node": 7}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &guest.Sim{Config: tt.config}
			if err := s.Init(); err != nil {
				t.Fatal(err)
			}
			shape := regexp.MustCompile(tt.shape)
			seen := map[string]bool{}
			for range 50 {
				id, err := s.ClientID(tt.format)
				if err != nil {
					t.Fatal(err)
				}
				if !shape.MatchString(id) || seen[id] {
					t.Fatalf("id %q: repeated or not like %s", id, tt.shape)
				}
				seen[id] = true
			}
		})
	}
}

// TestSnowflakeNode checks that the node from the config is in the id.
func TestSnowflakeNode(t *testing.T) {
	s := &guest.Sim{Config: map[string]any{
		"snowflake": map[string]any{"node": 1001, "epoch": 1600000000000},
	}}
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	id, err := s.ClientID("snowflake")
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.ParseInt(id, 10, 64)
	if node := n >> seqBits & maxNode; node != 1001 {
		t.Errorf("node %d in id %s, want 1001", node, id)
	}
}

// TestConfigErrors checks that a bad config fails clearly, naming its key:
// at init when a value is wrong, at the call when snowflake.node is
// missing (a host may use only the other formats).
func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		config  any
		initErr string // part of the init error; "" for none
		format  string // a format whose call must fail
		callErr string
	}{
		{name: "size too small", initErr: "nanoid.size: 1 is not in 2..255",
			config: map[string]any{"nanoid": map[string]any{"size": 1}}},
		{name: "size too large", initErr: "nanoid.size",
			config: map[string]any{"nanoid": map[string]any{"size": 256}}},
		{name: "size not a number",
			config:  map[string]any{"nanoid": map[string]any{"size": "big"}},
			initErr: "nanoid.size"},
		{name: "node too large",
			config:  map[string]any{"snowflake": map[string]any{"node": 1024}},
			initErr: "snowflake.node: 1024 is not in 0..1023"},
		{name: "node negative",
			config:  map[string]any{"snowflake": map[string]any{"node": -1}},
			initErr: "snowflake.node"},
		{name: "epoch negative",
			config:  map[string]any{"snowflake": map[string]any{"node": 1, "epoch": -5}},
			initErr: "snowflake.epoch"},
		{name: "unknown key",
			config:  map[string]any{"snowflake": map[string]any{"nod": 1}},
			initErr: `unknown key "nod"`},
		{name: "not an object", config: []any{1}, initErr: "config"},
		{name: "node missing", format: "snowflake", callErr: "snowflake.node"},
		{name: "node missing from snowflake", format: "snowflake",
			callErr: "snowflake.node",
			config:  map[string]any{"snowflake": map[string]any{"epoch": 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &guest.Sim{Config: tt.config}
			err := s.Init()
			if tt.initErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.initErr) {
					t.Errorf("init error %v, want one with %q", err, tt.initErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("init: %v", err)
			}
			if id, err := s.ClientID(tt.format); err == nil ||
				!strings.Contains(err.Error(), tt.callErr) {
				t.Errorf("%s = %q, %v; want an error with %q",
					tt.format, id, err, tt.callErr)
			}
		})
	}
}
