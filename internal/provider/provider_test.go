package provider

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/h1"
)

// TestHTTPClientChoice: plaintext base URLs get the gateway's own HTTP/1.1
// client unless http_client says net/http; https keeps net/http (TLS,
// HTTP/2). Each sends the same request.
func TestHTTPClientChoice(t *testing.T) {
	type seen struct{ auth, body, ctype string }
	seenc := make(chan seen, 1)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seenc <- seen{r.Header.Get("Authorization"), string(b), r.Header.Get("Content-Type")}
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(ts.Close)
	cases := []struct {
		name, base, client string
		fast               bool
	}{
		{"plaintext", ts.URL + "/v1", "", true},
		{"plaintext auto", ts.URL + "/v1", config.HTTPClientAuto, true},
		{"plaintext net/http", ts.URL + "/v1", config.HTTPClientNetHTTP, false},
		{"tls", "https://api.openai.com/v1", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := Build([]config.Provider{{Name: "p", Type: "openai", BaseURL: tc.base, APIKeys: []string{"sk-1"}, HTTPClient: tc.client}}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := ps["p"]
			defer p.closeIdle()
			if _, fast := p.rt.(*h1.Transport); fast != tc.fast {
				t.Fatalf("h1 client = %v, want %v (rt %T)", fast, tc.fast, p.rt)
			}
			if tc.base != ts.URL+"/v1" {
				return
			}
			req, _, err := p.NewRequest(t.Context(), OpChat, "m", false, []byte(`{"model":"m"}`))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := p.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := <-seenc; got.auth != "Bearer sk-1" || got.body != `{"model":"m"}` || got.ctype != "application/json" {
				t.Fatalf("upstream saw %+v", got)
			}
		})
	}
}
