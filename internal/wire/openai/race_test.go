//go:build race

package openai

// raceEnabled reports a -race build, in which sync.Pool drops some of what
// it is given, so allocation counts are not exact.
const raceEnabled = true
