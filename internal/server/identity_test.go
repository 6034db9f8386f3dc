package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/golang-jwt/jwt/v5"
	"github.com/switchboard-gw/switchboard/internal/emulator"
	"github.com/switchboard-gw/switchboard/internal/server"
	"github.com/switchboard-gw/switchboard/internal/store"
)

// idSecret is the HMAC secret the JWT gateway verifies tokens with.
const idSecret = "identity-test-hmac-secret-0123456789abcdef"

// idClaims are valid claims for the JWT gateway of TestJWTIdentity.
func idClaims(sub string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub":    sub,
		"team":   "ml",
		"models": []string{"gpt-4o"},
		"iss":    "https://idp.test",
		"aud":    "switchboard",
		"iat":    now.Unix(),
		"exp":    now.Add(time.Hour).Unix(),
	}
}

// signJWT signs claims with method and key, setting kid unless "".
func signJWT(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// usageBy polls GET /admin/v1/usage?group_by=by on a gateway until cond
// holds for the rows (usage records are written after the response), and
// returns them by group.
func usageBy(t *testing.T, client *http.Client, url, by string, cond func(map[string]store.UsageRow) bool) map[string]store.UsageRow {
	t.Helper()
	var rows map[string]store.UsageRow
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, _, out := callWith(t, client, "GET", url+"/admin/v1/usage?group_by="+by, adminKey, "")
		if code != 200 {
			t.Fatalf("GET usage?group_by=%s = %d %s", by, code, out)
		}
		var r struct {
			Data []store.UsageRow `json:"data"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		rows = map[string]store.UsageRow{}
		for _, row := range r.Data {
			rows[row.Group] = row
		}
		if cond(rows) || time.Now().After(deadline) {
			return rows
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// callWith is call through a given client.
func callWith(t *testing.T, client *http.Client, method, url, key, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// successes is how many requests of a usage row succeeded.
func successes(r store.UsageRow) int64 { return r.Requests - r.Errors }

func TestJWTIdentity(t *testing.T) {
	b := backend{"sqlite", sqliteDSN, false}

	t.Run("hmac", func(t *testing.T) {
		up := newUpstream(t, emulator.Options{})
		g, _, _ := tenancyGateway(t, b, tenancyConfig+fmt.Sprintf(`
auth: {jwt: {key: %q, issuer: "https://idp.test", audience: "switchboard", models_claim: "models"}}
teams: [{name: ml, rpm: 100}]
limits: {user: {rpm: 2}}
`, idSecret), up, "", "")
		url := g.URL + "/v1/chat/completions"
		hs := func(c jwt.MapClaims) string { return signJWT(t, jwt.SigningMethodHS256, []byte(idSecret), "", c) }

		good := hs(idClaims("svc-1"))
		if st, _, out := call(t, "POST", url, good, tenChat); st != 200 {
			t.Fatalf("chat with a valid token = %d %s", st, out)
		}
		st, _, out := call(t, "POST", url, good, strings.Replace(tenChat, "gpt-4o", "other", 1))
		wantError(t, "model outside the token's models claim", st, out, 403, "model_not_allowed", `token subject \"svc-1\"`)

		// Refused tokens: each says what is wrong with it.
		st, _, out = call(t, "POST", url, signJWT(t, jwt.SigningMethodHS256, []byte("another-secret-of-sufficient-length-000"), "", idClaims("svc-1")), tenChat)
		wantError(t, "token signed with another secret", st, out, 401, "invalid_api_key", "signature")
		c := idClaims("svc-1")
		c["aud"] = "someone-else"
		st, _, out = call(t, "POST", url, hs(c), tenChat)
		wantError(t, "token for another audience", st, out, 401, "invalid_api_key", "audience")
		c = idClaims("svc-1")
		c["iat"] = time.Now().Add(-3 * time.Hour).Unix()
		c["exp"] = time.Now().Add(-time.Hour).Unix()
		st, _, out = call(t, "POST", url, hs(c), tenChat)
		wantError(t, "expired token", st, out, 401, "invalid_api_key", "expired")
		c = idClaims("svc-1")
		c["iss"] = "https://evil.test"
		st, _, out = call(t, "POST", url, hs(c), tenChat)
		wantError(t, "token from another issuer", st, out, 401, "invalid_api_key", "issuer")
		c = idClaims("svc-1")
		delete(c, "exp")
		st, _, out = call(t, "POST", url, hs(c), tenChat)
		wantError(t, "token without exp", st, out, 401, "invalid_api_key", "no exp")
		c = idClaims("svc-1")
		st, _, out = call(t, "POST", url, signJWT(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "", c), tenChat)
		wantError(t, "unsigned token (alg none)", st, out, 401, "invalid_api_key", "none")

		// The user claim (sub) is the end user: limits.user rpm 2 holds per
		// subject; the 403 above was refused before the limits.
		if st, _, out := call(t, "POST", url, good, tenChat); st != 200 {
			t.Fatalf("second request of svc-1 = %d %s", st, out)
		}
		st, _, out = call(t, "POST", url, good, tenChat)
		wantError(t, "third request of svc-1 on user rpm 2", st, out, 429, "rate_limit_exceeded", `end user \"svc-1\"`)
		// A fresh token of the same subject is the same end user.
		st, _, out = call(t, "POST", url, hs(idClaims("svc-1")), tenChat)
		wantError(t, "another token of svc-1 on user rpm 2", st, out, 429, "rate_limit_exceeded", `end user \"svc-1\"`)
		// The body's user field does not escape it: the token names the user.
		st, _, out = call(t, "POST", url, good, strings.Replace(tenChat, `"messages"`, `"user":"bob","messages"`, 1))
		wantError(t, "svc-1 naming another user in the body", st, out, 429, "rate_limit_exceeded", `end user \"svc-1\"`)
		if st, _, out := call(t, "POST", url, hs(idClaims("svc-2")), tenChat); st != 200 {
			t.Errorf("first request of svc-2 = %d %s, want 200 (limits are per end user)", st, out)
		}

		// Usage: svc-1's 2 and svc-2's 1 successful requests in team ml.
		byTeam := usageBy(t, http.DefaultClient, g.URL, "team", func(r map[string]store.UsageRow) bool { return successes(r["ml"]) >= 3 })
		if successes(byTeam["ml"]) != 3 {
			t.Errorf("usage by team = %+v, want team ml with 3 successful requests", byTeam)
		}
		byUser := usageBy(t, http.DefaultClient, g.URL, "user", func(r map[string]store.UsageRow) bool {
			return successes(r["svc-1"]) >= 2 && r["svc-1"].Errors >= 3 && successes(r["svc-2"]) >= 1
		})
		if successes(byUser["svc-1"]) != 2 || byUser["svc-1"].Errors != 3 || successes(byUser["svc-2"]) != 1 || byUser["bob"].Requests != 0 {
			t.Errorf("usage by user = %+v, want svc-1 with 2 successful requests and 3 refused (429), and no bob, svc-2 with 1", byUser)
		}
		byKey := usageBy(t, http.DefaultClient, g.URL, "key", func(r map[string]store.UsageRow) bool { return successes(r["svc-1"]) >= 2 })
		if successes(byKey["svc-1"]) != 2 {
			t.Errorf("usage by key = %+v, want the token subject svc-1 with 2 successful requests", byKey)
		}
	})

	t.Run("jwks", func(t *testing.T) {
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		b64 := base64.RawURLEncoding.EncodeToString
		jwks, err := json.Marshal(map[string]any{"keys": []map[string]any{{
			"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
			"n": b64(rk.N.Bytes()), "e": b64(big.NewInt(int64(rk.E)).Bytes()),
		}}})
		if err != nil {
			t.Fatal(err)
		}
		idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(jwks)
		}))
		defer idp.Close()

		up := newUpstream(t, emulator.Options{})
		g, _, _ := tenancyGateway(t, b, tenancyConfig+fmt.Sprintf(`
auth: {jwt: {jwks_url: %q, issuer: "https://idp.test", audience: "switchboard", models_claim: "models"}}
teams: [{name: ml, rpm: 100}]
`, idp.URL+"/jwks.json"), up, "", "")
		url := g.URL + "/v1/chat/completions"

		if st, _, out := call(t, "POST", url, signJWT(t, jwt.SigningMethodRS256, rk, "k1", idClaims("svc-rsa")), tenChat); st != 200 {
			t.Fatalf("chat with an RS256 token of kid k1 = %d %s", st, out)
		}
		// Algorithm confusion: HS256 keyed with the RSA public key's bytes.
		der, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
		if err != nil {
			t.Fatal(err)
		}
		pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		for name, secret := range map[string][]byte{"PEM": pubPEM, "DER": der} {
			st, _, out := call(t, "POST", url, signJWT(t, jwt.SigningMethodHS256, secret, "k1", idClaims("svc-rsa")), tenChat)
			wantError(t, "HS256 token keyed with the RSA public key ("+name+")", st, out, 401, "invalid_api_key", "HS256")
		}
		// A key the JWKS does not have.
		other, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		st, _, out := call(t, "POST", url, signJWT(t, jwt.SigningMethodRS256, other, "k1", idClaims("svc-rsa")), tenChat)
		wantError(t, "RS256 token of kid k1 signed by another key", st, out, 401, "invalid_api_key", "signature")

		byUser := usageBy(t, http.DefaultClient, g.URL, "user", func(r map[string]store.UsageRow) bool { return successes(r["svc-rsa"]) >= 1 })
		if successes(byUser["svc-rsa"]) != 1 {
			t.Errorf("usage by user = %+v, want svc-rsa with 1 successful request", byUser)
		}
	})

	// The identity provider down: the gateway's outage, a 503 to retry,
	// not the caller's bad credentials, and its JWKS URL stays private.
	t.Run("jwks down", func(t *testing.T) {
		idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "boom", http.StatusInternalServerError)
		}))
		defer idp.Close()
		up := newUpstream(t, emulator.Options{})
		g, _, _ := tenancyGateway(t, b, tenancyConfig+fmt.Sprintf("auth: {jwt: {jwks_url: %q}}\n", idp.URL+"/jwks.json"), up, "", "")
		rk, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		st, h, out := call(t, "POST", g.URL+"/v1/chat/completions", signJWT(t, jwt.SigningMethodRS256, rk, "k1", idClaims("svc-rsa")), tenChat)
		wantError(t, "token while the JWKS is down", st, out, 503, "jwks_unavailable", "retry")
		if strings.Contains(out, idp.URL) || h.Get("Retry-After") == "" {
			t.Errorf("JWKS outage answer = %s (retry-after %q): want no JWKS URL and a retry-after", out, h.Get("Retry-After"))
		}
	})
}

// pki is a test CA with the certificates it issued.
type pki struct {
	pool   *x509.CertPool
	caPEM  []byte
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
	serial int64
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "switchboard test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{pool: x509.NewCertPool(), caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		caCert: cert, caKey: key, serial: 1}
	p.pool.AddCert(cert)
	return p
}

// issue makes a leaf certificate; it returns it for crypto/tls and as PEM
// (certificate, key).
func (p *pki) issue(t *testing.T, cn string, usage x509.ExtKeyUsage, ips ...net.IP) (tls.Certificate, []byte, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return pair, certPEM, keyPEM
}

func TestMTLSIdentity(t *testing.T) {
	ca := newPKI(t)
	serverCert, serverPEM, serverKeyPEM := ca.issue(t, "switchboard", x509.ExtKeyUsageServerAuth, net.IPv4(127, 0, 0, 1))
	billing, _, _ := ca.issue(t, "svc-billing", x509.ExtKeyUsageClientAuth)
	other, _, _ := ca.issue(t, "svc-other", x509.ExtKeyUsageClientAuth)
	// A certificate of the right name from a CA the gateway does not trust.
	rogueCA := newPKI(t)
	rogue, _, _ := rogueCA.issue(t, "svc-billing", x509.ExtKeyUsageClientAuth)

	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caFile, certFile, keyFile := write("ca.pem", ca.caPEM), write("server.pem", serverPEM), write("server-key.pem", serverKeyPEM)

	up := newUpstream(t, emulator.Options{})
	driver, conn, _ := strings.Cut(sqliteDSN(t), ":")
	cfg := parseConfig(t, tenancyConfig+fmt.Sprintf(`
server: {tls: {client_ca_file: %q, cert_file: %q, key_file: %q}}
auth: {mtls: {principal: cn, teams: {svc-billing: billing}}}
teams: [{name: billing}]
keys: [{name: static, key: "${GATEWAY_KEY}"}]
store: {driver: %s, dsn: %q}
usage: {spool_dir: %q, flush_every: 20ms, replay_every: 100ms}
admin: {key: %q}
`, caFile, certFile, keyFile, driver, conn, t.TempDir(), adminKey), up)
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
	ts := httptest.NewUnstartedServer(srv)
	ts.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: ca.pool,
		Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}
	ts.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake refused below
	ts.StartTLS()
	t.Cleanup(func() {
		ts.Close()
		srv.Close()
	})

	client := func(certs ...tls.Certificate) *http.Client {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.pool, Certificates: certs, MinVersion: tls.VersionTLS12}}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 10 * time.Second}
	}
	asBilling, asOther, anon := client(billing), client(other), client()
	url := ts.URL + "/v1/chat/completions"

	if st, _, out := callWith(t, asBilling, "POST", url, "", tenChat); st != 200 {
		t.Fatalf("chat with the svc-billing certificate and no key = %d %s", st, out)
	}
	if st, _, out := callWith(t, asOther, "POST", url, "", tenChat); st != 200 {
		t.Fatalf("chat with the svc-other certificate and no key = %d %s", st, out)
	}
	// A key that is sent is checked: a certificate does not rescue a bad one,
	// and a good one wins over the certificate.
	st2, _, out := callWith(t, asBilling, "POST", url, "sb-wrong-key-000", tenChat)
	wantError(t, "wrong key with a valid certificate", st2, out, 401, "invalid_api_key", "invalid API key")
	if st, _, out := callWith(t, asBilling, "POST", url, gatewayKey, tenChat); st != 200 {
		t.Errorf("static key with the svc-billing certificate = %d %s", st, out)
	}
	// Neither a certificate nor a key.
	st2, _, out = callWith(t, anon, "POST", url, "", tenChat)
	wantError(t, "no certificate and no key", st2, out, 401, "invalid_api_key", "missing API key")
	// A certificate of the right name from an untrusted CA names nobody: the
	// handshake fails, or (the client finding no certificate the server's CA
	// list accepts) it is sent without one and refused as keyless.
	req, _ := http.NewRequest("POST", url, strings.NewReader(tenChat))
	if resp, err := client(rogue).Do(req); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantError(t, "certificate from an untrusted CA", resp.StatusCode, string(body), 401, "invalid_api_key", "missing API key")
	}

	byTeam := usageBy(t, anon, ts.URL, "team", func(r map[string]store.UsageRow) bool {
		return r["billing"].Requests >= 1 && r[""].Requests >= 2
	})
	if byTeam["billing"].Requests != 1 || byTeam["billing"].Errors != 0 {
		t.Errorf("usage by team = %+v, want billing with 1 request (svc-billing's certificate)", byTeam)
	}
	byKey := usageBy(t, anon, ts.URL, "key", func(r map[string]store.UsageRow) bool {
		return r["svc-billing"].Requests >= 1 && r["svc-other"].Requests >= 1 && r["static"].Requests >= 1
	})
	for _, k := range []string{"svc-billing", "svc-other", "static"} {
		if byKey[k].Requests != 1 || byKey[k].Errors != 0 {
			t.Errorf("usage by key = %+v, want %s with 1 successful request", byKey, k)
		}
	}
	if r, ok := byTeam[""]; !ok || successes(r) != 2 {
		t.Errorf("usage by team = %+v, want 2 requests with no team (svc-other and the static key)", byTeam)
	}
}
