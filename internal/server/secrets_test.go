package server_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/emulator"
)

// TestSecretsNeverLeak runs requests through every kind of outcome and greps
// each response (headers and body) and the captured log for the provider keys.
func TestSecretsNeverLeak(t *testing.T) {
	// A badly behaved upstream that reflects the key it was sent in its error
	// message, in its headers and in an HTML page.
	reflect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Authorization") + r.Header.Get("Api-Key")
		w.Header().Set("X-Echo-Key", key)
		if strings.Contains(r.URL.Path, "embeddings") {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(500)
			w.Write([]byte("<html>bad key " + key + "</html>"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		w.Write([]byte(`{"error":{"message":"Incorrect API key provided: ` + key + `","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`))
	}))
	t.Cleanup(reflect.Close)

	up := newUpstream(t, emulator.Options{})
	cfg := basicConfig + `
  - name: leaky
    targets: [{provider: reflect, model: m}]
`
	cfg = strings.Replace(cfg, "providers:\n", "providers:\n  - name: reflect\n    type: openai\n    base_url: \""+reflect.URL+"\"\n    api_keys: [\"${UPSTREAM_KEY}\"]\n", 1)
	gw := newGateway(t, cfg, up)

	var seen strings.Builder
	record := func(res result) {
		for k, v := range res.header {
			seen.WriteString(k + ": " + strings.Join(v, ",") + "\n")
		}
		seen.WriteString(res.body + "\n")
	}
	record(do(t, "POST", gw.URL+"/v1/chat/completions", strings.Replace(chatBody, "gpt-4o", "leaky", 1)))
	record(do(t, "POST", gw.URL+"/v1/embeddings", `{"model":"leaky","input":"x"}`))
	record(do(t, "POST", gw.URL+"/v1/chat/completions", chatBody))
	record(do(t, "POST", gw.URL+"/v1/chat/completions", strings.Replace(chatBody, "gpt-4o", "azure-4o", 1)))
	record(do(t, "POST", gw.URL+"/v1/chat/completions", strings.Replace(streamBody, "gpt-4o", "azure-4o", 1)))
	for _, spec := range []string{"status=401", "status=500", "body=html", "reset", "cut_after=2", "error_after=1"} {
		if err := up.SetFaults(spec); err != nil {
			t.Fatal(err)
		}
		record(do(t, "POST", gw.URL+"/v1/chat/completions", chatBody))
		record(do(t, "POST", gw.URL+"/v1/chat/completions", streamBody))
	}
	all := seen.String() + gw.log.String()
	for _, secret := range []string{upstreamKey, azureKey} {
		if strings.Contains(all, secret) {
			t.Errorf("secret %q leaked:\n%s", secret, all)
		}
	}
	if !strings.Contains(all, "[redacted]") {
		t.Errorf("the reflected key was not replaced by [redacted]; responses:\n%s", seen.String())
	}
}
