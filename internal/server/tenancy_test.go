package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/switchboard-gw/switchboard/internal/emulator"
	"github.com/switchboard-gw/switchboard/internal/server"
	"github.com/switchboard-gw/switchboard/internal/store"
	"github.com/switchboard-gw/switchboard/internal/testenv"
)

const adminKey = "sb-test-ADMIN-key-777"

// backend is one combination of the state a gateway keeps: the store engine
// and whether limits and budgets live in memory or in Redis.
type backend struct {
	name  string
	store func(t *testing.T) string // driver:dsn
	redis bool
}

func sqliteDSN(t *testing.T) string {
	return "sqlite:" + filepath.Join(t.TempDir(), "sb.db")
}

func postgresDSN(t *testing.T) string { return "postgres:" + testenv.Postgres(t) }

var backends = []backend{
	{"sqlite", sqliteDSN, false},
	{"sqlite+redis", sqliteDSN, true},
	{"postgres", postgresDSN, false},
	{"postgres+redis", postgresDSN, true},
}

// eachBackend runs f once per backend as a subtest, so that only the
// variants whose service is missing skip.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { f(t, b) })
	}
}

// tenancyGateway starts a gateway on its own store. yaml may use {{UP}};
// the store section and (for Redis backends) the redis section are added.
// dsn, when not empty, is a store shared with another gateway.
func tenancyGateway(t *testing.T, b backend, yaml string, up *upstream, dsn, redisPrefix string) (*gateway, store.Store, string) {
	t.Helper()
	if dsn == "" {
		dsn = b.store(t)
	}
	driver, conn, _ := strings.Cut(dsn, ":")
	yaml += fmt.Sprintf("\nstore: {driver: %s, dsn: %q}\nusage: {spool_dir: %q, flush_every: 20ms, replay_every: 100ms}\nadmin: {key: %q}\n",
		driver, conn, t.TempDir(), adminKey)
	if b.redis {
		if redisPrefix == "" {
			redisPrefix = "sbt:" + testenv.Unique() + ":"
		}
		yaml += fmt.Sprintf("redis: {url: %q, prefix: %q}\n", testenv.RedisURL(t), redisPrefix)
	}
	cfg := parseConfig(t, yaml, up)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := store.Open(ctx, driver, conn)
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &syncBuffer{}
	srv, err := server.New(cfg, server.Options{Store: st, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Simulator: func(faults string) (http.Handler, error) { return emulator.New(emulator.Options{Faults: faults}) }})
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})
	return &gateway{Server: srv, URL: ts.URL, log: logs}, st, dsn
}

// call sends a request with a bearer key and returns status, headers and body.
func call(t *testing.T, method, url, key, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// createKey makes a virtual key through the admin API.
func createKey(t *testing.T, g *gateway, body string) (id, secret string) {
	t.Helper()
	st, _, out := call(t, "POST", g.URL+"/admin/v1/keys", adminKey, body)
	if st != http.StatusCreated {
		t.Fatalf("POST /admin/v1/keys %s = %d %s", body, st, out)
	}
	var k struct {
		ID     string `json:"id"`
		Key    string `json:"key"`
		Prefix string `json:"prefix"`
	}
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.Key, "sk-sb-") || !strings.HasPrefix(k.Key, k.Prefix) || k.ID == "" {
		t.Fatalf("created key = %s, want an id and a sk-sb- secret starting with its prefix", out)
	}
	return k.ID, k.Key
}

const tenChat = `{"model":"gpt-4o","messages":[{"role":"user","content":"hello there"}]}`

const tenancyConfig = `
providers:
  - name: oai
    type: openai
    base_url: "{{UP}}/v1"
    api_keys: ["${UPSTREAM_KEY}"]
models:
  - name: gpt-4o
    targets: [{provider: oai, model: gpt-4o}]
  - name: embed
    targets: [{provider: oai, model: text-embedding-3-small}]
  - name: other
    targets: [{provider: oai, model: gpt-4o-mini}]
`

func wantError(t *testing.T, what string, st int, body string, wantStatus int, wantCode, wantText string) {
	t.Helper()
	if st != wantStatus || !strings.Contains(body, `"code":"`+wantCode+`"`) || !strings.Contains(body, wantText) {
		t.Errorf("%s = %d %s; want %d with code %q and a message mentioning %q", what, st, body, wantStatus, wantCode, wantText)
	}
}

func TestVirtualKeyLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		up := newUpstream(t, emulator.Options{})
		g, _, _ := tenancyGateway(t, b, tenancyConfig, up, "", "")
		url := g.URL + "/v1/chat/completions"

		if st, _, out := call(t, "POST", g.URL+"/admin/v1/keys", adminKey, `{"name":"a","team":"nope"}`); st != 400 || !strings.Contains(out, "POST /admin/v1/teams") {
			t.Errorf("key for an unknown team = %d %s, want 400 pointing at POST /admin/v1/teams", st, out)
		}
		if st, _, out := call(t, "POST", g.URL+"/admin/v1/teams", adminKey, `{"name":"ml","models":["gpt-4o","embed"]}`); st != 201 {
			t.Fatalf("POST /admin/v1/teams = %d %s", st, out)
		}
		if st, _, out := call(t, "POST", g.URL+"/admin/v1/keys", adminKey, `{"name":"a","colour":"red"}`); st != 400 || !strings.Contains(out, "colour") {
			t.Errorf("unknown field = %d %s, want 400 naming it", st, out)
		}
		id, secret := createKey(t, g, `{"name":"app","team":"ml","models":["gpt-4o","other"],"endpoints":["/v1/chat/completions"],"metadata":{"owner":"ana"}}`)

		if st, _, out := call(t, "POST", url, secret, tenChat); st != 200 {
			t.Fatalf("chat with a fresh virtual key = %d %s", st, out)
		}
		st, _, out := call(t, "POST", url, secret, strings.Replace(tenChat, "gpt-4o", "other", 1))
		wantError(t, "model outside the team's models", st, out, 403, "model_not_allowed", `other`)
		st, _, out = call(t, "POST", g.URL+"/v1/embeddings", secret, `{"model":"embed","input":"x"}`)
		wantError(t, "endpoint outside the key's scope", st, out, 403, "endpoint_not_allowed", "/v1/embeddings")
		st, _, out = call(t, "POST", url, "sk-sb-doesnotexist0000000000000000000000000", tenChat)
		wantError(t, "unknown virtual key", st, out, 401, "invalid_api_key", "does not exist")

		// The listing never shows a secret or its hash.
		_, _, list := call(t, "GET", g.URL+"/admin/v1/keys", adminKey, "")
		if !strings.Contains(list, id) || !strings.Contains(list, `"owner":"ana"`) || strings.Contains(list, secret) || strings.Contains(list, "hash") {
			t.Errorf("key list = %s; want the key and its metadata, never the secret", list)
		}
		if st, _, out := call(t, "GET", g.URL+"/admin/v1/keys", secret, ""); st != 403 {
			t.Errorf("admin API with a client key = %d %s, want 403", st, out)
		}

		// Rotation: the new secret works at once, the old one through the
		// grace period; a rotation with no grace ends the old one.
		_, _, out = call(t, "POST", g.URL+"/admin/v1/keys/"+id+"/rotate", adminKey, `{"grace_period":"1h"}`)
		var rot struct {
			Key string `json:"key"`
		}
		json.Unmarshal([]byte(out), &rot)
		if rot.Key == "" || rot.Key == secret {
			t.Fatalf("rotate = %s, want a new secret", out)
		}
		for _, k := range []string{secret, rot.Key} {
			if st, _, out := call(t, "POST", url, k, tenChat); st != 200 {
				t.Errorf("chat after rotation (grace period) = %d %s", st, out)
			}
		}
		_, _, out = call(t, "POST", g.URL+"/admin/v1/keys/"+id+"/rotate", adminKey, `{"grace_period":"0s"}`)
		var rot2 struct {
			Key string `json:"key"`
		}
		json.Unmarshal([]byte(out), &rot2)
		st, _, out = call(t, "POST", url, rot.Key, tenChat)
		wantError(t, "secret rotated out", st, out, 401, "invalid_api_key", "rotated")
		if st, _, out := call(t, "POST", url, rot2.Key, tenChat); st != 200 {
			t.Errorf("chat with the newest secret = %d %s", st, out)
		}

		// Revocation takes effect at once on this replica.
		if st, _, out := call(t, "DELETE", g.URL+"/admin/v1/keys/"+id, adminKey, ""); st != 200 || !strings.Contains(out, "revoked_at") {
			t.Fatalf("DELETE key = %d %s", st, out)
		}
		st, _, out = call(t, "POST", url, rot2.Key, tenChat)
		wantError(t, "revoked key", st, out, 401, "invalid_api_key", "revoked")

		// Expiry.
		_, short := createKey(t, g, `{"name":"short","expires_at":"1s"}`)
		if st, _, out := call(t, "POST", url, short, tenChat); st != 200 {
			t.Errorf("chat before expiry = %d %s", st, out)
		}
		time.Sleep(1100 * time.Millisecond)
		st, _, out = call(t, "POST", url, short, tenChat)
		wantError(t, "expired key", st, out, 401, "invalid_api_key", "expired")
	})
}

func TestRateLimits(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		up := newUpstream(t, emulator.Options{})
		g, _, _ := tenancyGateway(t, b, tenancyConfig+`
limits: {user: {rpm: 2}}
`, up, "", "")
		url := g.URL + "/v1/chat/completions"
		_, secret := createKey(t, g, `{"name":"rl","rpm":3}`)
		for i := range 3 {
			st, h, out := call(t, "POST", url, secret, tenChat)
			if st != 200 {
				t.Fatalf("request %d = %d %s", i+1, st, out)
			}
			if h.Get("X-Ratelimit-Limit-Requests") != "3" || h.Get("X-Ratelimit-Remaining-Requests") != strconv.Itoa(2-i) {
				t.Errorf("request %d: x-ratelimit limit/remaining = %q/%q, want 3/%d", i+1,
					h.Get("X-Ratelimit-Limit-Requests"), h.Get("X-Ratelimit-Remaining-Requests"), 2-i)
			}
		}
		st, h, out := call(t, "POST", url, secret, tenChat)
		wantError(t, "4th request on rpm 3", st, out, 429, "rate_limit_exceeded", `key \"rl\"`)
		if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra < 1 || ra > 20 {
			t.Errorf("retry-after = %q, want about 20s (one request of 3 per minute)", h.Get("Retry-After"))
		}

		// Per end user: the user field of the body, each user separately.
		_, other := createKey(t, g, `{"name":"users"}`)
		withUser := func(u string) string { return strings.Replace(tenChat, `"messages"`, `"user":"`+u+`","messages"`, 1) }
		for i := range 2 {
			if st, _, out := call(t, "POST", url, other, withUser("alice")); st != 200 {
				t.Fatalf("alice request %d = %d %s", i+1, st, out)
			}
		}
		st, _, out = call(t, "POST", url, other, withUser("alice"))
		wantError(t, "alice's 3rd request on user rpm 2", st, out, 429, "rate_limit_exceeded", `end user \"alice\"`)
		if st, _, out := call(t, "POST", url, other, withUser("bob")); st != 200 {
			t.Errorf("bob's first request = %d %s, want 200 (limits are per user)", st, out)
		}

		// Concurrency: max_parallel 1 refuses a second request while the
		// first is still streaming.
		_, par := createKey(t, g, `{"name":"par","max_parallel":1}`)
		slow := strings.Replace(tenChat, `"messages"`, `"stream":true,"messages"`, 1)
		req, _ := http.NewRequest("POST", url, strings.NewReader(slow))
		req.Header.Set("Authorization", "Bearer "+par)
		up.SetFaults("chunk_delay=100ms;times=1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		st, _, out = call(t, "POST", url, par, tenChat)
		wantError(t, "second concurrent request on max_parallel 1", st, out, 429, "concurrency_limit_exceeded", "concurrent")
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		time.Sleep(50 * time.Millisecond) // the slot is given back in the finish hop
		if st, _, out := call(t, "POST", url, par, tenChat); st != 200 {
			t.Errorf("request after the stream ended = %d %s, want 200", st, out)
		}
	})
}

// TestTwoGatewaysShareLimitsAndBudget runs two gateways on one PostgreSQL
// and one Redis, as two replicas would: one key's rpm and one team's budget
// hold exactly across both.
func TestTwoGatewaysShareLimitsAndBudget(t *testing.T) {
	b := backend{"postgres+redis", postgresDSN, true}
	up := newUpstream(t, emulator.Options{})
	cfg := tenancyConfig + `
prices: {gpt-4o: {input: 1000000, output: 1000000}}
`
	prefix := "sbt:" + testenv.Unique() + ":"
	ga, _, dsn := tenancyGateway(t, b, cfg, up, "", prefix)
	gb, _, _ := tenancyGateway(t, b, cfg, up, dsn, prefix)

	// rpm 10, 40 requests at once, half to each replica: exactly 10 pass.
	_, secret := createKey(t, ga, `{"name":"shared","rpm":10}`)
	var ok, limited atomic.Int64
	var wg sync.WaitGroup
	for i := range 40 {
		g := ga
		if i%2 == 1 {
			g = gb
		}
		wg.Go(func() {
			switch st, _, _ := call(t, "POST", g.URL+"/v1/chat/completions", secret, tenChat); st {
			case 200:
				ok.Add(1)
			case 429:
				limited.Add(1)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 10 || limited.Load() != 30 {
		t.Errorf("rpm 10 across two replicas: %d passed, %d limited; want exactly 10 and 30", ok.Load(), limited.Load())
	}

	// What one request costs: at $1 per token, its total tokens in dollars.
	_, probe := createKey(t, ga, `{"name":"probe"}`)
	_, _, out := call(t, "POST", ga.URL+"/v1/chat/completions", probe, tenChat)
	var resp struct {
		Usage struct {
			TotalTokens float64 `json:"total_tokens"`
		} `json:"usage"`
	}
	json.Unmarshal([]byte(out), &resp)
	c := resp.Usage.TotalTokens
	if c == 0 {
		t.Fatalf("no usage in %s", out)
	}
	// A team budget of 3.5 requests: the 4th is checked at 3c spent and
	// passes, the 5th at 4c is refused, whichever replica serves it.
	team := "t" + testenv.Unique()
	if st, _, out := call(t, "POST", ga.URL+"/admin/v1/teams", adminKey, fmt.Sprintf(`{"name":%q,"budget":{"usd":%g,"period":"daily"}}`, team, 3.5*c)); st != 201 {
		t.Fatalf("create team = %d %s", st, out)
	}
	_, k1 := createKey(t, ga, fmt.Sprintf(`{"name":"m1","team":%q}`, team))
	_, k2 := createKey(t, gb, fmt.Sprintf(`{"name":"m2","team":%q}`, team))
	var passed int
	for i := range 8 {
		g, k := ga, k1
		if i%2 == 1 {
			g, k = gb, k2
		}
		st, h, out := call(t, "POST", g.URL+"/v1/chat/completions", k, tenChat)
		switch st {
		case 200:
			passed++
		case 429:
			wantError(t, "request over the team budget", st, out, 429, "budget_exceeded", team)
			if h.Get("Retry-After") == "" {
				t.Error("budget 429 without retry-after")
			}
		default:
			t.Fatalf("request %d = %d %s", i+1, st, out)
		}
	}
	if passed != 4 {
		t.Errorf("team budget of 3.5 requests across two replicas let %d requests through, want exactly 4", passed)
	}
}

func TestUsageRecordsAndAggregation(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		up := newUpstream(t, emulator.Options{})
		g, st, _ := tenancyGateway(t, b, tenancyConfig+`
prices: {gpt-4o: {input: 2.5, output: 10}}
keys: [{name: static, key: "${GATEWAY_KEY}", team: ops}]
teams: [{name: ops}]
`, up, "", "")
		url := g.URL + "/v1/chat/completions"
		_, v := createKey(t, g, `{"name":"virt"}`)
		var sent int
		for i := range 3 {
			if code, _, out := call(t, "POST", url, v, tenChat); code != 200 {
				t.Fatalf("request %d = %d %s", i, code, out)
			}
			sent++
		}
		stream := strings.Replace(tenChat, `"messages"`, `"stream":true,"messages"`, 1)
		if code, _, out := call(t, "POST", url, gatewayKey, stream); code != 200 || !strings.Contains(out, "[DONE]") {
			t.Fatalf("stream = %d %s", code, out)
		}
		if code, _, _ := call(t, "POST", g.URL+"/v1/embeddings", gatewayKey, `{"model":"embed","input":"hi"}`); code != 200 {
			t.Fatalf("embeddings = %d", code)
		}
		req, _ := http.NewRequest("POST", url, strings.NewReader(tenChat))
		req.Header.Set("Authorization", "Bearer "+gatewayKey)
		up.SetFaults("status=400;times=1")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		sent += 3

		get := func(q string) []store.UsageRow {
			t.Helper()
			code, _, out := call(t, "GET", g.URL+"/admin/v1/usage"+q, adminKey, "")
			if code != 200 {
				t.Fatalf("GET usage%s = %d %s", q, code, out)
			}
			var r struct {
				Data []store.UsageRow `json:"data"`
			}
			if err := json.Unmarshal([]byte(out), &r); err != nil {
				t.Fatal(err)
			}
			return r.Data
		}
		byKey := map[string]store.UsageRow{}
		for _, r := range get("?group_by=key") {
			byKey[r.Group] = r
		}
		if byKey["virt"].Requests != 3 || byKey["static"].Requests != 3 || byKey["static"].Errors != 1 {
			t.Errorf("usage by key = %+v; want virt 3 requests, static 3 with 1 error", byKey)
		}
		if v := byKey["virt"]; v.InputTokens == 0 || v.OutputTokens == 0 || v.CostUSD <= 0 {
			t.Errorf("virt usage = %+v, want tokens and a cost", v)
		}
		want := float64(byKey["virt"].InputTokens)*2.5/1e6 + float64(byKey["virt"].OutputTokens)*10/1e6
		if d := byKey["virt"].CostUSD - want; d > 1e-9 || d < -1e-9 {
			t.Errorf("virt cost = %v, want %v from the configured price", byKey["virt"].CostUSD, want)
		}
		byTeam := map[string]int64{}
		for _, r := range get("?group_by=team") {
			byTeam[r.Group] = r.Requests
		}
		if byTeam["ops"] != 3 {
			t.Errorf("usage by team = %v, want ops: 3", byTeam)
		}
		var total int64
		for _, r := range get("?group_by=model") {
			total += r.Requests
		}
		if total != int64(sent) {
			t.Errorf("usage by model counts %d requests, want %d", total, sent)
		}
		today := time.Now().UTC().Format(time.DateOnly)
		if rows := get("?group_by=day"); len(rows) != 1 || rows[0].Group != today || rows[0].Requests != int64(sent) {
			t.Errorf("usage by day = %+v, want one row for %s with %d requests", rows, today, sent)
		}
		if rows := get("?group_by=provider&from=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); len(rows) != 0 {
			t.Errorf("usage from an hour ahead = %+v, want none", rows)
		}
		if code, _, out := call(t, "GET", g.URL+"/admin/v1/usage?group_by=colour", adminKey, ""); code != 400 || !strings.Contains(out, "group_by") {
			t.Errorf("bad group_by = %d %s", code, out)
		}
		ctx := context.Background()
		if all, err := st.AggregateUsage(ctx, store.UsageQuery{}); err != nil || len(all) != 1 || all[0].Requests != int64(sent) {
			t.Errorf("store holds %+v (%v), want %d records", all, err, sent)
		}
	})
}

// TestBudgets: a key's budget is checked before the call and charged after
// it, the alert webhook hears the thresholds crossed, and the spend
// survives a restart (seeded from the usage records).
func TestBudgets(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		up := newUpstream(t, emulator.Options{})
		type alert struct {
			Type      string  `json:"type"`
			Scope     string  `json:"scope"`
			Threshold float64 `json:"threshold"`
		}
		alerts := make(chan alert, 16)
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var a alert
			body, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(body, &a, json.RejectUnknownMembers(false)); err != nil {
				t.Errorf("webhook body %s: %v", body, err)
			}
			alerts <- a
		}))
		defer hook.Close()
		cfg := tenancyConfig + fmt.Sprintf(`
prices: {gpt-4o: {input: 1000000, output: 1000000}}
budgets: {webhook_url: %q, thresholds: [0.5, 1.0]}
`, hook.URL)
		g, _, dsn := tenancyGateway(t, b, cfg, up, "", "")
		url := g.URL + "/v1/chat/completions"
		// One request costs its total tokens in dollars; 10 tokens here
		// (the emulator's answer to this prompt), so a $15 budget allows two.
		id, secret := createKey(t, g, `{"name":"spender","budget":{"usd":15,"period":"daily"}}`)
		for i := range 2 {
			if st, _, out := call(t, "POST", url, secret, tenChat); st != 200 {
				t.Fatalf("request %d within budget = %d %s", i+1, st, out)
			}
		}
		st, h, out := call(t, "POST", url, secret, tenChat)
		wantError(t, "request over the key budget", st, out, 429, "budget_exceeded", `key \"spender\"`)
		if ra, _ := strconv.Atoi(h.Get("Retry-After")); ra < 1 || ra > 86400 {
			t.Errorf("retry-after = %q, want the seconds until the daily budget resets", h.Get("Retry-After"))
		}
		got := map[float64]string{}
		for len(got) < 2 {
			select {
			case a := <-alerts:
				got[a.Threshold] = a.Scope
			case <-time.After(5 * time.Second):
				t.Fatalf("webhook got %v, want thresholds 0.5 and 1.0", got)
			}
		}
		if got[0.5] != "key:"+id || got[1.0] != "key:"+id {
			t.Errorf("webhook alerts = %v, want 0.5 and 1.0 for key:%s", got, id)
		}
		if b.redis {
			return // the spend lives in Redis; the restart below is about memory
		}
		// A new gateway on the same store knows what was spent.
		g.Close()
		g2, _, _ := tenancyGateway(t, b, cfg, up, dsn, "")
		st, _, out = call(t, "POST", g2.URL+"/v1/chat/completions", secret, tenChat)
		wantError(t, "over-budget key after a restart", st, out, 429, "budget_exceeded", "spender")
	})
}

// TestMessagesEndUser: on /v1/messages the end user is metadata.user_id.
func TestMessagesEndUser(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	g, _, _ := tenancyGateway(t, backend{"sqlite", sqliteDSN, false}, tenancyConfig+"limits: {user: {rpm: 1}}\n", up, "", "")
	body := `{"model":"gpt-4o","max_tokens":64,"metadata":{"user_id":"carol"},"messages":[{"role":"user","content":"hi"}]}`
	if st, _, out := call(t, "POST", g.URL+"/v1/messages", adminKey, body); st != 200 {
		t.Fatalf("first message = %d %s", st, out)
	}
	st, _, out := call(t, "POST", g.URL+"/v1/messages", adminKey, body)
	if st != 429 || !strings.Contains(out, `"type":"rate_limit_error"`) || !strings.Contains(out, "carol") {
		t.Errorf("carol's second message on user rpm 1 = %d %s, want an Anthropic-shaped 429 naming her", st, out)
	}
	if st, _, out := call(t, "POST", g.URL+"/v1/messages", adminKey, strings.Replace(body, "carol", "dave", 1)); st != 200 {
		t.Errorf("dave's first message = %d %s", st, out)
	}
}
