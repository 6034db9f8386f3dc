package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"
)

// newCert makes a real self-signed certificate from tmpl, so the test goes
// through the same parsing the TLS stack does.
func newCert(t *testing.T, tmpl x509.Certificate) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(0xabc)
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, &tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestPrincipal(t *testing.T) {
	full := newCert(t, x509.Certificate{
		Subject:        pkix.Name{CommonName: "svc-a", Organization: []string{"Acme"}},
		DNSNames:       []string{"a.svc.internal", "b.svc.internal"},
		EmailAddresses: []string{"ops@example.com"},
		URIs:           []*url.URL{{Scheme: "spiffe", Host: "example.org", Path: "/ns/prod/sa/a"}},
	})
	empty := newCert(t, x509.Certificate{Subject: pkix.Name{Organization: []string{"Acme"}}})
	tests := []struct {
		name    string
		cert    *x509.Certificate
		field   string
		want    string
		wantErr string
	}{
		{"default is cn", full, "", "svc-a", ""},
		{"cn", full, "cn", "svc-a", ""},
		{"dns first", full, "dns", "a.svc.internal", ""},
		{"email", full, "email", "ops@example.com", ""},
		{"uri", full, "uri", "spiffe://example.org/ns/prod/sa/a", ""},
		{"no cn", empty, "", "", "has no subject common name (cn)"},
		{"no dns", empty, "dns", "", "has no DNS SAN (dns)"},
		{"no email", empty, "email", "", "has no email SAN (email)"},
		{"no uri", empty, "uri", "", "has no URI SAN (uri)"},
		{"unknown field", full, "serial", "", `unknown certificate principal field "serial"`},
		{"nil cert", nil, "cn", "", "no client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Principal(tt.cert, tt.field)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("Principal = %q, want %q", got, tt.want)
			}
		})
	}
}
