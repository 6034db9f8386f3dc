package usage

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// fakeSink stores records by RequestID, skipping known ones like the real
// store, and can be switched to fail.
type fakeSink struct {
	mu      sync.Mutex
	recs    map[string]store.UsageRecord
	calls   int
	fail    atomic.Bool
	latency time.Duration
}

func newFakeSink() *fakeSink { return &fakeSink{recs: map[string]store.UsageRecord{}} }

var errDown = errors.New("fake sink down")

func (s *fakeSink) InsertUsage(ctx context.Context, recs []store.UsageRecord) error {
	if s.latency > 0 {
		select {
		case <-time.After(s.latency):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.fail.Load() {
		return errDown
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	for _, r := range recs {
		if _, ok := s.recs[r.RequestID]; !ok {
			s.recs[r.RequestID] = r
		}
	}
	return nil
}

func (s *fakeSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs)
}

func (s *fakeSink) insertCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func rec(id string) store.UsageRecord {
	return store.UsageRecord{
		RequestID: id, Time: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), KeyID: "k1", Team: "t",
		Endpoint: "/v1/chat/completions", ModelAsked: "gpt-4o", InputTokens: 10, OutputTokens: 5,
		CostUSD: 0.0001, Latency: 1500 * time.Millisecond, TTFT: 20 * time.Millisecond, Status: 200, Attempts: 1,
	}
}

func newTestWriter(t *testing.T, sink Sink, dir string, opts WriterOptions) *Writer {
	t.Helper()
	opts.Sink, opts.SpoolDir = sink, dir
	w, err := NewWriter(opts)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func closeWriter(t *testing.T, w *Writer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func spoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, spoolPattern))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestWriterBatches(t *testing.T) {
	sink := newFakeSink()
	w := newTestWriter(t, sink, t.TempDir(), WriterOptions{BatchSize: 100, FlushEvery: time.Hour})
	for i := range 1000 {
		w.Record(rec(fmt.Sprint(i)))
	}
	eventually(t, "batches written", func() bool { return sink.count() == 1000 })
	if c := sink.insertCalls(); c > 10 {
		t.Errorf("%d InsertUsage calls for 1000 records in batches of 100", c)
	}
	closeWriter(t, w)
	if st := w.Stats(); st != (Stats{Recorded: 1000, Written: 1000}) {
		t.Errorf("Stats = %+v", st)
	}
}

func TestWriterFlushEvery(t *testing.T) {
	sink := newFakeSink()
	w := newTestWriter(t, sink, t.TempDir(), WriterOptions{FlushEvery: 10 * time.Millisecond})
	defer closeWriter(t, w)
	w.Record(rec("a"))
	eventually(t, "a partial batch flushed on the timer", func() bool { return sink.count() == 1 })
}

func TestWriterCloseFlushes(t *testing.T) {
	sink := newFakeSink()
	dir := t.TempDir()
	w := newTestWriter(t, sink, dir, WriterOptions{FlushEvery: time.Hour})
	for i := range 1234 {
		w.Record(rec(fmt.Sprint(i)))
	}
	closeWriter(t, w)
	if n := sink.count(); n != 1234 {
		t.Errorf("sink has %d records after Close, want 1234", n)
	}
	if f := spoolFiles(t, dir); len(f) != 0 {
		t.Errorf("spool files left: %v", f)
	}
}

func TestWriterFlush(t *testing.T) {
	sink := newFakeSink()
	w := newTestWriter(t, sink, t.TempDir(), WriterOptions{FlushEvery: time.Hour})
	defer closeWriter(t, w)
	w.Record(rec("a"))
	w.Record(rec("b"))
	if err := w.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := sink.count(); n != 2 {
		t.Errorf("sink has %d records after Flush", n)
	}
	sink.fail.Store(true)
	w.Record(rec("c"))
	if err := w.Flush(t.Context()); !errors.Is(err, errDown) {
		t.Errorf("Flush with the sink down = %v, want errDown", err)
	}
	if st := w.Stats(); st.Spooled != 1 || st.Pending != 0 {
		t.Errorf("Stats = %+v, want the record spooled", st)
	}
}

func TestWriterSinkDownThenBack(t *testing.T) {
	sink := newFakeSink()
	dir := t.TempDir()
	w := newTestWriter(t, sink, dir, WriterOptions{BatchSize: 50, FlushEvery: 5 * time.Millisecond, RetryEvery: 20 * time.Millisecond})
	for i := range 500 {
		w.Record(rec(fmt.Sprint("before-", i)))
	}
	eventually(t, "first records written", func() bool { return sink.count() == 500 })

	sink.fail.Store(true)
	for i := range 2000 {
		w.Record(rec(fmt.Sprint("down-", i)))
	}
	eventually(t, "records spooled while down", func() bool { st := w.Stats(); return st.Spooled == 2000 && st.Pending == 0 })
	if len(spoolFiles(t, dir)) == 0 {
		t.Fatal("no spool file while the sink is down")
	}

	sink.fail.Store(false)
	for i := range 500 {
		w.Record(rec(fmt.Sprint("after-", i)))
	}
	eventually(t, "spool replayed", func() bool { return sink.count() == 3000 })
	closeWriter(t, w)
	st := w.Stats()
	if st.Recorded != 3000 || st.Replayed < 2000 || st.Written+st.Replayed < 3000 {
		t.Errorf("Stats = %+v", st)
	}
	if n := sink.count(); n != 3000 {
		t.Errorf("distinct records = %d, want 3000", n)
	}
	if f := spoolFiles(t, dir); len(f) != 0 {
		t.Errorf("spool files left: %v", f)
	}
}

func TestWriterConcurrentFlakySink(t *testing.T) {
	const goroutines, each = 16, 2000
	sink := newFakeSink()
	dir := t.TempDir()
	w := newTestWriter(t, sink, dir, WriterOptions{BatchSize: 200, FlushEvery: 2 * time.Millisecond, RetryEvery: 10 * time.Millisecond})

	stopFlapping := make(chan struct{})
	flapped := make(chan struct{})
	go func() {
		defer close(flapped)
		for {
			select {
			case <-stopFlapping:
				return
			case <-time.After(time.Duration(rand.IntN(10)+1) * time.Millisecond):
				sink.fail.Store(rand.IntN(2) == 0)
			}
		}
	}()
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				w.Record(rec(fmt.Sprintf("g%d-%d", g, i)))
				if i%10 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	close(stopFlapping)
	<-flapped
	sink.fail.Store(rand.IntN(2) == 0) // close with the sink up or down
	closeWriter(t, w)

	sink.fail.Store(false)
	w2 := newTestWriter(t, sink, dir, WriterOptions{RetryEvery: 10 * time.Millisecond})
	eventually(t, "leftover spool replayed", func() bool { return sink.count() == goroutines*each })
	closeWriter(t, w2)

	sink.mu.Lock()
	defer sink.mu.Unlock()
	for g := range goroutines {
		for i := range each {
			if _, ok := sink.recs[fmt.Sprintf("g%d-%d", g, i)]; !ok {
				t.Fatalf("record g%d-%d lost", g, i)
			}
		}
	}
	if len(sink.recs) != goroutines*each {
		t.Errorf("sink has %d distinct records, want %d", len(sink.recs), goroutines*each)
	}
	if f := spoolFiles(t, dir); len(f) != 0 {
		t.Errorf("spool files left: %v", f)
	}
	st := w.Stats()
	t.Logf("first writer: %+v; second: %+v", st, w2.Stats())
	if st.Recorded != goroutines*each {
		t.Errorf("Recorded = %d", st.Recorded)
	}
}

func TestWriterReplaysPreviousProcess(t *testing.T) {
	sink := newFakeSink()
	dir := t.TempDir()
	sink.fail.Store(true)
	w := newTestWriter(t, sink, dir, WriterOptions{FlushEvery: time.Hour, RetryEvery: time.Hour})
	for i := range 700 {
		w.Record(rec(fmt.Sprint(i)))
	}
	closeWriter(t, w) // sink down: everything goes to the spool
	if st := w.Stats(); st.Spooled != 700 || sink.count() != 0 {
		t.Fatalf("Stats = %+v, sink has %d", st, sink.count())
	}

	sink.fail.Store(false)
	w2 := newTestWriter(t, sink, dir, WriterOptions{BatchSize: 100, RetryEvery: time.Hour})
	eventually(t, "replay at start", func() bool { return sink.count() == 700 })
	closeWriter(t, w2)
	if st := w2.Stats(); st.Replayed != 700 {
		t.Errorf("Replayed = %d, want 700", st.Replayed)
	}
	if f := spoolFiles(t, dir); len(f) != 0 {
		t.Errorf("spool files left: %v", f)
	}
}

func TestWriterCorruptedTrailingLine(t *testing.T) {
	dir := t.TempDir()
	sp, err := newSpool(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var recs []store.UsageRecord
	for i := range 10 {
		recs = append(recs, rec(fmt.Sprint(i)))
	}
	if err := sp.append(recs); err != nil {
		t.Fatal(err)
	}
	sp.close()
	// A crash mid-write: half a record and no newline.
	path := spoolFiles(t, dir)[0]
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"request_id":"torn","time":"2026-01-0`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	sink := newFakeSink()
	w := newTestWriter(t, sink, dir, WriterOptions{RetryEvery: time.Hour})
	eventually(t, "replay", func() bool { return sink.count() == 10 })
	closeWriter(t, w)
	got := sink.recs["3"]
	if want := rec("3"); got != want {
		t.Errorf("replayed record = %+v, want %+v", got, want)
	}
	if f := spoolFiles(t, dir); len(f) != 0 {
		t.Errorf("spool files left: %v", f)
	}
}

func TestWriterRecordAfterClose(t *testing.T) {
	sink := newFakeSink()
	dir := t.TempDir()
	w := newTestWriter(t, sink, dir, WriterOptions{})
	closeWriter(t, w)
	w.Record(rec("late-1"))
	w.Record(rec("late-2"))
	if st := w.Stats(); st.Spooled != 2 || st.Recorded != 2 || st.Pending != 0 {
		t.Errorf("Stats = %+v", st)
	}
	if sink.count() != 0 {
		t.Error("a record after Close reached the sink")
	}
	if len(spoolFiles(t, dir)) == 0 {
		t.Fatal("no spool file for records after Close")
	}
	w2 := newTestWriter(t, sink, dir, WriterOptions{RetryEvery: time.Hour})
	eventually(t, "late records replayed", func() bool { return sink.count() == 2 })
	closeWriter(t, w2)
}

func TestWriterCloseContextEnds(t *testing.T) {
	sink := newFakeSink()
	sink.latency = time.Hour // a hung store
	dir := t.TempDir()
	w := newTestWriter(t, sink, dir, WriterOptions{FlushEvery: time.Hour, RetryEvery: time.Hour})
	for i := range 10 {
		w.Record(rec(fmt.Sprint(i)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := w.Close(ctx); err != nil {
		t.Errorf("Close with a hung sink: %v (the records are spooled)", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	if st := w.Stats(); st.Spooled != 10 {
		t.Errorf("Stats = %+v, want 10 spooled", st)
	}
}

func TestWriterSpoolNamesDiffer(t *testing.T) {
	dir := t.TempDir()
	a, _ := newSpool(dir, nil)
	b, _ := newSpool(dir, nil)
	if a.prefix == b.prefix {
		t.Errorf("two spools share prefix %q", a.prefix)
	}
	sub := filepath.Join(dir, "spool")
	if _, err := newSpool(sub, nil); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(sub); err != nil || info.Mode().Perm() != 0o700 {
		t.Errorf("spool dir mode = %v, %v", info.Mode().Perm(), err)
	}
}

func TestWriterOptions(t *testing.T) {
	if _, err := NewWriter(WriterOptions{SpoolDir: t.TempDir()}); err == nil {
		t.Error("NewWriter without a Sink succeeded")
	}
	if _, err := NewWriter(WriterOptions{Sink: newFakeSink()}); err == nil {
		t.Error("NewWriter without a SpoolDir succeeded")
	}
}

func BenchmarkRecord(b *testing.B) {
	w, err := NewWriter(WriterOptions{Sink: newFakeSink(), SpoolDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	r := rec("x")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w.Record(r)
		}
	})
	b.StopTimer()
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}
