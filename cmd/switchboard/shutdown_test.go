package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

var (
	shutdownBuildOnce sync.Once
	shutdownBin       string
	shutdownBuildErr  error
)

// shutdownBuildSwitchboard builds this command. The binary is built once per test
// process into the scratch directory TestMain runs the tests in (removed
// when they end); elsewhere, once per test.
func shutdownBuildSwitchboard(t *testing.T) string {
	t.Helper()
	cwd, err := os.Getwd()
	if err != nil || !strings.HasPrefix(filepath.Base(cwd), "switchboard-cmd-test") {
		bin, err := shutdownGoBuild(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return bin
	}
	shutdownBuildOnce.Do(func() { shutdownBin, shutdownBuildErr = shutdownGoBuild(cwd) })
	if shutdownBuildErr != nil {
		t.Fatal(shutdownBuildErr)
	}
	return shutdownBin
}

func shutdownGoBuild(dir string) (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("runtime.Caller failed")
	}
	bin := filepath.Join(dir, "switchboard-under-test")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Dir(file)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// TestSIGTERMUnderLoadLosesNoUsage sends SIGTERM to a real gateway process
// while clients keep it busy with streaming and non-streaming requests: the
// requests it accepted complete, it exits 0, and the store holds exactly
// one usage record per response a client received.
func TestSIGTERMUnderLoadLosesNoUsage(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("signals to a child process are tested on Linux only")
	}
	bin := shutdownBuildSwitchboard(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	dbPath := filepath.Join(dir, "sb.db")
	spoolDir := filepath.Join(dir, "spool")
	cfgPath := filepath.Join(dir, "switchboard.yaml")
	cfg := fmt.Sprintf(`server: {listen: %q, shutdown_timeout: 10s}
store: {driver: sqlite, dsn: %q}
usage: {spool_dir: %q, flush_every: 20ms}
providers: [{name: sim, type: simulator, faults: "latency=200ms;chunk_delay=10ms"}]
models: [{name: demo, targets: [{provider: sim}]}]
`, addr, dbPath, spoolDir)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}

	stderr := &lockedBuffer{}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SWITCHBOARD_CONFIG=")
	cmd.Stdout = stderr
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			<-exited
		}
	})

	base := "http://" + addr
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			killed = true
			t.Fatalf("gateway exited before it was ready: %v\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway not ready within 10s\n%s", stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}

	tr := &http.Transport{MaxIdleConnsPerHost: 32}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}

	const workers = 16
	var (
		sigSent     atomic.Bool
		sigAt       atomic.Int64 // unix nanos
		received    atomic.Int64 // responses with any status
		streams     atomic.Int64
		drained     atomic.Int64 // started before SIGTERM, answered after it
		afterSignal atomic.Int64 // transport errors after SIGTERM (expected)
		mu          sync.Mutex
		statuses    = map[int]int{}
		problems    []string
		wg          sync.WaitGroup
	)
	problem := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 20 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	stopAll := time.Now().Add(12 * time.Second) // a safety net only
	for w := range workers {
		wg.Go(func() {
			for i := 0; time.Now().Before(stopAll); i++ {
				stream := (w+i)%2 == 0
				body := `{"model":"demo","messages":[{"role":"user","content":"Hello"}]}`
				if stream {
					body = `{"model":"demo","stream":true,"messages":[{"role":"user","content":"Hello"}]}`
				}
				started := time.Now()
				resp, err := client.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					if sigSent.Load() {
						// Refused, or an idle connection closed by the
						// shutdown: the gateway never handled it.
						afterSignal.Add(1)
						return
					}
					problem("request before SIGTERM failed: %v", err)
					return
				}
				b, rerr := io.ReadAll(resp.Body)
				resp.Body.Close()
				received.Add(1) // the gateway answered: it owes a usage record
				if s := sigAt.Load(); s != 0 && started.UnixNano() < s {
					drained.Add(1)
				}
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
				switch {
				case rerr != nil:
					problem("response body cut (stream=%v, status %d): %v", stream, resp.StatusCode, rerr)
				case resp.StatusCode != http.StatusOK:
					problem("status %d (stream=%v): %s", resp.StatusCode, stream, b)
				case stream && !strings.Contains(string(b), "data: [DONE]"):
					problem("stream ended without [DONE]: %q", b)
				case stream:
					streams.Add(1)
				}
			}
		})
	}

	time.Sleep(500 * time.Millisecond)
	beforeSignal := received.Load()
	sigAt.Store(time.Now().UnixNano())
	sigSent.Store(true)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	signalled := time.Now()
	var exitErr error
	select {
	case exitErr = <-exited:
		killed = true
	case <-time.After(15 * time.Second):
		t.Fatalf("gateway still running 15s after SIGTERM\n%s", stderr)
	}
	exitTime := time.Since(signalled)
	wg.Wait()
	if exitErr != nil {
		t.Fatalf("gateway exited with %v after SIGTERM, want 0\n%s", exitErr, stderr)
	}
	for _, p := range problems {
		t.Error(p)
	}
	want := received.Load()
	if beforeSignal == 0 {
		t.Fatalf("no response before SIGTERM: the load never started\n%s", stderr)
	}
	if drained.Load() == 0 {
		t.Errorf("no request was in flight at SIGTERM: the drain was not exercised")
	}
	if !strings.Contains(stderr.String(), "draining in-flight requests") {
		t.Errorf("no drain in the gateway's log:\n%s", stderr)
	}

	// The spool is only for a store that is down: SQLite never was.
	if names, _ := filepath.Glob(filepath.Join(spoolDir, "usage-*.jsonl")); len(names) != 0 {
		t.Errorf("usage records left in the spool after a clean shutdown: %v", names)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, "sqlite", dbPath)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	defer st.Close()
	rows, err := st.AggregateUsage(ctx, store.UsageQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got int64
	for _, r := range rows {
		got += r.Requests
	}
	if got != want {
		t.Errorf("store holds %d usage records, clients received %d responses (%d before SIGTERM, %d in flight at it)\n%s",
			got, want, beforeSignal, drained.Load(), stderr)
	}
	var codes []string
	for c, n := range statuses {
		codes = append(codes, fmt.Sprintf("%d×%d", n, c))
	}
	sort.Strings(codes)
	t.Logf("%d responses (%s; %d streams), %d before SIGTERM, %d in flight at it; %d requests refused after it; exit 0 after %v; store holds %d records",
		want, strings.Join(codes, " "), streams.Load(), beforeSignal, drained.Load(), afterSignal.Load(), exitTime.Round(time.Millisecond), got)
}
