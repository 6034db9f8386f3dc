package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/config"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitUp polls url until it answers.
func waitUp(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not come up", url)
}

// TestServeBuiltInDefaults is the README's first command: no config anywhere,
// and the demo model answers through the built-in simulator. The server then
// shuts down cleanly on cancel (SIGTERM).
func TestServeBuiltInDefaults(t *testing.T) {
	t.Chdir(t.TempDir()) // no ./switchboard.yaml here
	t.Setenv("SWITCHBOARD_CONFIG", "")
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, []string{"--listen", addr}, logs) }()
	waitUp(t, "http://"+addr+"/healthz")

	for _, body := range []string{
		`{"model":"demo","messages":[{"role":"user","content":"Hello"}]}`,
		`{"model":"demo","stream":true,"messages":[{"role":"user","content":"Hello"}]}`,
	} {
		resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), "simulator") {
			t.Errorf("demo model: %d %s", resp.StatusCode, b)
		}
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Errorf("serve returned %v after shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(logs.String(), "accepts every caller") {
		t.Errorf("no open-mode warning in the log:\n%s", logs)
	}
}

func TestServeRefusesExposedWithoutAdminKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sb.yaml")
	os.WriteFile(path, []byte("server: {listen: \"0.0.0.0:0\"}\n"), 0o644)
	err := serve(context.Background(), []string{"--config", path}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "admin") {
		t.Errorf("serve on 0.0.0.0 without admin key = %v, want a refusal naming admin.key", err)
	}
}

func TestCheckExposure(t *testing.T) {
	for _, tc := range []struct {
		listen, admin string
		ok            bool
	}{
		{"127.0.0.1:8080", "", true},
		{"localhost:8080", "", true},
		{"[::1]:8080", "", true},
		{"0.0.0.0:8080", "", false},
		{":8080", "", false},
		{"10.0.0.1:8080", "", false},
		{"0.0.0.0:8080", "admin-secret", true},
	} {
		cfg := config.Default()
		cfg.Server.Listen, cfg.Admin.Key = tc.listen, tc.admin
		if err := checkExposure(cfg); (err == nil) != tc.ok {
			t.Errorf("checkExposure(listen %q, admin %q) = %v, want ok=%v", tc.listen, tc.admin, err, tc.ok)
		}
	}
}

func TestMockUpstreamCommand(t *testing.T) {
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- mockUpstream(ctx, []string{"--listen", addr, "--faults", "status=429"}, io.Discard) }()
	waitUp(t, "http://"+addr+"/v1/models")
	resp, err := http.Post("http://"+addr+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 {
		t.Errorf("mock-upstream --faults status=429: got %d", resp.StatusCode)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("mock-upstream returned %v", err)
	}
	if err := mockUpstream(context.Background(), []string{"--faults", "bogus=1"}, io.Discard); err == nil {
		t.Errorf("mock-upstream with a bad fault spec started")
	}
}

func TestRunCommands(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"version"}, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "switchboard ") {
		t.Errorf("version: %v %q", err, out.String())
	}
	if err := run([]string{"frobnicate"}, io.Discard, io.Discard); err == nil {
		t.Errorf("unknown command succeeded")
	}
	if err := run([]string{"eval"}, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "--golden") {
		t.Errorf("eval without flags: %v, want an error naming --golden", err)
	}
}

// TestServeReloadsOnSIGHUP: SIGHUP re-reads the config file (DESIGN.md §2).
func TestServeReloadsOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "switchboard.yaml")
	addr := freeAddr(t)
	if err := os.WriteFile(path, []byte("server: {listen: \""+addr+"\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, []string{"--config", path}, logs) }()
	waitUp(t, "http://"+addr+"/healthz")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "config reloaded on SIGHUP") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload after SIGHUP; log:\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Errorf("serve: %v", err)
	}
}

// TestMain runs the package's tests in a scratch directory: serve on the
// built-in defaults makes its SQLite store under ./data, which must not land
// in the source tree.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "switchboard-cmd-test")
	if err != nil {
		panic(err)
	}
	if err := os.Chdir(dir); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
