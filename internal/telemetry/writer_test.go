package telemetry

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

type lockedBuf struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuf) get() (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String(), l.writes
}

// TestBufferedWriter: lines are batched into few writes, reach the sink
// within the flush interval, stay whole and in order, and Close flushes.
func TestBufferedWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := &lockedBuf{}
		w := NewBufferedWriter(sink)
		for i := range 1000 {
			w.Write([]byte(strings.Repeat("x", 10) + string(rune('a'+i%26)) + "\n"))
		}
		if got, _ := sink.get(); len(got) != 0 {
			t.Fatalf("lines reached the sink before the flush interval: %d bytes", len(got))
		}
		time.Sleep(FlushInterval + time.Millisecond)
		got, writes := sink.get()
		if lines := strings.Count(got, "\n"); lines != 1000 {
			t.Errorf("after the interval the sink has %d lines, want 1000", lines)
		}
		if writes > 2 {
			t.Errorf("1000 lines took %d writes, want them batched", writes)
		}
		for i, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
			if want := strings.Repeat("x", 10) + string(rune('a'+i%26)); line != want {
				t.Fatalf("line %d = %q, want %q", i, line, want)
			}
		}
		w.Write([]byte("last\n"))
		w.Close()
		if got, _ := sink.get(); !strings.HasSuffix(got, "last\n") {
			t.Errorf("Close did not flush the last line")
		}
	})
}

func TestBufferedWriterBigLine(t *testing.T) {
	sink := &lockedBuf{}
	w := NewBufferedWriter(sink)
	defer w.Close()
	w.Write([]byte("small\n"))
	big := strings.Repeat("y", 100<<10) + "\n"
	w.Write([]byte(big))
	w.Flush()
	if got, _ := sink.get(); got != "small\n"+big {
		t.Errorf("a line bigger than the buffer was not written whole after the earlier one")
	}
}
