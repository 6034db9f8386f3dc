package gemini

import (
	"os"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/wire/wiretest"
)

// The golden-file plumbing is shared with the other translators;
// regenerate the golden files with: go test ./internal/wire/gemini -update
var (
	readFixture  = wiretest.ReadFixture
	indentJSON   = wiretest.IndentJSON
	checkCompact = wiretest.CheckCompact
	golden       = wiretest.Golden
)

// fixedTime is the "created" time of every golden output.
var fixedTime = time.Unix(1750000000, 0)

func TestMain(m *testing.M) {
	now = func() time.Time { return fixedTime }
	os.Exit(m.Run())
}
