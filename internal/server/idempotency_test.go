package server_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/emulator"
)

func redisURL(t *testing.T) string {
	t.Helper()
	url := os.Getenv("SWITCHBOARD_TEST_REDIS")
	if url == "" {
		if os.Getenv("SWITCHBOARD_REQUIRE_INTEGRATION") == "1" {
			t.Fatal("SWITCHBOARD_TEST_REDIS is unset but SWITCHBOARD_REQUIRE_INTEGRATION=1")
		}
		t.Skip("SWITCHBOARD_TEST_REDIS not set")
	}
	return url
}

// TestIdempotencyKey: concurrent and repeated requests with one
// Idempotency-Key reach the upstream once, in one process (memory) and
// across two gateways sharing Redis.
func TestIdempotencyKey(t *testing.T) {
	for _, shared := range []bool{false, true} {
		name := "memory"
		if shared {
			name = "redis two replicas"
		}
		t.Run(name, func(t *testing.T) {
			up := newUpstream(t, emulator.Options{Faults: "latency=100ms"})
			cfg := basicConfig
			if shared {
				cfg = "redis: {url: \"" + redisURL(t) + "\"}\n" + cfg
			}
			gws := []*gateway{newGateway(t, cfg, up)}
			if shared {
				gws = append(gws, newGateway(t, cfg, up))
			}
			ik := fmt.Sprintf("idem-%d", rand.Uint64())
			var wg sync.WaitGroup
			results := make([]result, 6)
			for i := range results {
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = do(t, "POST", gws[i%len(gws)].URL+"/v1/chat/completions", chatBody, "Idempotency-Key", ik)
				}()
			}
			wg.Wait()
			first := results[0].body
			for i, res := range results {
				if res.status != 200 || res.body != first {
					t.Errorf("request %d: %d, body differs from the first: %v", i, res.status, res.body != first)
				}
			}
			later := do(t, "POST", gws[len(gws)-1].URL+"/v1/chat/completions", chatBody, "Idempotency-Key", ik)
			if later.body != first || later.header.Get("X-Switchboard-Idempotent-Replay") != "true" {
				t.Errorf("a later repeat was not replayed: %s", later.header)
			}
			if got := upstreamModels(t, up); len(got) != 1 {
				t.Errorf("upstream saw %d requests for one Idempotency-Key, want 1", len(got))
			}
			other := do(t, "POST", gws[0].URL+"/v1/chat/completions", strings.Replace(chatBody, "Mexico", "Peru", 1), "Idempotency-Key", ik)
			if other.status != 422 || !strings.Contains(other.body, "idempotency_key_reused") {
				t.Errorf("same key, other request: %d %s, want 422", other.status, other.body)
			}
		})
	}
}

// TestIdempotencyFailureNotStored: a failed answer is not kept, so the
// client's retry with the same key runs again.
func TestIdempotencyFailureNotStored(t *testing.T) {
	up := newUpstream(t, emulator.Options{Faults: "status=500;times=1"})
	gw := newGateway(t, basicConfig, up)
	if res := do(t, "POST", gw.URL+"/v1/chat/completions", chatBody, "Idempotency-Key", "k-fail"); res.status != 500 {
		t.Fatalf("first: %d, want the scripted 500", res.status)
	}
	if res := do(t, "POST", gw.URL+"/v1/chat/completions", chatBody, "Idempotency-Key", "k-fail"); res.status != 200 {
		t.Errorf("retry with the same key: %d, want 200 from a new attempt", res.status)
	}
}
