package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in YAML as a Go duration string such as
// "30s", "1m30s" or "10m". A bare integer is rejected, because it is unclear
// whether 30 means seconds or nanoseconds; negative durations are rejected too.
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.String, e.g. "1m30s".
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler, so a Config can be written
// back as YAML or JSON.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the rules of the
// config file.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := parseDuration(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// errBareNumber is returned for a duration written without a unit.
var errBareNumber = errors.New(`a duration needs a unit; write e.g. "30s", "500ms" or "10m"`)

func parseDuration(s string) (Duration, error) {
	s = strings.TrimSpace(s)
	if _, err := strconv.ParseFloat(s, 64); err == nil && s != "0" {
		return 0, errBareNumber
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		// time's own message quotes the value, which may come from the
		// environment; say what is wanted instead.
		return 0, errors.New(`not a duration; write a Go duration such as "30s", "1m30s" or "10m"`)
	}
	if v < 0 {
		return 0, errors.New("a duration cannot be negative")
	}
	return Duration(v), nil
}

// Size is a number of bytes. In YAML it is an integer (bytes) or a string
// with a unit: B, KiB, MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB
// (powers of 1000), case-insensitive, e.g. "10MiB", "512KiB", "10MB", "100B".
// Negative sizes and sizes beyond int64 are rejected.
type Size int64

var sizeUnits = []struct {
	name string
	mult int64
}{
	// Longest suffixes first so "MiB" is not read as "B".
	{"tib", 1 << 40}, {"gib", 1 << 30}, {"mib", 1 << 20}, {"kib", 1 << 10},
	{"tb", 1e12}, {"gb", 1e9}, {"mb", 1e6}, {"kb", 1e3},
	{"b", 1},
}

// String formats s with the largest unit that divides it exactly, e.g.
// "10MiB", "10MB" or "1500B".
func (s Size) String() string {
	for _, u := range []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}} {
		if s != 0 && int64(s)%u.mult == 0 {
			return strconv.FormatInt(int64(s)/u.mult, 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10) + "B"
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with the rules of the
// config file.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := parseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func parseSize(str string) (Size, error) {
	s := strings.ToLower(strings.TrimSpace(str))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.name) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.name)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		if strings.HasPrefix(s, "-") {
			return 0, errors.New("a size cannot be negative")
		}
		return 0, errors.New(`not a size; write a whole number of bytes or a unit, e.g. "10MiB", "512KiB", "10MB" or "100B"`)
	}
	if n < 0 {
		return 0, errors.New("a size cannot be negative")
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("a size cannot exceed %d bytes", int64(math.MaxInt64))
	}
	return Size(n * mult), nil
}
