package server_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/emulator"
)

// TestImageURLsInlined: for providers that only take inline images, the
// gateway fetches image URLs itself, only from allowlisted hosts and never
// from private addresses unless allowed, and sends the bytes inline.
func TestImageURLsInlined(t *testing.T) {
	png, _ := base64.StdEncoding.DecodeString(tinyPNG)
	img := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		w.Write(png)
	}))
	t.Cleanup(img.Close)
	body := `{"model":"gemini","messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},{"type":"image_url","image_url":{"url":"` + img.URL + `/cat.png"}}]}]}`
	for _, tc := range []struct {
		name, images string
		status       int
		inBody       string
	}{
		{"fetching off", "", 400, "fetch_hosts"},
		{"host not allowed", "images: {fetch_hosts: [images.example.com]}\n", 400, "allowlist"},
		{"private address", "images: {fetch_hosts: [127.0.0.1]}\n", 400, "loopback"},
		{"allowed", "images: {fetch_hosts: [127.0.0.1], allow_private: true}\n", 200, "capital"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, emulator.Options{})
			gw := newGateway(t, tc.images+allProvidersConfig, up)
			res := do(t, "POST", gw.URL+"/v1/chat/completions", body)
			if res.status != tc.status || !strings.Contains(res.body, tc.inBody) {
				t.Fatalf("status %d body %s; want %d mentioning %q", res.status, res.body, tc.status, tc.inBody)
			}
			if tc.status == 400 && !strings.Contains(res.body, `"param":"messages[0].content[1].image_url.url"`) {
				t.Errorf("the 400 does not name the image: %s", res.body)
			}
			if tc.status == 200 {
				rec := up.next(t)
				if !strings.Contains(string(rec.Body), `"inlineData"`) || !strings.Contains(string(rec.Body), tinyPNG) {
					t.Errorf("the image was not sent inline: %s", rec.Body)
				}
			}
		})
	}
}
