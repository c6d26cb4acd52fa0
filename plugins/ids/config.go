package main

import (
	"fmt"
	"io"
	"time"
)

// Defaults of the config keys.
const (
	// DefaultNanoidSize is the length of a nanoid, as the nanoid
	// reference implementation makes them: about 126 random bits.
	DefaultNanoidSize = 21
	// DefaultSnowflakeEpoch is Twitter's snowflake epoch,
	// 2010-11-04T01:42:54.657Z, in Unix milliseconds.
	DefaultSnowflakeEpoch = 1288834974657
)

// config is the plugin's config, as the host passes it. Pointers tell a key
// that is absent from one set to its zero value.
type config struct {
	ULID   struct{} `json:"ulid"`
	Nanoid struct {
		Size *int `json:"size"`
	} `json:"nanoid"`
	Snowflake struct {
		Node  *int   `json:"node"`
		Epoch *int64 `json:"epoch"`
	} `json:"snowflake"`
}

// decodeConfig reads the config with decode (guest.DecodeConfig in the
// plugin) and rejects keys it does not know, so that a typo such as
// "snowflake: {nod: 7}" is an error rather than a silently missing node.
func decodeConfig(decode func(any) error) (config, error) {
	var cfg config
	if err := decode(&cfg); err != nil {
		return cfg, fmt.Errorf("ids: %w", err)
	}
	return cfg, nil
}

// generators are the three formats of one instance.
type generators struct {
	ulid   *ulidGen
	nanoid *nanoidGen
	// snowflake makes a snowflake id, or says why the config allows none.
	snowflake func() (string, error)
}

// newGenerators checks the config and builds the generators on the clock
// now and the random source rand. A missing snowflake.node is not an error
// here, because a host may use only the other formats: it is an error of
// each snowflake call instead.
func newGenerators(cfg config, now func() time.Time, rand io.Reader) (
	*generators, error) {
	size := DefaultNanoidSize
	if cfg.Nanoid.Size != nil {
		size = *cfg.Nanoid.Size
		if size < 2 || size > 255 {
			return nil, fmt.Errorf("ids: nanoid.size: %d is not in 2..255", size)
		}
	}
	nano, err := newNanoid(urlAlphabet, size, rand)
	if err != nil {
		return nil, err
	}
	g := &generators{ulid: newULID(now, rand), nanoid: nano}

	epoch := int64(DefaultSnowflakeEpoch)
	if cfg.Snowflake.Epoch != nil {
		epoch = *cfg.Snowflake.Epoch
		if epoch < 0 {
			return nil, fmt.Errorf("ids: snowflake.epoch: %d is before 1970 "+
				"(it is in Unix milliseconds)", epoch)
		}
	}
	if cfg.Snowflake.Node == nil {
		g.snowflake = func() (string, error) {
			return "", fmt.Errorf("ids: the snowflake format needs snowflake.node " +
				"(0..1023) in the plugin's config, e.g. config: {snowflake: {node: 1}}")
		}
		return g, nil
	}
	node := *cfg.Snowflake.Node
	if node < 0 || node > maxNode {
		return nil, fmt.Errorf("ids: snowflake.node: %d is not in 0..%d", node, maxNode)
	}
	sf := newSnowflake(int64(node), epoch, now)
	g.snowflake = sf.next
	return g, nil
}
