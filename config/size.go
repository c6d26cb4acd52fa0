package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

var sizeUnits = []struct {
	suffix string
	bytes  int64
}{
	// Longest suffixes first, so that "KiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	{"B", 1},
}

// ParseSize reads a number of bytes: "1024", "64KiB", "16MiB", "1.5GB".
// Binary units (KiB, MiB, GiB) count in 1024s, decimal ones (KB, MB, GB) in
// 1000s.
func ParseSize(s string) (int64, error) {
	text := strings.TrimSpace(s)
	num, mult := text, int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(text, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(text, u.suffix)), u.bytes
			break
		}
	}
	if n, err := strconv.ParseInt(num, 10, 64); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("size must not be negative, got %s", s)
		}
		if n > math.MaxInt64/mult {
			return 0, fmt.Errorf("size %s is too large", s)
		}
		return n * mult, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	switch {
	case err != nil || num == "" || math.IsNaN(f) || math.IsInf(f, 0):
		return 0, fmt.Errorf(`expected a size such as "16MiB" or "512KB", got %q`, s)
	case f < 0:
		return 0, fmt.Errorf("size must not be negative, got %s", s)
	case f*float64(mult) >= math.MaxInt64:
		return 0, fmt.Errorf("size %s is too large", s)
	}
	return int64(f * float64(mult)), nil
}

// FormatSize writes a number of bytes in the largest binary unit that
// divides it.
func FormatSize(n int64) string {
	for i := 2; i >= 0; i-- {
		u := sizeUnits[i]
		if n != 0 && n%u.bytes == 0 {
			return strconv.FormatInt(n/u.bytes, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
