package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/switchboard-gw/switchboard/internal/emulator"
	"github.com/switchboard-gw/switchboard/internal/privacy"
	"github.com/switchboard-gw/switchboard/internal/store"
)

const privacyKey = "test-privacy-hash-key-0123456789"

// listRequests reads the request log through the admin API.
func listRequests(t *testing.T, g *gateway, q string) ([]store.UsageRecord, string) {
	t.Helper()
	st, _, out := call(t, "GET", g.URL+"/admin/v1/requests"+q, adminKey, "")
	if st != 200 {
		t.Fatalf("GET /admin/v1/requests%s = %d %s\n%s", q, st, out, g.log.String())
	}
	var r struct {
		Data []store.UsageRecord `json:"data"`
		Next string              `json:"next_before"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	return r.Data, r.Next
}

// TestPromptPrivacy: hash mode keeps keyed hashes and no text anywhere;
// sample mode keeps text only for consenting keys; the purge removes text
// past retention and nothing else.
func TestPromptPrivacy(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	marker := "my-secret-prompt-marker-4242"
	body := strings.Replace(tenChat, "hello there", marker, 1)
	g, st, _ := tenancyGateway(t, backend{"sqlite", sqliteDSN, false}, tenancyConfig+`
privacy: {mode: hash, hash_key: "`+privacyKey+`", sample_rate: 1, retention: 2s, purge_every: 200ms}
keys:
  - {name: hashed, key: "${GATEWAY_KEY}"}
`, up, "", "")
	url := g.URL + "/v1/chat/completions"
	_, consenting := createKey(t, g, `{"name":"consenting","privacy":"sample","log_prompts":true}`)
	_, unconsenting := createKey(t, g, `{"name":"unconsenting","privacy":"sample"}`)
	_, off := createKey(t, g, `{"name":"off","privacy":"off"}`)
	if code, _, out := call(t, "POST", g.URL+"/admin/v1/keys", adminKey, `{"name":"x","privacy":"everything"}`); code != 400 || !strings.Contains(out, "privacy") {
		t.Errorf("bad privacy mode = %d %s", code, out)
	}

	for _, k := range []string{gatewayKey, gatewayKey, consenting, unconsenting, off} {
		if code, _, out := call(t, "POST", url, k, body); code != 200 {
			t.Fatalf("chat = %d %s", code, out)
		}
	}
	recs, _ := listRequests(t, g, "?limit=10")
	byKey := map[string][]store.UsageRecord{}
	for _, r := range recs {
		byKey[r.KeyName] = append(byKey[r.KeyName], r)
		if r.PromptText != "" || r.ResponseText != "" {
			t.Errorf("the request log shows text for %s", r.RequestID)
		}
	}
	wantPrompt := privacy.Sum([]byte(privacyKey), privacy.Text([]byte(body)))
	h := byKey["hashed"]
	if len(h) != 2 || h[0].PromptHash != wantPrompt || h[1].PromptHash != wantPrompt {
		t.Fatalf("hash mode records = %+v, want two with prompt hash %s", h, wantPrompt)
	}
	if h[0].ResponseHash == "" || h[0].ResponseHash != h[1].ResponseHash {
		t.Errorf("response hashes %q %q: want the same answer to hash alike", h[0].ResponseHash, h[1].ResponseHash)
	}
	if r := byKey["off"]; len(r) != 1 || r[0].PromptHash != "" || r[0].ResponseHash != "" {
		t.Errorf("privacy off record = %+v, want no hashes", r)
	}
	if strings.Contains(g.log.String(), marker) || strings.Contains(g.log.String(), "sk-sb-") {
		t.Errorf("the log holds a prompt or a secret:\n%s", g.log.String())
	}

	ctx := context.Background()
	text, err := st.RequestText(ctx, byKey["consenting"][0].RequestID)
	if err != nil || !strings.Contains(text.Prompt, marker) || text.Response == "" {
		t.Errorf("consenting key's text = %+v, %v; want the prompt and the answer", text, err)
	}
	if code, _, out := call(t, "GET", g.URL+"/admin/v1/requests/"+byKey["consenting"][0].RequestID+"/text", adminKey, ""); code != 200 || !strings.Contains(out, marker) {
		t.Errorf("GET text = %d %s", code, out)
	}
	for _, name := range []string{"unconsenting", "hashed", "off"} {
		if _, err := st.RequestText(ctx, byKey[name][0].RequestID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s key: text kept (%v), want none", name, err)
		}
	}

	// Past retention (2s, purged every 200ms) the text goes, the records stay.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := st.RequestText(ctx, byKey["consenting"][0].RequestID)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("text still there after retention: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if recs, _ := listRequests(t, g, ""); len(recs) != 5 {
		t.Errorf("after the purge the request log has %d records, want all 5", len(recs))
	}
}

// TestRequestLogFilters pages and filters GET /admin/v1/requests.
func TestRequestLogFilters(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		up := newUpstream(t, emulator.Options{})
		g, _, _ := tenancyGateway(t, b, tenancyConfig+"keys: [{name: static, key: \"${GATEWAY_KEY}\", team: ops}]\nteams: [{name: ops}]\n", up, "", "")
		url := g.URL + "/v1/chat/completions"
		_, v := createKey(t, g, `{"name":"virt"}`)
		for range 3 {
			call(t, "POST", url, v, tenChat)
		}
		call(t, "POST", url, gatewayKey, tenChat)
		call(t, "POST", url, gatewayKey, strings.Replace(tenChat, "gpt-4o", "nope", 1)) // 404
		up.SetFaults("status=500;times=3")
		call(t, "POST", url, gatewayKey, tenChat) // 500 after retries
		for _, tc := range []struct {
			q    string
			want int
		}{
			{"", 6},
			{"?key=virt", 3},
			{"?team=ops", 3},
			{"?status=200", 4},
			{"?status=4xx", 1},
			{"?status=5xx", 1},
			{"?model=nope", 1},
			{"?from=" + time.Now().Add(time.Hour).UTC().Format(time.RFC3339), 0},
		} {
			if recs, _ := listRequests(t, g, tc.q); len(recs) != tc.want {
				t.Errorf("requests%s: %d records, want %d", tc.q, len(recs), tc.want)
			}
		}
		// Two pages of 4 then 2 cover every record once, newest first.
		page1, next := listRequests(t, g, "?limit=4")
		page2, _ := listRequests(t, g, "?limit=4&before="+next)
		seen := map[string]bool{}
		for i, r := range append(page1, page2...) {
			if seen[r.RequestID] {
				t.Errorf("record %s twice", r.RequestID)
			}
			seen[r.RequestID] = true
			if i > 0 && r.Time.After(append(page1, page2...)[i-1].Time) {
				t.Errorf("record %d is newer than the one before", i)
			}
		}
		if len(page1) != 4 || len(seen) != 6 {
			t.Errorf("pages of %d and %d records, %d distinct; want 4+2 covering all 6", len(page1), len(page2), len(seen))
		}
		if code, _, out := call(t, "GET", g.URL+"/admin/v1/requests?status=7xx", adminKey, ""); code != 400 || !strings.Contains(out, "status") {
			t.Errorf("bad status filter = %d %s", code, out)
		}
		code, _, out := call(t, "GET", g.URL+"/admin/v1/usage/daily?by=model", adminKey, "")
		if code != 200 || !strings.Contains(out, `"group":"gpt-4o"`) || !strings.Contains(out, time.Now().UTC().Format(time.DateOnly)) {
			t.Errorf("daily usage = %d %s", code, out)
		}
	})
}
