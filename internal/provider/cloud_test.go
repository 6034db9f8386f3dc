package provider

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/switchboard-gw/switchboard/internal/config"
)

// TestVertexServiceAccount: a vertex provider with credentials_file signs a
// JWT with the service account key, exchanges it at the key's token_uri, and
// sends the access token; the token is reused until it expires.
func TestVertexServiceAccount(t *testing.T) {
	var exchanges atomic.Int64
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		if r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || r.Form.Get("assertion") == "" {
			http.Error(w, "bad grant", 400)
			return
		}
		exchanges.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"access_token":"ya29.test-token","expires_in":3600,"token_type":"Bearer"}`))
	}))
	t.Cleanup(tokenSrv.Close)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: must(x509.MarshalPKCS8PrivateKey(key))})
	sa, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p1", "private_key_id": "k1", "private_key": string(pemKey),
		"client_email": "gw@p1.iam.gserviceaccount.com", "client_id": "1", "token_uri": tokenSrv.URL,
	})
	file := filepath.Join(t.TempDir(), "sa.json")
	if err := os.WriteFile(file, sa, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Provider{Name: "vtx", Type: "vertex", BaseURL: "https://us-central1-aiplatform.googleapis.com", Project: "p1", Region: "us-central1", CredentialsFile: file}
	ps, err := Build([]config.Provider{cfg}, nil, nil)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	p := ps["vtx"]
	for range 3 {
		req, _, err := p.NewRequest(context.Background(), OpChat, "gemini-2.5-pro", true, []byte(`{}`))
		if err != nil {
			t.Fatalf("NewRequest: %v", err)
		}
		if got := req.Header.Get("Authorization"); got != "Bearer ya29.test-token" {
			t.Errorf("Authorization = %q, want the exchanged token", got)
		}
		if want := "/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-pro:streamGenerateContent"; req.URL.Path != want || !strings.Contains(req.URL.RawQuery, "alt=sse") {
			t.Errorf("URL = %s, want %s?alt=sse", req.URL, want)
		}
	}
	if n := exchanges.Load(); n != 1 {
		t.Errorf("token exchanged %d times for 3 requests, want 1 (reused until expiry)", n)
	}

	cfg.CredentialsFile = filepath.Join(t.TempDir(), "missing.json")
	if _, err := Build([]config.Provider{cfg}, nil, nil); err == nil || !strings.Contains(err.Error(), "credentials_file") {
		t.Errorf("Build with a missing credentials file: %v, want an error naming credentials_file", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
