package config

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Watcher reloads a config file when it changes and on demand. Each reload
// is all-or-nothing: the new file must load and validate and apply must
// accept it, otherwise the error is logged and the previous config keeps
// serving.
type Watcher struct {
	path   string
	logger *slog.Logger
	apply  func(*Config) error

	debounce time.Duration // quiet time after the last event before reloading
	ready    chan struct{} // closed once Run is watching; for tests
	once     sync.Once

	mu      sync.Mutex // serializes reloads, so apply is never called concurrently
	seen    [sha256.Size]byte
	hasSeen bool // seen holds the hash of the content last loaded or rejected
	missing bool // the file was missing at the last check (logged once)
}

// NewWatcher returns a Watcher for the file at path. apply is called with
// each new valid config, never concurrently; if loading fails or apply
// returns an error, the error is logged on logger (slog.Default() if nil) and
// the old config keeps serving. The file's current content is taken as
// already applied, so Run reloads only once it changes.
func NewWatcher(path string, logger *slog.Logger, apply func(*Config) error) *Watcher {
	if logger == nil {
		logger = slog.Default()
	}
	w := &Watcher{
		path:     filepath.Clean(path),
		logger:   logger,
		apply:    apply,
		debounce: 100 * time.Millisecond,
		ready:    make(chan struct{}),
	}
	if data, err := os.ReadFile(path); err == nil {
		w.seen, w.hasSeen = sha256.Sum256(data), true
	}
	return w
}

// Run watches the file until ctx is done, then returns nil; it returns an
// error only if the watch cannot be set up.
//
// It watches the file's directory rather than the file, so it survives
// editors that write a temporary file and rename it over the original, and
// Kubernetes ConfigMap volumes, which swap a "..data" symlink. Events are
// debounced (100ms) and the file is reloaded only if its content hash
// changed, so touching it or rewriting the same bytes does nothing. If path
// is a symlink into another directory, that directory is watched too.
func (w *Watcher) Run(ctx context.Context) error {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch config %s: %w", w.path, err)
	}
	defer fw.Close()
	dir := filepath.Dir(w.path)
	if err := fw.Add(dir); err != nil {
		return fmt.Errorf("watch config %s: %w", w.path, err)
	}
	target, targetDir := w.watchTarget(fw, dir, "")
	w.once.Do(func() { close(w.ready) })

	// Catch a change made between NewWatcher and the watch starting.
	w.reloadIfChanged()

	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fw.Events:
			if !ok {
				return nil
			}
			if w.relevant(ev.Name, target) {
				timer.Reset(w.debounce)
			}
		case err, ok := <-fw.Errors:
			if !ok {
				return nil
			}
			w.logger.Warn("config watch error", "path", w.path, "error", err)
		case <-timer.C:
			w.reloadIfChanged()
			target, targetDir = w.watchTarget(fw, dir, targetDir)
		}
	}
}

// relevant reports whether an event on name may have changed the file: the
// file itself, its symlink target, or a Kubernetes "..data"-style entry.
func (w *Watcher) relevant(name, target string) bool {
	name = filepath.Clean(name)
	return name == w.path || name == target || strings.HasPrefix(filepath.Base(name), "..")
}

// watchTarget resolves the file's symlinks and, if the real file lives in
// another directory than dir, watches that directory as well (dropping the
// previously watched one, prev). It returns the resolved path and the extra
// directory watched ("" for none).
func (w *Watcher) watchTarget(fw *fsnotify.Watcher, dir, prev string) (target, extra string) {
	target, err := filepath.EvalSymlinks(w.path)
	if err != nil {
		return "", prev
	}
	realDir, _ := filepath.EvalSymlinks(dir)
	td := filepath.Dir(target)
	// Kubernetes' "..2024_01_01..." directories are swapped by "..data" in
	// dir, which is already watched.
	if td == dir || td == realDir || strings.HasPrefix(filepath.Base(td), "..") {
		td = ""
	}
	if td == prev {
		return target, prev
	}
	if prev != "" {
		_ = fw.Remove(prev) // may already be gone
	}
	if td != "" {
		if err := fw.Add(td); err != nil {
			w.logger.Warn("config watch error", "path", w.path, "error", err)
			td = ""
		}
	}
	return target, td
}

// Reload loads the file now and applies it, whether or not it changed
// (SIGHUP). It returns the load or apply error, nil on success; either way
// the outcome is logged.
func (w *Watcher) Reload() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	data, err := os.ReadFile(w.path)
	if err != nil {
		err = fmt.Errorf("load config: %w", err)
		w.reject(err)
		return err
	}
	w.seen, w.hasSeen, w.missing = sha256.Sum256(data), true, false
	return w.load(data)
}

// reloadIfChanged reloads when the content differs from what was last seen.
// It reports whether a reload was attempted and its error.
func (w *Watcher) reloadIfChanged() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	data, err := os.ReadFile(w.path)
	if err != nil {
		// A rename-replace can leave the name missing for an instant; the
		// next event retries. Log a lasting absence once.
		if errors.Is(err, fs.ErrNotExist) && w.missing {
			return false, nil
		}
		w.missing = errors.Is(err, fs.ErrNotExist)
		err = fmt.Errorf("load config: %w", err)
		w.reject(err)
		return true, err
	}
	w.missing = false
	sum := sha256.Sum256(data)
	if w.hasSeen && sum == w.seen {
		return false, nil
	}
	w.seen, w.hasSeen = sum, true
	return true, w.load(data)
}

// load parses data and applies it; w.mu is held.
func (w *Watcher) load(data []byte) error {
	// An empty file parses as the built-in defaults, which would silently
	// replace a real config with the demo one. On reload it is far more
	// likely a file caught half-written by an editor, so it is refused.
	if len(bytes.TrimSpace(data)) == 0 {
		err := fmt.Errorf("load config: %s is empty (caught mid-write?); not replacing the running config with built-in defaults", w.path)
		w.reject(err)
		return err
	}
	cfg, err := Parse(data, w.path, os.LookupEnv)
	if err == nil && w.apply != nil {
		if aerr := w.apply(cfg); aerr != nil {
			err = fmt.Errorf("apply config %s: %w", w.path, scrub(aerr, cfg.Secrets()))
		}
	}
	if err != nil {
		w.reject(err)
		return err
	}
	w.logger.Info("config reloaded", "path", w.path)
	return nil
}

func (w *Watcher) reject(err error) {
	w.logger.Error("config reload rejected, keeping previous config", "path", w.path, "error", err)
}

// scrub hides secrets that apply may have put in its error message.
func scrub(err error, secrets []string) error {
	msg := err.Error()
	clean := msg
	for _, s := range secrets {
		clean = strings.ReplaceAll(clean, s, "[redacted]")
	}
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
