package auth

import (
	"crypto/x509"
	"errors"
	"fmt"
)

// Principal names the client of a verified certificate by field: "cn"
// (subject common name, the default when ""), "dns", "email", "uri" (first SAN
// of that kind). It returns an error naming the field when the certificate
// leaves it empty. cert must already have been verified by the TLS stack.
func Principal(cert *x509.Certificate, field string) (string, error) {
	if cert == nil {
		return "", errors.New("auth: no client certificate")
	}
	var name string
	switch field {
	case "", "cn":
		field = "cn"
		name = cert.Subject.CommonName
	case "dns":
		if len(cert.DNSNames) > 0 {
			name = cert.DNSNames[0]
		}
	case "email":
		if len(cert.EmailAddresses) > 0 {
			name = cert.EmailAddresses[0]
		}
	case "uri":
		if len(cert.URIs) > 0 && cert.URIs[0] != nil {
			name = cert.URIs[0].String()
		}
	default:
		return "", fmt.Errorf("auth: unknown certificate principal field %q (want cn, dns, email or uri)", field)
	}
	if name == "" {
		return "", fmt.Errorf("auth: client certificate %s has no %s to use as principal", describeCert(cert), fieldLabel(field))
	}
	return name, nil
}

func fieldLabel(field string) string {
	switch field {
	case "cn":
		return "subject common name (cn)"
	case "dns":
		return "DNS SAN (dns)"
	case "email":
		return "email SAN (email)"
	default:
		return "URI SAN (uri)"
	}
}

// describeCert identifies a certificate in errors without the principal we
// failed to find; the serial number is what an operator can look up.
func describeCert(cert *x509.Certificate) string {
	if cert.SerialNumber == nil {
		return fmt.Sprintf("%q", cert.Subject.String())
	}
	return fmt.Sprintf("%q (serial %s)", cert.Subject.String(), cert.SerialNumber.Text(16))
}
