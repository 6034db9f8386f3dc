package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestEvalEndToEnd runs a golden set through a real gateway serving the
// built-in simulator: one case passes, one fails.
func TestEvalEndToEnd(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	cfgPath := filepath.Join(dir, "switchboard.yaml")
	cfg := fmt.Sprintf("server: {listen: %q}\nstore: {dsn: %q}\n", addr, filepath.Join(dir, "sb.db"))
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, []string{"--config", cfgPath}, io.Discard) }()
	defer func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	base := "http://" + addr
	waitReady(t, base)

	golden := filepath.Join(dir, "golden.yaml")
	if err := os.WriteFile(golden, []byte(`
- name: greets
  prompt: Say hello.
  expect: {contains: [simulator]}
- name: capital
  system: Answer briefly.
  prompt: What is the capital of France?
  expect: {contains: [Paris]}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	jsonPath := filepath.Join(dir, "report.json")
	var out bytes.Buffer
	if err := run([]string{"eval", "--golden", golden, "--model", "demo", "--url", base, "--json", jsonPath}, &out, io.Discard); err != nil {
		t.Fatalf("eval: %v\n%s", err, out.String())
	}
	text := out.String()
	if !regexp.MustCompile(`(?m)^demo\s+2\s+1\s+50\.0%\s+0\s`).MatchString(text) {
		t.Errorf("summary row is not demo, 2 cases, 1 passed, 50.0%%, 0 errors:\n%s", text)
	}
	for _, want := range []string{
		"greets   PASS",
		"capital  FAIL [1]",
		`[1] capital / demo: contains "Paris": not in the answer`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("eval output lacks %q:\n%s", want, text)
		}
	}

	data, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Models []struct {
			Model    string  `json:"model"`
			Passed   int     `json:"passed"`
			PassRate float64 `json:"pass_rate"`
		} `json:"models"`
		Cases []struct {
			Name    string `json:"name"`
			Results map[string]struct {
				Pass   bool   `json:"pass"`
				Reason string `json:"reason"`
			} `json:"results"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("--json file: %v\n%s", err, data)
	}
	if len(rep.Models) != 1 || rep.Models[0].Passed != 1 || rep.Models[0].PassRate != 50 ||
		len(rep.Cases) != 2 || !rep.Cases[0].Results["demo"].Pass || rep.Cases[1].Results["demo"].Pass {
		t.Errorf("--json report = %s", data)
	}
}

func TestEvalErrors(t *testing.T) {
	dir := t.TempDir()
	golden := filepath.Join(dir, "golden.yaml")
	os.WriteFile(golden, []byte("- {name: a, prompt: hi, expect: {contains: [x]}}\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("- {name: a, prompt: hi, expects: {contains: [x]}}\n"), 0o644)
	unreachable := "http://" + freeAddr(t) // nothing listens there
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "--golden", golden}, "--model"},
		{[]string{"eval", "--model", "demo"}, "--golden"},
		{[]string{"eval", "--golden", bad, "--model", "demo", "--url", unreachable}, `unknown field "expects"`},
		{[]string{"eval", "--golden", golden, "--model", "demo", "--url", unreachable, "--timeout", "5s"}, "could not be reached"},
	} {
		err := run(tc.args, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q = %v; want an error with %q", tc.args, err, tc.want)
		}
	}
}

func TestGatewayURL(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ cfg, want string }{
		{"server: {listen: \"127.0.0.1:9123\"}\n", "http://127.0.0.1:9123"},
		{"server: {listen: \"0.0.0.0:9124\"}\nadmin: {key: k}\n", "http://127.0.0.1:9124"},
	} {
		path := filepath.Join(dir, "sb.yaml")
		if err := os.WriteFile(path, []byte(tc.cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := gatewayURL(path); err != nil || got != tc.want {
			t.Errorf("gatewayURL(%s) = %q, %v; want %q", tc.cfg, got, err, tc.want)
		}
	}
	t.Setenv("SWITCHBOARD_CONFIG", "")
	t.Chdir(dir) // no switchboard.yaml here
	if got, err := gatewayURL(""); err != nil || got != "http://127.0.0.1:8080" {
		t.Errorf("gatewayURL with no config = %q, %v", got, err)
	}
}
