package config

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the watcher goroutine and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const waitTimeout = 10 * time.Second

// waitFor polls cond until it holds or waitTimeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func listenConfig(addr string) string { return "server: {listen: \"" + addr + "\"}\n" }

// writeAtomic replaces path the way careful editors do: temp file + rename.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type watchHarness struct {
	w       *Watcher
	applied chan *Config
	logs    *syncBuffer
}

// startWatcher writes initial to path, starts a Watcher on it and waits until
// it is watching. apply, if non-nil, decides each apply's result.
func startWatcher(t *testing.T, path, initial string, apply func(*Config) error) *watchHarness {
	t.Helper()
	if err := os.WriteFile(path, []byte(initial), 0o600); err != nil {
		t.Fatal(err)
	}
	h := &watchHarness{applied: make(chan *Config, 100), logs: &syncBuffer{}}
	logger := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.w = NewWatcher(path, logger, func(c *Config) error {
		if apply != nil {
			if err := apply(c); err != nil {
				return err
			}
		}
		h.applied <- c
		return nil
	})
	h.w.debounce = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run() = %v, want nil after cancel", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("Run() did not return after cancel")
		}
	})
	select {
	case <-h.w.ready:
	case err := <-done:
		t.Fatalf("Run() returned early: %v", err)
	case <-time.After(waitTimeout):
		t.Fatal("watcher not ready")
	}
	return h
}

// waitApplied waits for an applied config with the given listen address,
// skipping others (an in-place write may be seen half-way).
func (h *watchHarness) waitApplied(t *testing.T, listen string) *Config {
	t.Helper()
	timeout := time.After(waitTimeout)
	for {
		select {
		case c := <-h.applied:
			if c.Server.Listen == listen {
				return c
			}
		case <-timeout:
			t.Fatalf("timed out waiting for a config with listen %q; logs:\n%s", listen, h.logs)
		}
	}
}

func (h *watchHarness) assertNoApply(t *testing.T) {
	t.Helper()
	select {
	case c := <-h.applied:
		t.Errorf("apply called with listen %q, want no call", c.Server.Listen)
	default:
	}
}

func TestWatcherReloadsOnChange(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchboard.yaml")
	h := startWatcher(t, path, listenConfig("127.0.0.1:1001"), nil)

	if err := os.WriteFile(path, []byte(listenConfig("127.0.0.1:1002")), 0o600); err != nil {
		t.Fatal(err)
	}
	c := h.waitApplied(t, "127.0.0.1:1002")
	if c.Source != path {
		t.Errorf("applied Source = %q, want %q", c.Source, path)
	}
	waitFor(t, `"config reloaded" log`, func() bool {
		return strings.Contains(h.logs.String(), `msg="config reloaded" path=`+path)
	})
}

func TestWatcherRenameReplace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchboard.yaml")
	h := startWatcher(t, path, listenConfig("127.0.0.1:1001"), nil)
	writeAtomic(t, path, listenConfig("127.0.0.1:2002"))
	h.waitApplied(t, "127.0.0.1:2002")
	// The watch survives the replacement: a second one is seen too.
	writeAtomic(t, path, listenConfig("127.0.0.1:2003"))
	h.waitApplied(t, "127.0.0.1:2003")
}

func TestWatcherRejectsBadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchboard.yaml")
	h := startWatcher(t, path, listenConfig("127.0.0.1:1001"), nil)

	writeAtomic(t, path, "server:\n  listn: oops\n")
	waitFor(t, "rejection log", func() bool {
		return strings.Contains(h.logs.String(), `msg="config reload rejected, keeping previous config"`)
	})
	if logs := h.logs.String(); !strings.Contains(logs, `unknown key \"listn\" in server`) {
		t.Errorf("rejection log = %q, want it to carry the error", logs)
	}
	h.assertNoApply(t)

	err := h.w.Reload()
	var cerr *Error
	if !errors.As(err, &cerr) || !strings.Contains(err.Error(), "switchboard.yaml:2:3: unknown key \"listn\"") {
		t.Errorf("Reload() = %v, want the *Error naming the unknown key and its line", err)
	}
	h.assertNoApply(t)

	// A fixed file is picked up again.
	writeAtomic(t, path, listenConfig("127.0.0.1:3003"))
	h.waitApplied(t, "127.0.0.1:3003")
}

// TestWatcherRefusesEmptyFile: an empty file would parse as the built-in
// defaults; on reload it is refused instead of replacing a real config.
func TestWatcherRefusesEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchboard.yaml")
	h := startWatcher(t, path, listenConfig("127.0.0.1:1001"), nil)
	writeAtomic(t, path, "\n  \n")
	if err := h.w.Reload(); err == nil || !strings.Contains(err.Error(), "is empty") {
		t.Errorf("Reload() of an empty file = %v, want an error saying it is empty", err)
	}
	h.assertNoApply(t)
}

func TestWatcherApplyError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchboard.yaml")
	h := startWatcher(t, path, listenConfig("127.0.0.1:1001"), func(c *Config) error {
		if c.Admin.Key != "" {
			return errors.New("cannot apply admin key " + c.Admin.Key)
		}
		return nil
	})
	if err := os.WriteFile(path, []byte("admin: {key: s3cret}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := h.w.Reload()
	if err == nil || !strings.Contains(err.Error(), "cannot apply admin key [redacted]") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Reload() = %v, want the apply error with the secret redacted", err)
	}
	waitFor(t, "rejection log", func() bool {
		return strings.Contains(h.logs.String(), "config reload rejected")
	})
	if strings.Contains(h.logs.String(), "s3cret") {
		t.Errorf("logs contain the secret:\n%s", h.logs)
	}
	h.assertNoApply(t)
}

func TestWatcherUnchangedIsNoop(t *testing.T) {
	path := filepath.Join(t.TempDir(), "switchboard.yaml")
	content := listenConfig("127.0.0.1:1001")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	calls := 0
	w := NewWatcher(path, slog.New(slog.DiscardHandler), func(*Config) error { calls++; return nil })

	// Touching or rewriting the same bytes does not reload.
	now := time.Now().Add(time.Minute)
	if err := os.Chtimes(path, now, now); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if reloaded, err := w.reloadIfChanged(); reloaded || err != nil || calls != 0 {
		t.Errorf("reloadIfChanged() on unchanged content = %v, %v with %d applies; want false, nil, 0", reloaded, err, calls)
	}

	// A change does.
	if err := os.WriteFile(path, []byte(listenConfig("127.0.0.1:1002")), 0o600); err != nil {
		t.Fatal(err)
	}
	if reloaded, err := w.reloadIfChanged(); !reloaded || err != nil || calls != 1 {
		t.Errorf("reloadIfChanged() on changed content = %v, %v with %d applies; want true, nil, 1", reloaded, err, calls)
	}

	// Reload (SIGHUP) applies even when unchanged.
	if err := w.Reload(); err != nil || calls != 2 {
		t.Errorf("Reload() = %v with %d applies; want nil, 2", err, calls)
	}

	// A deleted file is rejected, and the old config stays.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := w.Reload(); !errors.Is(err, os.ErrNotExist) || calls != 2 {
		t.Errorf("Reload() of a missing file = %v with %d applies; want ErrNotExist, 2", err, calls)
	}
}

// TestWatcherConfigMapSwap mimics a Kubernetes ConfigMap volume: the file is
// a symlink through "..data", which is atomically re-pointed at a new
// timestamped directory on update.
func TestWatcherConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	write := func(version, content string) {
		t.Helper()
		vdir := filepath.Join(dir, "..v"+version)
		if err := os.Mkdir(vdir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vdir, "switchboard.yaml"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("..v"+version, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	write("1", listenConfig("127.0.0.1:1001"))
	path := filepath.Join(dir, "switchboard.yaml")
	if err := os.Symlink(filepath.Join("..data", "switchboard.yaml"), path); err != nil {
		t.Fatal(err)
	}
	initial, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h := startWatcher(t, path, string(initial), nil) // rewrites through the symlink, same bytes
	write("2", listenConfig("127.0.0.1:4004"))
	h.waitApplied(t, "127.0.0.1:4004")
}

// TestWatcherSymlinkElsewhere watches a file that is a symlink into another
// directory, edited in place there.
func TestWatcherSymlinkElsewhere(t *testing.T) {
	real := filepath.Join(t.TempDir(), "real.yaml")
	if err := os.WriteFile(real, []byte(listenConfig("127.0.0.1:1001")), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "switchboard.yaml")
	if err := os.Symlink(real, path); err != nil {
		t.Fatal(err)
	}
	h := startWatcher(t, path, listenConfig("127.0.0.1:1001"), nil)
	if err := os.WriteFile(real, []byte(listenConfig("127.0.0.1:5005")), 0o600); err != nil {
		t.Fatal(err)
	}
	h.waitApplied(t, "127.0.0.1:5005")
}
