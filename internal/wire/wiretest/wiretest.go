// Package wiretest is the golden-file plumbing the translator tests share:
// reading the emulator's fixtures, normalising JSON for readable golden
// files, and comparing with (or, with -update, rewriting) testdata.
//
// It registers the -update flag, so import it from tests only:
//
//	go test ./internal/wire/gemini -update
package wiretest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
)

// update regenerates the golden files instead of comparing with them.
var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// Fixtures is the emulator's fixture directory, relative to a translator
// package under internal/wire (a test's working directory).
const Fixtures = "../../emulator/fixtures"

// ReadFixture returns the fixture file name (relative to Fixtures),
// failing t when it cannot be read.
func ReadFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// IndentJSON returns v indented with two spaces and a final newline, for
// readable golden files. The member order is kept; v is not modified.
func IndentJSON(t testing.TB, v []byte) []byte {
	t.Helper()
	val := jsontext.Value(bytes.Clone(v))
	if err := val.Indent(jsontext.WithIndent("  ")); err != nil {
		t.Fatalf("output is not valid JSON: %v\n%s", err, v)
	}
	return append(val, '\n')
}

// CheckCompact fails t unless v is compact JSON.
func CheckCompact(t testing.TB, v []byte) {
	t.Helper()
	c := jsontext.Value(bytes.Clone(v))
	if err := c.Compact(); err != nil {
		t.Fatalf("output is not valid JSON: %v\n%s", err, v)
	}
	if !bytes.Equal(c, v) {
		t.Errorf("output is not compact JSON:\n%s", v)
	}
}

// Golden compares got with testdata/<name>, or rewrites it with -update.
func Golden(t *testing.T, name string, got []byte) {
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
