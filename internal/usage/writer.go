package usage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// Sink receives usage records; store.Store is one. InsertUsage must be
// idempotent per RequestID: records are re-sent after a partial failure.
// It must not keep recs after returning.
type Sink interface {
	InsertUsage(ctx context.Context, recs []store.UsageRecord) error
}

// WriterOptions configure a Writer.
type WriterOptions struct {
	Sink       Sink
	SpoolDir   string        // required: where records wait while the sink is down (created 0o700)
	BatchSize  int           // default 500
	FlushEvery time.Duration // default 50ms
	RetryEvery time.Duration // how often to try replaying the spool, default 5s
	Logger     *slog.Logger
}

const (
	// insertTimeout bounds one insert so a hung store turns into spooling
	// rather than into an ever-growing backlog.
	insertTimeout = 5 * time.Second
	// maxPending bounds the records held in memory: above it, batches go to
	// the spool instead of waiting for a slow sink.
	maxPending = 100_000
)

// Stats count records since the Writer started. Pending is the number held
// in memory now.
type Stats struct {
	Recorded, Written, Spooled, Replayed, Pending int64
}

// Writer writes usage records to a Sink in batches from one background
// goroutine, off the request path. While the sink fails, records go to a
// spool on local disk and are replayed when it is back; Close flushes
// everything. No record is dropped: each is either in the sink, in memory,
// or fsynced in the spool.
type Writer struct {
	sink  Sink
	spool *spool
	log   *slog.Logger
	batch int
	every time.Duration
	retry time.Duration

	mu      sync.Mutex
	pending []store.UsageRecord
	closed  bool

	drainMu sync.Mutex    // one drain at a time: the loop's, Flush's or Close's
	down    atomic.Bool   // the last insert failed: spool without trying
	kick    chan struct{} // a full batch is pending
	stop    chan struct{}
	done    chan struct{}
	ctx     context.Context // the loop's; cancelled when Close gives up
	cancel  context.CancelFunc

	recorded, written, spooled, replayed atomic.Int64
}

// NewWriter starts a Writer. Spool files found in SpoolDir, left by an
// earlier process, are replayed in the background.
func NewWriter(opts WriterOptions) (*Writer, error) {
	if opts.Sink == nil {
		return nil, errors.New("usage: writer: Sink is required")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sp, err := newSpool(opts.SpoolDir, log)
	if err != nil {
		return nil, err
	}
	w := &Writer{
		sink:  opts.Sink,
		spool: sp,
		log:   log,
		batch: orDefault(opts.BatchSize, 500),
		every: orDefault(opts.FlushEvery, 50*time.Millisecond),
		retry: orDefault(opts.RetryEvery, 5*time.Second),
		kick:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	go w.run()
	return w, nil
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Record queues r for writing. It never does I/O and never waits for the
// sink, except after Close, when it appends r to the spool itself so that a
// late record is not lost.
func (w *Writer) Record(r store.UsageRecord) {
	w.recorded.Add(1)
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		if err := w.spool.append([]store.UsageRecord{r}); err != nil {
			w.log.Error("usage: record after close lost", "request_id", r.RequestID, "err", err)
			return
		}
		w.spooled.Add(1)
		return
	}
	w.pending = append(w.pending, r)
	full := len(w.pending) >= w.batch
	w.mu.Unlock()
	if full {
		select {
		case w.kick <- struct{}{}:
		default: // already signalled
		}
	}
}

// Flush writes every pending record now, to the sink or, if it fails, to
// the spool. The error is the sink's (the records are then safe in the
// spool) or the spool's (they are then still pending).
func (w *Writer) Flush(ctx context.Context) error {
	return w.drain(ctx, true, false)
}

// Close stops the Writer after writing every pending record to the sink, or
// to the spool if the sink fails or ctx ends. It then tries once to replay
// the spool if the sink is up. It fails only if records could be neither
// written nor spooled (they are then lost with the process).
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	w.mu.Unlock()

	stopCancel := context.AfterFunc(ctx, w.cancel) // abort an insert in flight
	defer stopCancel()
	close(w.stop)
	<-w.done
	defer w.cancel()

	err := w.drain(ctx, true, false)
	w.mu.Lock()
	lost := len(w.pending)
	w.mu.Unlock()
	if err == nil && !w.down.Load() && ctx.Err() == nil {
		if rerr := w.replay(ctx, nil); rerr != nil {
			w.log.Warn("usage: replay at close", "err", rerr)
		}
	}
	w.spool.close()
	if lost > 0 {
		return fmt.Errorf("usage: close: %d records neither written nor spooled: %w", lost, err)
	}
	if err != nil {
		// Spooled: the next Writer on this directory replays them.
		w.log.Warn("usage: sink down at close, records left in the spool", "dir", w.spool.dir, "err", err)
	}
	return nil
}

// Stats reports the Writer's counters.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	pending := int64(len(w.pending))
	w.mu.Unlock()
	return Stats{
		Recorded: w.recorded.Load(),
		Written:  w.written.Load(),
		Spooled:  w.spooled.Load(),
		Replayed: w.replayed.Load(),
		Pending:  pending,
	}
}

func (w *Writer) run() {
	defer close(w.done)
	flush := time.NewTicker(w.every)
	defer flush.Stop()
	retry := time.NewTicker(w.retry)
	defer retry.Stop()

	w.replayAndLog() // files left by an earlier process
	for {
		select {
		case <-w.stop:
			return
		case <-retry.C:
			w.replayAndLog()
		case <-w.kick:
			// Full batches only: the remainder waits for the timer and
			// more company, keeping inserts few and large.
			w.drainAndLog(true)
		case <-flush.C:
			w.drainAndLog(false)
		}
	}
}

func (w *Writer) drainAndLog(fullOnly bool) {
	_ = w.drain(w.ctx, false, fullOnly) // drain logs the sink going down and spool failures
}

// drain writes pending records in batches until none (or, with fullOnly,
// less than a batch) is left. While the sink is down, batches go straight
// to the spool unless force (an explicit Flush) asks to try the sink once
// more.
func (w *Writer) drain(ctx context.Context, force, fullOnly bool) error {
	w.drainMu.Lock()
	defer w.drainMu.Unlock()
	var firstErr error
	tried := false
	// Only what is pending now: under steady load the queue never empties,
	// and the loop must get back to its timers (replay) in between.
	w.mu.Lock()
	left := len(w.pending)
	w.mu.Unlock()
	for left > 0 {
		batch, backlog := w.take(fullOnly)
		if len(batch) == 0 {
			break
		}
		left -= len(batch)
		toSpool := ctx.Err() != nil || backlog
		if !toSpool && w.down.Load() && (!force || tried) {
			toSpool = true
		}
		if !toSpool {
			tried = true
			err := w.insert(ctx, batch)
			if err == nil {
				w.written.Add(int64(len(batch)))
				w.down.Store(false)
				continue
			}
			if !w.down.Swap(true) {
				w.log.Warn("usage: sink down, spooling usage records", "err", err)
			}
			if firstErr == nil {
				firstErr = err
			}
		}
		if err := w.spool.append(batch); err != nil {
			// Neither sink nor disk: keep the records in memory and try
			// again on the next tick rather than drop them.
			w.putBack(batch)
			w.log.Error("usage: cannot spool usage records", "records", len(batch), "err", err)
			return errors.Join(firstErr, err)
		}
		w.spooled.Add(int64(len(batch)))
	}
	return firstErr
}

// take removes the oldest batch from pending. backlog reports more than
// maxPending records still waiting: the sink is not keeping up.
func (w *Writer) take(fullOnly bool) (batch []store.UsageRecord, backlog bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.pending), w.batch)
	if n == 0 || fullOnly && n < w.batch {
		return nil, false
	}
	batch = make([]store.UsageRecord, n)
	copy(batch, w.pending)
	clear(w.pending[:n]) // let the strings go
	switch {
	case n < len(w.pending):
		w.pending = w.pending[n:] // a backlog: its array goes once it is drained
	case cap(w.pending) <= 4*w.batch:
		// The usual case: all taken. The array is kept for the next
		// records, which would otherwise grow a new one by doubling every
		// flush (~1.3 KB of garbage per request at 3000/s).
		w.pending = w.pending[:0]
	default:
		w.pending = nil // grown by a backlog: let it go
	}
	return batch, len(w.pending) > maxPending
}

func (w *Writer) putBack(batch []store.UsageRecord) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = append(batch, w.pending...)
}

func (w *Writer) insert(ctx context.Context, recs []store.UsageRecord) error {
	ctx, cancel := context.WithTimeout(ctx, insertTimeout)
	defer cancel()
	if err := w.sink.InsertUsage(ctx, recs); err != nil {
		return fmt.Errorf("usage: insert: %w", err)
	}
	return nil
}

func (w *Writer) replayAndLog() {
	if err := w.replay(w.ctx, w.stop); err != nil {
		w.log.Info("usage: spool replay failed, will retry", "err", err)
	}
}

// replay re-inserts every spool file not held by a live writer, oldest
// first, and stops at the first failure. Success means the sink is up. A
// close of stop ends it between files, so a long backlog does not hold up
// Close.
func (w *Writer) replay(ctx context.Context, stop <-chan struct{}) error {
	w.spool.rotate() // our own current file becomes replayable
	files, err := w.spool.files()
	if err != nil {
		return err
	}
	for _, path := range files {
		select {
		case <-stop:
			return nil
		default:
		}
		n, _, err := w.spool.replayFile(ctx, path, w.batch, w.insert)
		w.replayed.Add(n)
		if err != nil {
			w.down.Store(true)
			return err
		}
	}
	w.down.Store(false)
	return nil
}
