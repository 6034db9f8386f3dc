package usage

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json" // v1 on purpose: it writes time.Duration as integer nanoseconds, matching the store's "_ns" fields
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/store"
)

const (
	spoolPattern = "usage-*.jsonl"
	// maxSpoolFile rotates a spool file so that a long outage leaves files
	// that can each be replayed (and deleted) in reasonable time.
	maxSpoolFile = 64 << 20
)

// spool keeps records on local disk, one JSON object a line, while the sink
// is down. Each process appends to files of its own (named with its pid and
// a random tag) and holds a lock on the one it is writing, so any process
// sharing the directory can replay the others.
type spool struct {
	dir    string
	prefix string // usage-<pid>-<random>
	log    *slog.Logger

	mu     sync.Mutex
	f      *os.File // current file, locked; nil when none
	size   int64
	seq    int
	closed bool // after close, each append opens, writes and closes a file
}

func newSpool(dir string, log *slog.Logger) (*spool, error) {
	if dir == "" {
		return nil, errors.New("usage: spool: SpoolDir is required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("usage: spool: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var tag [6]byte
	if _, err := rand.Read(tag[:]); err != nil {
		return nil, fmt.Errorf("usage: spool: %w", err)
	}
	return &spool{
		dir:    dir,
		prefix: fmt.Sprintf("usage-%d-%s", os.Getpid(), hex.EncodeToString(tag[:])),
		log:    log,
	}, nil
}

func encodeLines(recs []store.UsageRecord) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // one object and a newline per record
	enc.SetEscapeHTML(false)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return nil, fmt.Errorf("usage: spool: %w", err)
		}
	}
	return buf.Bytes(), nil
}

// append writes recs durably: it returns only after fsync. The records are
// written in one write call with O_APPEND; a crash can only leave a
// truncated last line, which replay skips.
func (s *spool) append(recs []store.UsageRecord) error {
	if len(recs) == 0 {
		return nil
	}
	buf, err := encodeLines(recs)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return s.appendOnce(filepath.Join(s.dir, s.prefix+"-late.jsonl"), buf)
	}
	if s.f != nil && s.size >= maxSpoolFile {
		s.closeFileLocked()
	}
	if s.f == nil {
		s.seq++
		f, err := openLocked(filepath.Join(s.dir, fmt.Sprintf("%s-%06d.jsonl", s.prefix, s.seq)))
		if err != nil {
			return err
		}
		s.f, s.size = f, 0
	}
	n, err := s.f.Write(buf)
	s.size += int64(n)
	if err == nil {
		err = s.f.Sync()
	}
	if err != nil {
		// Start a fresh file next time; what reached this one is replayed
		// too, and the store skips the duplicates.
		s.closeFileLocked()
		return fmt.Errorf("usage: spool: %w", err)
	}
	return nil
}

// appendOnce appends to path and closes it at once, releasing the lock: it
// serves Record after Close, when no one will rotate the file.
func (s *spool) appendOnce(path string, buf []byte) error {
	f, err := openLocked(path)
	if err != nil {
		return err
	}
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("usage: spool: %w", err)
	}
	return nil
}

// openLocked opens path for appending and locks it. A replayer may delete
// the file between our open and our lock (it found it empty and unlocked),
// so the lock only counts if path still names the file we hold.
func openLocked(path string) (*os.File, error) {
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("usage: spool: %w", err)
		}
		if _, err := lockFile(f, true); err != nil {
			f.Close()
			return nil, fmt.Errorf("usage: spool: lock: %w", err)
		}
		if sameFile(f, path) {
			return f, nil
		}
		f.Close()
	}
}

func sameFile(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

// rotate closes the current file, releasing its lock, so that it can be
// replayed.
func (s *spool) rotate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeFileLocked()
}

// close releases the current file; later appends each use a file of their
// own for the duration of the write.
func (s *spool) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeFileLocked()
	s.closed = true
}

func (s *spool) closeFileLocked() {
	if s.f == nil {
		return
	}
	if err := s.f.Close(); err != nil {
		s.log.Warn("usage: spool: close", "file", s.f.Name(), "err", err)
	}
	s.f = nil
}

// files lists the spool files in the directory, oldest process first.
func (s *spool) files() ([]string, error) {
	names, err := filepath.Glob(filepath.Join(s.dir, spoolPattern))
	if err != nil {
		return nil, fmt.Errorf("usage: spool: %w", err)
	}
	slices.Sort(names)
	return names, nil
}

// replayFile inserts the records of one spool file in chunks of batch and
// deletes the file once all of them are in. If an insert fails the file is
// kept whole: replaying it again re-sends chunks already stored, which the
// store skips. Files locked by a live writer are skipped (skipped=true).
func (s *spool) replayFile(ctx context.Context, path string, batch int, insert func(context.Context, []store.UsageRecord) error) (n int64, skipped bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, true, nil // replayed by someone else meanwhile
	}
	if err != nil {
		return 0, false, fmt.Errorf("usage: spool: %w", err)
	}
	defer f.Close()
	ok, err := lockFile(f, false)
	if err != nil {
		return 0, false, fmt.Errorf("usage: spool: lock: %w", err)
	}
	if !ok || !sameFile(f, path) {
		return 0, true, nil
	}

	r := bufio.NewReaderSize(f, 64<<10)
	recs := make([]store.UsageRecord, 0, batch)
	for line := 1; ; line++ {
		b, rerr := r.ReadBytes('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return n, false, fmt.Errorf("usage: spool: %w", rerr)
		}
		if b = bytes.TrimSpace(b); len(b) > 0 {
			var rec store.UsageRecord
			if err := json.Unmarshal(b, &rec); err != nil {
				// A crash mid-write leaves a truncated last line; the rest
				// of the file is good.
				s.log.Warn("usage: spool: skipping unreadable line", "file", path, "line", line, "err", err)
			} else {
				recs = append(recs, rec)
			}
		}
		eof := rerr != nil
		if len(recs) == batch || (eof && len(recs) > 0) {
			if err := insert(ctx, recs); err != nil {
				return n, false, err
			}
			n += int64(len(recs))
			recs = make([]store.UsageRecord, 0, batch) // the sink may still hold the last slice
		}
		if eof {
			break
		}
	}
	if err := os.Remove(path); err != nil {
		return n, false, fmt.Errorf("usage: spool: %w", err)
	}
	return n, false, nil
}
