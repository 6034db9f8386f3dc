package openai

import (
	"math"
	"strconv"
)

// slowInt handles integer-valued numbers written with a fraction or an
// exponent (1.0, 1e3) and numbers too long for the fast path.
func slowInt(v []byte) (int64, bool) {
	if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(string(v), 64)
	if err != nil || f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, false
	}
	return int64(f), true
}
