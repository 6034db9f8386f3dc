package server_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/emulator"
)

// routingConfig has a "good" provider and a "bad" one whose every request
// carries the fault in {{FAULT}}, on the same emulator.
const routingConfig = `
routing: {backoff_base: 5ms, backoff_max: 20ms, breaker: {min_requests: 1000}}
providers:
  - name: good
    type: openai
    base_url: "{{UP}}/v1"
  - name: bad
    type: openai
    base_url: "{{UP}}/v1"
    headers: {x-mock-fault: "{{FAULT}}"}
    timeouts: {first_byte: 150ms, total: 5s}
models:
  - name: primary
    targets: [{provider: bad, model: bad-model}]
    retries: 0
    fallbacks: [backup]
  - name: flaky
    targets: [{provider: bad, model: flaky-model}]
    retries: 2
  - name: backup
    targets: [{provider: good, model: good-model}]
`

func routingGateway(t *testing.T, fault string, extra ...string) (*gateway, *upstream) {
	t.Helper()
	up := newUpstream(t, emulator.Options{})
	cfg := strings.ReplaceAll(routingConfig, "{{FAULT}}", fault)
	for i := 0; i+1 < len(extra); i += 2 {
		cfg = strings.Replace(cfg, extra[i], extra[i+1], 1)
	}
	return newGateway(t, cfg, up), up
}

// upstreamModels drains the upstream's finished requests and lists the
// models they were for.
func upstreamModels(t *testing.T, up *upstream) []string {
	t.Helper()
	var out []string
	for {
		select {
		case r := <-up.done:
			var b struct{ Model string }
			json.Unmarshal(r.Body, &b)
			out = append(out, b.Model)
		case <-time.After(200 * time.Millisecond):
			return out
		}
	}
}

func TestRetryThenSuccess(t *testing.T) {
	gw, up := routingGateway(t, "status=429;header=retry-after:0;times=1")
	res := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"flaky","messages":[{"role":"user","content":"hi"}]}`)
	if res.status != 200 {
		t.Fatalf("status = %d, want 200 after a retry; body %s", res.status, res.body)
	}
	if a := res.header.Get("X-Switchboard-Attempts"); a != "2" {
		t.Errorf("attempts = %q, want 2", a)
	}
	if got := upstreamModels(t, up); len(got) != 2 {
		t.Errorf("upstream saw %q, want two requests", got)
	}
}

func TestRetryHonoursRetryAfter(t *testing.T) {
	gw, _ := routingGateway(t, "status=429;header=retry-after:0.3;times=1")
	start := time.Now()
	res := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"flaky","messages":[{"role":"user","content":"hi"}]}`)
	if res.status != 200 {
		t.Fatalf("status = %d; body %s", res.status, res.body)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("retried after %v, before the upstream's retry-after of 0.3s", d)
	}
}

func TestNoRetry(t *testing.T) {
	for _, tc := range []struct{ name, fault string }{
		{"insufficient quota", "status=429;code=insufficient_quota"},
		{"400", "status=400"},
		{"401", "status=401"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, up := routingGateway(t, tc.fault)
			res := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"flaky","messages":[{"role":"user","content":"hi"}]}`)
			if res.status < 400 {
				t.Fatalf("status = %d, want the upstream's error", res.status)
			}
			if got := upstreamModels(t, up); len(got) != 1 {
				t.Errorf("upstream saw %d requests (%q), want 1: %s is not retried", len(got), got, tc.name)
			}
		})
	}
}

func TestFallback(t *testing.T) {
	for _, tc := range []struct {
		name, fault string
		fallback    bool
	}{
		{"server error", "status=500", true},
		{"rate limited", "status=429;header=retry-after:0", true},
		{"first byte timeout", "latency=1s", true},
		{"html page", "body=html", true},
		{"client error stays", "status=400", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, up := routingGateway(t, tc.fault)
			for _, stream := range []string{"false", "true"} {
				res := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"primary","stream":`+stream+`,"messages":[{"role":"user","content":"hi"}]}`)
				if !tc.fallback {
					if res.status != 400 || res.header.Get("X-Switchboard-Fallback") != "" {
						t.Errorf("stream %s: status %d fallback %q, want the 400 and no fallback", stream, res.status, res.header.Get("X-Switchboard-Fallback"))
					}
					continue
				}
				if res.status != 200 {
					t.Fatalf("stream %s: status = %d, want 200 from the fallback; body %s", stream, res.status, res.body)
				}
				for h, want := range map[string]string{"X-Switchboard-Fallback": "backup", "X-Switchboard-Provider": "good", "X-Switchboard-Model": "good-model", "X-Switchboard-Attempts": "2"} {
					if got := res.header.Get(h); got != want {
						t.Errorf("stream %s: %s = %q, want %q", stream, h, got, want)
					}
				}
				if strings.Count(res.body, "[DONE]") > 1 {
					t.Errorf("two streams in one answer: %s", res.body)
				}
			}
			upstreamModels(t, up)
		})
	}
}

// TestFallbackContextWindow: a context window error moves to the fallback
// only when the model lists that class.
func TestFallbackContextWindow(t *testing.T) {
	ctxErr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		w.Write([]byte(`{"error":{"message":"This model's maximum context length is 8192 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}`))
	}))
	t.Cleanup(ctxErr.Close)
	for _, tc := range []struct {
		on   string
		want int
	}{{"", 200}, {"\n    fallback_on: [rate_limit]", 400}} {
		gw, _ := routingGateway(t, "", `base_url: "{{UP}}/v1"
    headers`, `base_url: "`+ctxErr.URL+`"
    headers`, "fallbacks: [backup]", "fallbacks: [backup]"+tc.on)
		res := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"primary","messages":[{"role":"user","content":"hi"}]}`)
		if res.status != tc.want {
			t.Errorf("fallback_on %q: status %d, want %d; body %s", tc.on, res.status, tc.want, res.body)
		}
	}
}

// TestNoReplayAfterFirstByte: a stream cut after its first byte ends with an
// error event and is not retried, even with retries configured.
func TestNoReplayAfterFirstByte(t *testing.T) {
	gw, up := routingGateway(t, "cut_after=3")
	res := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"flaky","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	events := sseEvents(t, res.body)
	if res.status != 200 || len(events) == 0 || !strings.Contains(events[len(events)-1], `"error"`) {
		t.Fatalf("status %d events %q, want a 200 stream ending in an error event", res.status, events)
	}
	if got := upstreamModels(t, up); len(got) != 1 {
		t.Errorf("upstream saw %d requests, want 1: a started stream is never replayed", len(got))
	}
}

// TestCircuitBreaker: the breaker opens after failures, sheds load without
// calling the upstream, lets a probe through after the cool-down, and closes
// when it succeeds.
func TestCircuitBreaker(t *testing.T) {
	gw, up := routingGateway(t, "", "breaker: {min_requests: 1000}", "breaker: {min_requests: 3, cooldown: 1s}")
	body := `{"model":"backup","messages":[{"role":"user","content":"hi"}]}`
	up.SetFaults("status=500")
	// One request makes three attempts (retries: 2), all failing: that is
	// min_requests at a 100% failure rate, and the circuit opens.
	if res := do(t, "POST", gw.URL+"/v1/chat/completions", body); res.status != 500 {
		t.Fatalf("status = %d, want the upstream's 500; %s", res.status, res.body)
	}
	if got := upstreamModels(t, up); len(got) != 3 {
		t.Fatalf("upstream saw %d attempts, want 3", len(got))
	}
	res := do(t, "POST", gw.URL+"/v1/chat/completions", body)
	if res.status != 503 || !strings.Contains(res.body, "no_healthy_deployment") || res.header.Get("Retry-After") == "" {
		t.Fatalf("with the circuit open: %d %s, want 503 no_healthy_deployment with retry-after", res.status, res.body)
	}
	if got := upstreamModels(t, up); len(got) != 0 {
		t.Errorf("an open circuit still sent %d requests upstream", len(got))
	}
	admin := do(t, "GET", gw.URL+"/admin/v1/providers", "")
	if !strings.Contains(admin.body, `"state":"open"`) {
		t.Errorf("admin providers = %s, want the deployment shown open", admin.body)
	}
	time.Sleep(1050 * time.Millisecond)
	up.SetFaults("")
	if res := do(t, "POST", gw.URL+"/v1/chat/completions", body); res.status != 200 {
		t.Fatalf("probe after cool-down: %d, want 200", res.status)
	}
	admin = do(t, "GET", gw.URL+"/admin/v1/providers", "")
	if !strings.Contains(admin.body, `"state":"closed"`) || strings.Contains(admin.body, `"state":"open"`) {
		t.Errorf("after a good probe admin providers = %s, want closed", admin.body)
	}
}

// TestRetryBudget: with retry_budget 0 only the initial allowance of retries
// is spent, however many requests fail.
func TestRetryBudget(t *testing.T) {
	gw, up := routingGateway(t, "status=500", "routing: {", "routing: {retry_budget: 0, ")
	const n = 30
	for range n {
		do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"flaky","messages":[{"role":"user","content":"hi"}]}`)
	}
	got := len(upstreamModels(t, up))
	// Without a budget 30 requests with retries: 2 would make 90 attempts.
	if got > n+10 {
		t.Errorf("upstream saw %d attempts for %d requests, want at most %d (budget allowance 10)", got, n, n+10)
	}
}

// TestKeyCooldown: a key rate limited by the upstream is skipped for its
// retry-after while the provider's other key carries the traffic.
func TestKeyCooldown(t *testing.T) {
	var hitsA, hitsB atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") == "Bearer key-a" {
			hitsA.Add(1)
			w.Header().Set("Retry-After", "30")
			w.WriteHeader(429)
			w.Write([]byte(`{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`))
			return
		}
		hitsB.Add(1)
		w.Write([]byte(`{"id":"x","object":"chat.completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`))
	}))
	t.Cleanup(srv.Close)
	gw := newGateway(t, `
providers:
  - {name: two, type: openai, base_url: "`+srv.URL+`", api_keys: [key-a, key-b]}
models:
  - {name: m, targets: [{provider: two}]}
`, nil)
	for range 10 {
		if res := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"m","messages":[{"role":"user","content":"hi"}]}`); res.status != 200 {
			t.Fatalf("status %d: %s", res.status, res.body)
		}
	}
	if hitsA.Load() > 1 {
		t.Errorf("rate-limited key used %d times, want at most once before its cool-down", hitsA.Load())
	}
	admin := do(t, "GET", gw.URL+"/admin/v1/providers", "")
	if !strings.Contains(admin.body, `"keys":2,"keys_cooling":1`) && hitsA.Load() == 1 {
		t.Errorf("admin providers = %s, want one of two keys cooling", admin.body)
	}
}

func TestAdminProvidersAuth(t *testing.T) {
	gw := newGateway(t, basicConfig+"admin: {key: adm-secret-1}\nkeys:\n  - {name: c, key: \"${GATEWAY_KEY}\"}\n", newUpstream(t, emulator.Options{}))
	if res := do(t, "GET", gw.URL+"/admin/v1/providers", "", "Authorization", "Bearer "+gatewayKey); res.status != 403 {
		t.Errorf("client key on the admin API: %d, want 403", res.status)
	}
	if res := do(t, "GET", gw.URL+"/admin/v1/providers", ""); res.status != 401 {
		t.Errorf("no key on the admin API: %d, want 401", res.status)
	}
	res := do(t, "GET", gw.URL+"/admin/v1/providers", "", "Authorization", "Bearer adm-secret-1")
	if res.status != 200 || !strings.Contains(res.body, `"name":"oai"`) {
		t.Errorf("admin key: %d %s", res.status, res.body)
	}
}

// TestShaping: a model's and a key's bounds are applied to the body sent
// upstream, the stricter winning.
func TestShaping(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	gw := newGateway(t, `
providers: [{name: oai, type: openai, base_url: "{{UP}}/v1"}]
models:
  - name: m
    targets: [{provider: oai, model: up}]
    shape: {default_max_tokens: 500, max_tokens: 1000, max_temperature: 1.2}
keys:
  - {name: strict, key: "${GATEWAY_KEY}", shape: {max_tokens: 300, max_temperature: 0.5}}
  - {name: loose, key: loose-key-123}
`, up)
	for _, tc := range []struct{ name, key, body, want string }{
		{"default from the model", "loose-key-123", `{"model":"m","messages":[{"role":"user","content":"x"}]}`,
			`{"model":"up","messages":[{"role":"user","content":"x"}],"max_tokens":500}`},
		{"model cap", "loose-key-123", `{"model":"m","max_tokens":5000,"temperature":2,"messages":[{"role":"user","content":"x"}]}`,
			`{"model":"up","max_tokens":1000,"temperature":1.2,"messages":[{"role":"user","content":"x"}]}`},
		{"key is stricter", gatewayKey, `{"model":"m","messages":[{"role":"user","content":"x"}],"temperature":0.9}`,
			`{"model":"up","messages":[{"role":"user","content":"x"}],"temperature":0.5,"max_tokens":300}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res := do(t, "POST", gw.URL+"/v1/chat/completions", tc.body, "Authorization", "Bearer "+tc.key); res.status != 200 {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			if got := string(up.next(t).Body); got != tc.want {
				t.Errorf("upstream body =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestRules: rules send requests to another model by tag, key, team or
// request metadata; the first match wins and is named in x-switchboard-rule.
func TestRules(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	gw := newGateway(t, `
providers: [{name: oai, type: openai, base_url: "{{UP}}/v1"}]
models:
  - {name: gpt-4o, targets: [{provider: oai, model: big}]}
  - {name: cheap, targets: [{provider: oai, model: small}]}
  - {name: eu, targets: [{provider: oai, model: eu-model}]}
keys:
  - {name: batchjob, key: "${GATEWAY_KEY}", team: data}
  - {name: app, key: app-key-123, team: web}
rules:
  - {name: batch-tag, match: {tags: [batch]}, model: cheap}
  - {name: data-team, match: {teams: [data], models: [gpt-4o]}, model: cheap}
  - {name: eu-users, match: {metadata: {region: eu}}, model: eu}
`, up)
	for _, tc := range []struct {
		name, key, tags, body, wantModel, wantRule string
	}{
		{"no rule", "app-key-123", "", `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}`, "big", ""},
		{"tag", "app-key-123", "interactive, batch", `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}`, "small", "batch-tag"},
		{"team", gatewayKey, "", `{"model":"gpt-4o","messages":[{"role":"user","content":"x"}]}`, "small", "data-team"},
		{"metadata", "app-key-123", "", `{"model":"gpt-4o","metadata":{"region":"eu"},"messages":[{"role":"user","content":"x"}]}`, "eu-model", "eu-users"},
		{"metadata other value", "app-key-123", "", `{"model":"gpt-4o","metadata":{"region":"us"},"messages":[{"role":"user","content":"x"}]}`, "big", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := []string{"Authorization", "Bearer " + tc.key}
			if tc.tags != "" {
				hdr = append(hdr, "X-Switchboard-Tags", tc.tags)
			}
			res := do(t, "POST", gw.URL+"/v1/chat/completions", tc.body, hdr...)
			if res.status != 200 {
				t.Fatalf("status %d: %s", res.status, res.body)
			}
			if got := res.header.Get("X-Switchboard-Model"); got != tc.wantModel {
				t.Errorf("model = %q, want %q", got, tc.wantModel)
			}
			if got := res.header.Get("X-Switchboard-Rule"); got != tc.wantRule {
				t.Errorf("rule = %q, want %q", got, tc.wantRule)
			}
			up.next(t)
		})
	}
}

// TestBreakerSharedThroughRedis: a circuit opened on one replica is open on
// another sharing the Redis, which then sheds load without calling upstream.
func TestBreakerSharedThroughRedis(t *testing.T) {
	url := redisURL(t)
	up := newUpstream(t, emulator.Options{})
	// A unique upstream model name keeps runs apart in the shared Redis.
	model := fmt.Sprintf("m-%d", rand.Uint64())
	cfg := `
redis: {url: "` + url + `"}
routing: {breaker: {min_requests: 2, cooldown: 5s}}
providers: [{name: oai, type: openai, base_url: "{{UP}}/v1"}]
models: [{name: m, targets: [{provider: oai, model: ` + model + `}], retries: 0}]
`
	a, b := newGateway(t, cfg, up), newGateway(t, cfg, up)
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}]}`
	// b learns the deployment (a healthy call), then a trips the breaker.
	if res := do(t, "POST", b.URL+"/v1/chat/completions", body); res.status != 200 {
		t.Fatalf("b: %d", res.status)
	}
	up.SetFaults("status=500")
	for range 2 {
		do(t, "POST", a.URL+"/v1/chat/completions", body)
	}
	if res := do(t, "POST", a.URL+"/v1/chat/completions", body); res.status != 503 {
		t.Fatalf("a after two failures: %d, want 503 with its circuit open", res.status)
	}
	upstreamModels(t, up)
	up.SetFaults("")
	waitFor(t, func() bool {
		return do(t, "POST", b.URL+"/v1/chat/completions", body).status == 503
	}, "replica b to see the circuit a opened")
	// From now on b sheds the load without calling the upstream.
	upstreamModels(t, up)
	for range 5 {
		if res := do(t, "POST", b.URL+"/v1/chat/completions", body); res.status != 503 {
			t.Errorf("b with the shared circuit open: %d, want 503", res.status)
		}
	}
	if got := upstreamModels(t, up); len(got) != 0 {
		t.Errorf("upstream saw %d requests while the shared circuit was open", len(got))
	}
}

// TestPresets: a preset provider type needs only a key; its known quirks are
// applied (a refused field is a 400 naming it; its extras are accepted;
// Mistral is not sent stream_options).
func TestPresets(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	gw := newGateway(t, `
providers:
  - {name: groq, type: groq, base_url: "{{UP}}/v1", api_keys: [gk-123456]}
  - {name: mistral, type: mistral, base_url: "{{UP}}/v1"}
  - {name: vllm, type: vllm, base_url: "{{UP}}/v1"}
models:
  - {name: llama, targets: [{provider: groq, model: llama-3.3-70b-versatile}]}
  - {name: mistral-small, targets: [{provider: mistral}]}
  - {name: local, targets: [{provider: vllm}]}
`, up)
	res := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"llama","logprobs":true,"messages":[{"role":"user","content":"x"}]}`)
	if res.status != 400 || !strings.Contains(res.body, `"param":"logprobs"`) || !strings.Contains(res.body, "groq") {
		t.Errorf("groq with logprobs: %d %s, want a 400 naming logprobs", res.status, res.body)
	}
	if res := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"local","top_k":20,"guided_json":{},"messages":[{"role":"user","content":"x"}]}`); res.status != 200 {
		t.Errorf("vllm extras: %d %s", res.status, res.body)
	}
	up.next(t)
	if res := do(t, "POST", gw.URL+"/v1/chat/completions", `{"model":"mistral-small","stream":true,"messages":[{"role":"user","content":"x"}]}`); res.status != 200 {
		t.Errorf("mistral stream: %d %s", res.status, res.body)
	}
	if rec := up.next(t); strings.Contains(string(rec.Body), "stream_options") {
		t.Errorf("mistral was sent stream_options: %s", rec.Body)
	}
}
