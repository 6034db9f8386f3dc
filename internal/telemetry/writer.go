// Package telemetry holds the gateway's logging plumbing (and, later, its
// metrics and traces).
package telemetry

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// BufferedWriter batches log lines: one request log line per request at
// thousands of requests a second would otherwise be thousands of write
// system calls, each costing more than the line's formatting. Lines are
// written in order, whole (a Write is never split across flushes unless it
// is larger than the buffer), and reach w at most FlushInterval after they
// were logged; Close flushes what is left. A crash loses at most that
// interval's lines.
type BufferedWriter struct {
	mu   sync.Mutex
	bw   *bufio.Writer
	done chan struct{}
	wg   sync.WaitGroup
}

// FlushInterval is how long a line may wait in the buffer.
const FlushInterval = 100 * time.Millisecond

// NewBufferedWriter starts a writer batching into w with a 64 KiB buffer.
func NewBufferedWriter(w io.Writer) *BufferedWriter {
	b := &BufferedWriter{bw: bufio.NewWriterSize(w, 64<<10), done: make(chan struct{})}
	b.wg.Go(b.flushLoop)
	return b
}

// Write buffers p; it flushes first when p does not fit, so lines stay whole.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(p) > b.bw.Available() && b.bw.Buffered() > 0 {
		if err := b.bw.Flush(); err != nil {
			return 0, err
		}
	}
	return b.bw.Write(p)
}

// Flush writes out everything buffered.
func (b *BufferedWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bw.Flush()
}

func (b *BufferedWriter) flushLoop() {
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-b.done:
			return
		case <-t.C:
			b.Flush()
		}
	}
}

// Close stops the background flushing and flushes what is left.
func (b *BufferedWriter) Close() error {
	close(b.done)
	b.wg.Wait()
	return b.Flush()
}
