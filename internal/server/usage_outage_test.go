package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/emulator"
	"github.com/switchboard-gw/switchboard/internal/server"
	"github.com/switchboard-gw/switchboard/internal/store"
	"github.com/switchboard-gw/switchboard/internal/testenv"
)

// cutProxy is a TCP proxy that can simulate a network outage: while cut it
// closes every connection it carries and every new one it accepts.
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]struct{}

	accepted, refused atomic.Int64
	wg                sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

func (p *cutProxy) Addr() string { return p.ln.Addr().String() }

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return // listener closed
		}
		if !p.track(c) {
			p.refused.Add(1)
			c.Close()
			continue
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.pipe(c)
	}
}

// track registers c unless the proxy is cut.
func (p *cutProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut || p.conns == nil {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *cutProxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *cutProxy) pipe(client net.Conn) {
	defer p.wg.Done()
	defer p.untrack(client)
	defer client.Close()
	server, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		return
	}
	if !p.track(server) { // cut while dialling
		server.Close()
		return
	}
	defer p.untrack(server)
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(server, client); done <- struct{}{} }()
	go func() { io.Copy(client, server); done <- struct{}{} }()
	<-done
	// One direction ended: end both, so the other copy returns too.
	client.Close()
	server.Close()
	<-done
}

// Cut closes every carried connection and refuses new ones until Restore.
func (p *cutProxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Restore lets connections through again.
func (p *cutProxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

func (p *cutProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// outageUsageTotal is the number of usage records in st.
func outageUsageTotal(t *testing.T, st store.Store) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := st.AggregateUsage(ctx, store.UsageQuery{})
	if err != nil {
		t.Fatalf("AggregateUsage: %v", err)
	}
	var n int64
	for _, r := range rows {
		n += r.Requests
	}
	return n
}

// outageSpoolFiles lists the usage spool files in dir.
func outageSpoolFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "usage-*.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// TestStoreDownLosesNoUsage cuts the network between the gateway and its
// PostgreSQL store in the middle of a load: every request the client got an
// answer for must end up in the store exactly once, through the spool and
// its replay once the store is reachable again.
func TestStoreDownLosesNoUsage(t *testing.T) {
	realDSN := testenv.Postgres(t)
	u, err := url.Parse(realDSN)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("connect_timeout", "1")
	u.RawQuery = q.Encode()
	realDSN = u.String()
	proxy := newCutProxy(t, u.Host) // closed after the gateway and its store
	u.Host = proxy.Addr()
	proxyDSN := u.String()

	// The gateway's store goes through the proxy.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gwStore, err := store.Open(ctx, "postgres", proxyDSN)
	if err != nil {
		t.Fatalf("store.Open through the proxy: %v", err)
	}
	t.Cleanup(func() { gwStore.Close() })
	// The checks read the real database directly.
	st, err := store.Open(ctx, "postgres", realDSN)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })

	up := newUpstream(t, emulator.Options{})
	spool := t.TempDir()
	yaml := tenancyConfig + fmt.Sprintf(`
keys: [{name: load, key: "${GATEWAY_KEY}"}]
store: {driver: postgres, dsn: %q}
usage: {spool_dir: %q, flush_every: 20ms, replay_every: 100ms}
admin: {key: %q}
`, proxyDSN, spool, adminKey)
	cfg := parseConfig(t, yaml, up)
	logs := &syncBuffer{}
	srv, err := server.New(cfg, server.Options{Store: gwStore, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ts := httptest.NewServer(srv)
	closed := false
	closeGateway := func() {
		if closed {
			return
		}
		closed = true
		ts.Close()
		if err := srv.Close(); err != nil {
			t.Errorf("server.Close: %v", err)
		}
	}
	t.Cleanup(closeGateway)

	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	chatURL := ts.URL + "/v1/chat/completions"

	const workers = 8
	var (
		received atomic.Int64 // responses with any status
		okCount  atomic.Int64
		failures atomic.Int64 // transport errors: the client got nothing
		// maxSpooled is the most records seen in the spool at once: a
		// lower bound of those spooled.
		maxSpooled atomic.Int64
		stopLoad   = make(chan struct{})
		wg         sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				req, _ := http.NewRequest("POST", chatURL, strings.NewReader(tenChat))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+gatewayKey)
				resp, err := client.Do(req)
				if err != nil {
					failures.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				received.Add(1)
				if resp.StatusCode == http.StatusOK {
					okCount.Add(1)
				}
			}
		})
	}
	watchDone := make(chan struct{})
	var watchWG sync.WaitGroup
	watchWG.Go(func() {
		for {
			names, _ := filepath.Glob(filepath.Join(spool, "usage-*.jsonl"))
			var lines int64
			for _, name := range names {
				b, _ := os.ReadFile(name) // may be gone: replayed meanwhile
				lines += int64(bytes.Count(b, []byte("\n")))
			}
			if lines > maxSpooled.Load() {
				maxSpooled.Store(lines)
			}
			select {
			case <-watchDone:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})

	start := time.Now()
	time.Sleep(500 * time.Millisecond)
	beforeCut := received.Load()
	proxy.Cut()
	time.Sleep(time.Second)
	proxy.Restore()
	duringCut := received.Load() - beforeCut
	time.Sleep(500 * time.Millisecond)
	close(stopLoad)
	wg.Wait()
	loadTime := time.Since(start)
	want := received.Load()
	if failures.Load() > 0 {
		t.Errorf("%d requests got no response at all; the store outage must not affect clients", failures.Load())
	}
	if duringCut == 0 {
		t.Fatalf("no response during the outage; the load did not overlap the cut")
	}

	// Every answered request reaches the store exactly once: poll while the
	// spool is replayed, and never accept more records than answers.
	var got int64
	deadline := time.Now().Add(15 * time.Second)
	for {
		got = outageUsageTotal(t, st)
		if got > want {
			t.Fatalf("store holds %d usage records for %d answered requests: double counted", got, want)
		}
		if got == want && len(outageSpoolFiles(t, spool)) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 15s the store holds %d usage records for %d answered requests (spool files left: %v)\nlog:\n%s",
				got, want, outageSpoolFiles(t, spool), outageTail(logs.String(), 40))
		}
		time.Sleep(50 * time.Millisecond)
	}
	settled := time.Since(start)
	close(watchDone)
	watchWG.Wait()

	// Nothing more may turn up later, nor at Close.
	time.Sleep(300 * time.Millisecond)
	closeGateway()
	if got := outageUsageTotal(t, st); got != want {
		t.Errorf("after close the store holds %d usage records, want %d", got, want)
	}
	if files := outageSpoolFiles(t, spool); len(files) != 0 {
		t.Errorf("spool files left after close: %v", files)
	}

	// The outage path was taken: records went to the spool and came back.
	log := logs.String()
	if !strings.Contains(log, "usage: sink down, spooling usage records") {
		t.Errorf("the gateway never logged spooling; the outage path was not exercised\nlog:\n%s", outageTail(log, 40))
	}
	if maxSpooled.Load() == 0 {
		t.Errorf("no record ever appeared in the spool (%s) during the outage", spool)
	}
	t.Logf("answered %d requests (%d ok, %d during the 1s cut) in %v; store reached %d records %v after the load started; at least %d records were spooled at once; proxy accepted %d connections, refused %d during the cut",
		want, okCount.Load(), duringCut, loadTime.Round(time.Millisecond), got, settled.Round(time.Millisecond), maxSpooled.Load(), proxy.accepted.Load(), proxy.refused.Load())
}

// outageTail returns the last n lines of s.
func outageTail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
