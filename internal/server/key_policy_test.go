package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-gw/switchboard/internal/emulator"
	"github.com/switchboard-gw/switchboard/internal/testenv"
)

const keyPolicyConfig = tenancyConfig + `
policies:
  - name: strict
    pii: {rules: [{name: email}]}
cache: {enabled: true}
`

// TestVirtualKeyPolicy: a policy and the response cache opt-out chosen
// through the admin API, for a virtual key or for a stored team, apply to
// the key's requests.
func TestVirtualKeyPolicy(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	g, _, _ := tenancyGateway(t, backend{"sqlite", sqliteDSN, false}, keyPolicyConfig, up, "", "")
	url := g.URL + "/v1/chat/completions"
	// Every prompt is unique, so that no answer comes from the cache.
	chat := func(who string) string {
		return strings.Replace(tenChat, "hello there", who+" "+testenv.Unique()+" writes from bob@corp.example", 1)
	}
	sent := func(key, who string) string {
		t.Helper()
		if st, _, out := call(t, "POST", url, key, chat(who)); st != 200 {
			t.Fatalf("chat as %s = %d %s", who, st, out)
		}
		return string(lastUpstream(t, up).Body)
	}
	redacted := func(body string) bool {
		return !strings.Contains(body, "bob@corp.example") && strings.Contains(body, "[REDACTED_EMAIL]")
	}

	_, strict := createKey(t, g, `{"name":"strict","policy":"strict"}`)
	_, plain := createKey(t, g, `{"name":"plain"}`)
	if body := sent(strict, "strict"); !redacted(body) {
		t.Errorf("upstream got %s from a key with policy strict; want the email redacted", body)
	}
	if body := sent(plain, "plain"); redacted(body) || !strings.Contains(body, "bob@corp.example") {
		t.Errorf("upstream got %s from a key without a policy; want the email unchanged", body)
	}

	// A stored team's policy applies to its keys.
	st, _, out := call(t, "POST", g.URL+"/admin/v1/teams", adminKey, `{"name":"legal","policy":"strict"}`)
	if st != http.StatusCreated || !strings.Contains(out, `"policy":"strict"`) {
		t.Fatalf("POST /admin/v1/teams with policy strict = %d %s", st, out)
	}
	_, member := createKey(t, g, `{"name":"member","team":"legal"}`)
	if body := sent(member, "member"); !redacted(body) {
		t.Errorf("upstream got %s from a key of team legal (policy strict); want the email redacted", body)
	}

	// The settings are listed with the key.
	_, _, list := call(t, "GET", g.URL+"/admin/v1/keys", adminKey, "")
	if !strings.Contains(list, `"policy":"strict"`) {
		t.Errorf("key list = %s; want the policy shown", list)
	}
}

func TestVirtualKeyNoCache(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	g, _, _ := tenancyGateway(t, backend{"sqlite", sqliteDSN, false}, keyPolicyConfig, up, "", "")
	body := strings.Replace(tenChat, "hello there", "cache me "+testenv.Unique(), 1)

	// A key without the opt-out is served from the cache the second time.
	_, cached := createKey(t, g, `{"name":"cached"}`)
	if st, c, out := cachedCall(t, g, cached, body); st != 200 || c != "miss" || upstreamCalls(up) != 1 {
		t.Fatalf("first call = %d cache %q %s; want 200, a miss, one upstream call", st, c, out)
	}
	time.Sleep(50 * time.Millisecond) // the entry is written off the request's path
	if st, c, _ := cachedCall(t, g, cached, body); st != 200 || c != "hit" || upstreamCalls(up) != 0 {
		t.Errorf("repeat = %d cache %q; want a hit and no upstream call", st, c)
	}

	// A no_cache key never uses it, even for an answer that is stored.
	_, private := createKey(t, g, `{"name":"private","no_cache":true}`)
	for i := range 2 {
		if st, c, out := cachedCall(t, g, private, body); st != 200 || c != "" {
			t.Errorf("no_cache key, call %d = %d cache %q %s; want 200 without a cache header", i+1, st, c, out)
		}
	}
	if n := upstreamCalls(up); n != 2 {
		t.Errorf("a no_cache key's two calls reached upstream %d times, want 2", n)
	}
	_, _, list := call(t, "GET", g.URL+"/admin/v1/keys", adminKey, "")
	if !strings.Contains(list, `"no_cache":true`) {
		t.Errorf("key list = %s; want no_cache shown", list)
	}
}

func TestAdminUnknownPolicy(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"configured", keyPolicyConfig, "strict"},
		{"none configured", tenancyConfig, "no named policies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g, _, _ := tenancyGateway(t, backend{"sqlite", sqliteDSN, false}, tc.yaml, up, "", "")
			for _, path := range []string{"/admin/v1/keys", "/admin/v1/teams"} {
				st, _, out := call(t, "POST", g.URL+path, adminKey, `{"name":"x","policy":"lax"}`)
				if st != http.StatusBadRequest || !strings.Contains(out, `"param":"policy"`) ||
					!strings.Contains(out, `\"lax\"`) || !strings.Contains(out, tc.want) {
					t.Errorf("POST %s with an unknown policy = %d %s; want 400 on param policy naming \"lax\" and mentioning %q", path, st, out, tc.want)
				}
			}
			// Nothing was created.
			for _, path := range []string{"/admin/v1/keys", "/admin/v1/teams"} {
				if _, _, out := call(t, "GET", g.URL+path, adminKey, ""); strings.Contains(out, `"name":"x"`) {
					t.Errorf("GET %s = %s; the refused request created something", path, out)
				}
			}
		})
	}
}
