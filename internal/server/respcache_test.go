package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/switchboard-gw/switchboard/internal/emulator"
	"github.com/switchboard-gw/switchboard/internal/store"
	"github.com/switchboard-gw/switchboard/internal/testenv"
)

// upstreamCalls drains the requests the emulator finished so far.
func upstreamCalls(up *upstream) int {
	n := 0
	for {
		select {
		case <-up.done:
			n++
		case <-time.After(50 * time.Millisecond):
			return n
		}
	}
}

func cachedCall(t *testing.T, g *gateway, key, body string, hdr ...string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", g.URL+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, resp.Header.Get("X-Switchboard-Cache"), b.String()
}

const cacheConfig = tenancyConfig + `
cache: {enabled: true, ttl: 1m}
prices: {gpt-4o: {input: 1000000, output: 1000000}}
keys:
  - {name: static, key: "${GATEWAY_KEY}"}
  - {name: private, key: "sb-private-key-123456", no_cache: true}
`

func TestResponseCache(t *testing.T) {
	for _, b := range []backend{{"sqlite", sqliteDSN, false}, {"sqlite+redis", sqliteDSN, true}} {
		t.Run(b.name, func(t *testing.T) {
			up := newUpstream(t, emulator.Options{})
			g, _, _ := tenancyGateway(t, b, cacheConfig, up, "", "")
			body := strings.Replace(tenChat, "hello there", "cache me "+testenv.Unique(), 1)

			st, c, first := cachedCall(t, g, gatewayKey, body)
			if st != 200 || c != "miss" || upstreamCalls(up) != 1 {
				t.Fatalf("first call = %d cache %q; want 200, a miss, one upstream call", st, c)
			}
			time.Sleep(50 * time.Millisecond) // the entry is written off the request's path
			st, c, again := cachedCall(t, g, gatewayKey, body)
			if st != 200 || c != "hit" || again != first || upstreamCalls(up) != 0 {
				t.Errorf("repeat = %d cache %q (same body %v); want a hit with the same answer and no upstream call", st, c, again == first)
			}
			// Order of members and the user field do not matter; a setting does.
			reordered := `{"messages":[{"role":"user","content":"` + strings.TrimSuffix(strings.SplitN(body, `"content":"`, 2)[1], `"}]}`) + `"}],"user":"u1","model":"gpt-4o"}`
			if _, c, _ := cachedCall(t, g, gatewayKey, reordered); c != "hit" {
				t.Errorf("reordered members and a user: cache %q, want hit", c)
			}
			if _, c, _ := cachedCall(t, g, gatewayKey, strings.Replace(body, `"messages"`, `"temperature":0.5,"messages"`, 1)); c != "miss" || upstreamCalls(up) != 1 {
				t.Errorf("another temperature: cache %q, want a miss that calls upstream", c)
			}
			// A streamed request is served as a stream from the stored answer.
			stream := strings.Replace(body, `"messages"`, `"stream":true,"messages"`, 1)
			st, c, sse := cachedCall(t, g, gatewayKey, stream)
			if st != 200 || c != "hit" || !strings.Contains(sse, "data: [DONE]") || !strings.Contains(sse, "chat.completion.chunk") || upstreamCalls(up) != 0 {
				t.Errorf("streamed repeat = %d cache %q:\n%s\nwant a hit served as a stream", st, c, sse)
			}
			// no-cache refreshes, no-store bypasses, personal requests and
			// no_cache keys never use it.
			if _, c, _ := cachedCall(t, g, gatewayKey, body, "X-Switchboard-Cache", "no-cache"); c != "miss" || upstreamCalls(up) != 1 {
				t.Errorf("no-cache: cache %q, want a miss that calls upstream", c)
			}
			if _, c, _ := cachedCall(t, g, gatewayKey, body, "X-Switchboard-Cache", "no-store"); c != "" || upstreamCalls(up) != 1 {
				t.Errorf("no-store: cache %q, want the cache bypassed and upstream called", c)
			}
			pers := strings.Replace(body, `"messages"`, `"metadata":{"personal":"true"},"messages"`, 1)
			for range 2 {
				if _, c, _ := cachedCall(t, g, gatewayKey, pers); c != "" {
					t.Errorf("personal request: cache %q, want no cache", c)
				}
			}
			if upstreamCalls(up) != 2 {
				t.Error("personal requests were served from the cache")
			}
			for range 2 {
				if _, c, _ := cachedCall(t, g, "sb-private-key-123456", body); c != "" {
					t.Errorf("no_cache key: cache %q, want no cache", c)
				}
			}
			if upstreamCalls(up) != 2 {
				t.Error("a no_cache key was served from the cache")
			}

			// A hit is free: its usage record costs nothing.
			code, _, out := call(t, "GET", g.URL+"/admin/v1/requests?limit=20", adminKey, "")
			var log struct {
				Data []store.UsageRecord `json:"data"`
			}
			if err := json.Unmarshal([]byte(out), &log); code != 200 || err != nil {
				t.Fatalf("request log = %d %v", code, err)
			}
			var hits, paid int
			for _, r := range log.Data {
				switch {
				case r.CacheHit && r.CostUSD == 0 && r.OutputTokens > 0 && r.SavedUSD > 0:
					hits++
				case r.CacheHit:
					t.Errorf("cache hit record %+v: want cost 0, the answer's tokens and what it saved", r)
				case r.CostUSD > 0:
					paid++
				}
			}
			if hits != 3 {
				t.Errorf("%d free cache-hit records, want 3", hits)
			}
		})
	}
}

// TestResponseCacheSharedByReplicas: with Redis, an answer stored by one
// gateway is a hit on another.
func TestResponseCacheSharedByReplicas(t *testing.T) {
	b := backend{"sqlite+redis", sqliteDSN, true}
	up := newUpstream(t, emulator.Options{})
	prefix := "sbt:" + testenv.Unique() + ":"
	ga, _, _ := tenancyGateway(t, b, cacheConfig, up, "", prefix)
	gb, _, _ := tenancyGateway(t, b, cacheConfig, up, "", prefix)
	body := strings.Replace(tenChat, "hello there", "shared "+testenv.Unique(), 1)
	if _, c, _ := cachedCall(t, ga, gatewayKey, body); c != "miss" {
		t.Fatalf("first call on A: cache %q", c)
	}
	time.Sleep(100 * time.Millisecond)
	if _, c, _ := cachedCall(t, gb, gatewayKey, body); c != "hit" {
		t.Errorf("same request on B: cache %q, want hit", c)
	}
	if n := upstreamCalls(up); n != 1 {
		t.Errorf("upstream saw %d calls, want 1", n)
	}
}

// TestPromptTemplates: versions stored through the admin API, a request
// naming one, variables checked, the version recorded on the usage record.
func TestPromptTemplates(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	g, _, _ := tenancyGateway(t, backend{"sqlite", sqliteDSN, false}, tenancyConfig+"keys: [{name: static, key: \"${GATEWAY_KEY}\"}]\n", up, "", "")
	for _, v := range []string{"Be terse.", "Be verbose."} {
		st, _, out := call(t, "POST", g.URL+"/admin/v1/templates", adminKey,
			`{"name":"support","messages":[{"role":"system","content":"`+v+` You help {{customer}}."}]}`)
		if st != 201 || !strings.Contains(out, `"variables":["customer"]`) {
			t.Fatalf("create template = %d %s", st, out)
		}
	}
	if st, _, out := call(t, "POST", g.URL+"/admin/v1/templates", adminKey, `{"name":"bad","messages":[{"role":"system","content":"{{oops"}]}`); st != 400 {
		t.Errorf("unclosed placeholder = %d %s, want 400", st, out)
	}
	req := func(version string, vars string) (int, string) {
		body := `{"model":"gpt-4o","template":{"name":"support"` + version + `,"variables":` + vars + `},"messages":[{"role":"user","content":"hi"}]}`
		st, _, out := call(t, "POST", g.URL+"/v1/chat/completions", gatewayKey, body)
		return st, out
	}
	if st, out := req(`,"version":1`, `{"customer":"Ana \"the\" Admin"}`); st != 200 {
		t.Fatalf("templated request = %d %s", st, out)
	}
	var got emulator.Recorded
	select {
	case got = <-up.done:
	case <-time.After(2 * time.Second):
		t.Fatal("upstream saw nothing")
	}
	if !strings.Contains(string(got.Body), `Be terse. You help Ana \"the\" Admin.`) || strings.Contains(string(got.Body), `"template"`) {
		t.Errorf("upstream body = %s; want version 1 rendered with the escaped variable and no template member", got.Body)
	}
	if st, out := req("", `{}`); st != 400 || !strings.Contains(out, "customer") {
		t.Errorf("missing variable = %d %s, want 400 naming it", st, out)
	}
	if st, out := req(`,"version":9`, `{"customer":"x"}`); st != 400 || !strings.Contains(out, "version 9") {
		t.Errorf("unknown version = %d %s, want 400 naming it", st, out)
	}
	if st, out := req("", `{"customer":"Bo"}`); st != 200 {
		t.Fatalf("latest version = %d %s", st, out)
	}
	recs, _ := listRequests(t, g, "?status=200")
	if len(recs) != 2 || recs[0].Template != "support@2" || recs[1].Template != "support@1" {
		t.Errorf("usage records' templates = %+v, want support@2 then support@1", recs)
	}
	if st, _, out := call(t, "GET", g.URL+"/admin/v1/templates/support?version=1", adminKey, ""); st != 200 || !strings.Contains(out, "Be terse") {
		t.Errorf("GET version 1 = %d %s", st, out)
	}
}
