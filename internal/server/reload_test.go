package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/emulator"
	"github.com/switchboard-gw/switchboard/internal/server"
)

// TestReloadUnderLoad swaps configs (good, then bad) while streams are in
// flight: no request fails, the good file takes effect, the bad one is
// rejected and the previous config keeps serving.
func TestReloadUnderLoad(t *testing.T) {
	up := newUpstream(t, emulator.Options{Faults: "chunk_delay=5ms"})
	dir := t.TempDir()
	path := filepath.Join(dir, "switchboard.yaml")
	base := strings.ReplaceAll(`
providers:
  - name: oai
    type: openai
    base_url: "{{UP}}/v1"
models:
  - name: stable
    targets: [{provider: oai, model: gpt-4o}]
`, "{{UP}}", up.URL)
	write := func(s string) {
		t.Helper()
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(base)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	srv, err := server.New(cfg, server.Options{Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	w := config.NewWatcher(path, logger, srv.Apply)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })

	// Load: streams on the model present in every config.
	var ok, failed atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var load sync.WaitGroup
	for range 4 {
		load.Add(1)
		go func() {
			defer load.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				body := `{"model":"stable","stream":true,"messages":[{"role":"user","content":"hi"}]}`
				resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.HasSuffix(string(b), "data: [DONE]\n\n") {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, b))
					continue
				}
				ok.Add(1)
			}
		}()
	}

	post := func(model string) int {
		resp, err := http.Post(ts.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := post("beta"); s != 404 {
		t.Fatalf("beta before reload: %d, want 404", s)
	}

	time.Sleep(50 * time.Millisecond)
	// A good file, seen by the file watcher.
	write(base + "  - name: beta\n    targets: [{provider: oai, model: gpt-4o-mini}]\n")
	waitFor(t, func() bool { return post("beta") == 200 }, "the new model to be served after a file change")

	// A bad file: rejected, previous config keeps serving.
	write(base + "  - name: gamma\n    targets: [{provider: oai, model: x}]\n    colour: blue\n")
	if err := w.Reload(); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("Reload of a bad file = %v, want an error naming the unknown key", err)
	}
	time.Sleep(50 * time.Millisecond)
	if s := post("beta"); s != 200 {
		t.Errorf("beta after a bad reload: %d, want 200 (old config kept)", s)
	}
	if s := post("gamma"); s != 404 {
		t.Errorf("gamma from the rejected file: %d, want 404", s)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	load.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d requests failed during reloads (%d ok); first: %v", n, ok.Load(), firstFailure.Load())
	}
	if ok.Load() == 0 {
		t.Errorf("no request completed during the test")
	}
	if !strings.Contains(logs.String(), "rejected") {
		t.Errorf("the rejected reload was not logged:\n%s", logs)
	}
}
