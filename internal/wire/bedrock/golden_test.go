package bedrock

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
)

// update regenerates the golden files: go test ./internal/wire/bedrock -update
var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const fixtures = "../../emulator/fixtures"

// fixedTime is the "created" time of every golden output.
var fixedTime = time.Unix(1750000000, 0)

func TestMain(m *testing.M) {
	now = func() time.Time { return fixedTime }
	newID = func() string { return "bedrock0123456789" }
	os.Exit(m.Run())
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func indentJSON(t testing.TB, v []byte) []byte {
	t.Helper()
	val := jsontext.Value(bytes.Clone(v))
	if err := val.Indent(jsontext.WithIndent("  ")); err != nil {
		t.Fatalf("output is not valid JSON: %v\n%s", err, v)
	}
	return append(val, '\n')
}

func checkCompact(t testing.TB, v []byte) {
	t.Helper()
	c := jsontext.Value(bytes.Clone(v))
	if err := c.Compact(); err != nil {
		t.Fatalf("output is not valid JSON: %v\n%s", err, v)
	}
	if !bytes.Equal(c, v) {
		t.Errorf("output is not compact JSON:\n%s", v)
	}
}

// golden compares got with testdata/<name>, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
	}
}
