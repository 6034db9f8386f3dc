package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestKeysDirect manages keys on the store named by the config, with no
// gateway running, then serves a request with the key it made.
func TestKeysDirect(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "switchboard.yaml")
	addr := freeAddr(t)
	cfg := fmt.Sprintf("server: {listen: %q}\nstore: {dsn: %q}\nadmin: {key: admin-secret-123}\n", addr, filepath.Join(dir, "sb.db"))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(append([]string{"keys", args[0], "--config", path}, args[1:]...), &out, io.Discard)
		return out.String(), err
	}
	out, err := keys("create", "--direct", "--name", "cli", "--rpm", "5", "--models", "demo")
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	secret := regexp.MustCompile(`"key": "(sk-sb-[A-Za-z0-9]+)"`).FindStringSubmatch(out)
	id := regexp.MustCompile(`"id": "(key_[0-9a-f]+)"`).FindStringSubmatch(out)
	if secret == nil || id == nil || !strings.Contains(out, `"rpm": 5`) {
		t.Fatalf("keys create printed %s; want the id, the secret and the limits", out)
	}
	if out, err := keys("list", "--direct"); err != nil || !strings.Contains(out, id[1]) || !strings.Contains(out, "active") || strings.Contains(out, secret[1]) {
		t.Errorf("keys list = %v %s; want the key, active, without its secret", err, out)
	}
	if _, err := keys("create", "--direct", "--name", "bad", "--budget-usd", "5", "--budget-period", "yearly"); err == nil || !strings.Contains(err.Error(), "budget period") {
		t.Errorf("bad budget period: %v, want an error naming it", err)
	}

	// The key works on a gateway started on the same store, and the CLI
	// can revoke it through that gateway's admin API.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- serve(ctx, []string{"--config", path}, io.Discard) }()
	defer func() {
		cancel()
		<-errc
	}()
	waitReady(t, "http://"+addr)
	chat := func() int {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/chat/completions", strings.NewReader(`{"model":"demo","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer "+secret[1])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := chat(); st != 200 {
		t.Fatalf("chat with the CLI's key = %d", st)
	}
	if _, err := keys("revoke", "--admin-key", "wrong", id[1]); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("revoke with a wrong admin key: %v, want 403", err)
	}
	if out, err := keys("revoke", "--admin-key", "admin-secret-123", id[1]); err != nil || !strings.Contains(out, "revoked_at") {
		t.Fatalf("keys revoke = %v %s", err, out)
	}
	if st := chat(); st != 401 {
		t.Errorf("chat with the revoked key = %d, want 401", st)
	}
	if _, err := keys("rotate", "--admin-key", "admin-secret-123", id[1]); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("rotating a revoked key: %v, want a clear error", err)
	}
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gateway at %s not ready", base)
}
