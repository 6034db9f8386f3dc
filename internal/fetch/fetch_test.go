package fetch

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var png, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==")

func imageServer(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(png)
		case "/page":
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html>"))
		case "/big.png":
			w.Header().Set("Content-Type", "image/png")
			w.Write(make([]byte, 2048))
		case "/redirect":
			http.Redirect(w, r, "/a.png", http.StatusFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestImage(t *testing.T) {
	srv := imageServer(t)
	ctx := context.Background()
	open := New(Config{Hosts: []string{"127.0.0.1"}, AllowPrivate: true, MaxBytes: 1024})
	mt, b, err := open.Image(ctx, srv.URL+"/a.png")
	if err != nil || mt != "image/png" || string(b) != string(png) {
		t.Fatalf("Image = %q, %d bytes, %v; want the png", mt, len(b), err)
	}
	for _, tc := range []struct {
		name    string
		f       *Fetcher
		url     string
		refused bool // ErrNotAllowed rather than a fetch failure
		inErr   string
	}{
		{"host not allowed", New(Config{Hosts: []string{"images.example.com"}}), srv.URL + "/a.png", true, "allowlist"},
		{"wildcard does not match the bare IP", New(Config{Hosts: []string{"*.example.com"}}), srv.URL + "/a.png", true, "allowlist"},
		{"private address refused", New(Config{Hosts: []string{"127.0.0.1"}}), srv.URL + "/a.png", true, "loopback"},
		{"not an image", open, srv.URL + "/page", false, "text/html"},
		{"too big", open, srv.URL + "/big.png", true, "over 1024 bytes"},
		{"redirect not followed", open, srv.URL + "/redirect", false, "HTTP 302"},
		{"not http", open, "file:///etc/passwd", true, "not an http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := tc.f.Image(ctx, tc.url)
			if err == nil || !strings.Contains(err.Error(), tc.inErr) || errors.Is(err, ErrNotAllowed) != tc.refused {
				t.Errorf("Image(%s) = %v; want an error mentioning %q (refused: %v)", tc.url, err, tc.inErr, tc.refused)
			}
		})
	}
	if !New(Config{Hosts: []string{"*.example.com"}}).hostAllowed("cdn.example.com") {
		t.Error("*.example.com does not allow cdn.example.com")
	}
	if New(Config{}).Enabled() {
		t.Error("a fetcher with no hosts is enabled")
	}
}
