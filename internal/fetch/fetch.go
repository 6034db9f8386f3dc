// Package fetch downloads the images a request refers to by URL, for
// providers that only take inline images (Gemini, Bedrock). The gateway
// fetches only from hosts on an allowlist, never from private, loopback or
// link-local addresses unless the configuration says so, with a size cap and
// a timeout: a request must not be able to make the gateway reach into the
// network it sits in.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Config is what may be fetched.
type Config struct {
	// Hosts are the allowed host names: exact ("images.example.com") or a
	// subdomain wildcard ("*.example.com"). Empty: nothing is fetched.
	Hosts []string
	// AllowPrivate lets allowed hosts resolve to private, loopback or
	// link-local addresses (for images served inside the network).
	AllowPrivate bool
	// MaxBytes caps an image; default 5 MiB.
	MaxBytes int64
	// Timeout bounds one fetch; default 10s.
	Timeout time.Duration
}

// Fetcher downloads images under a Config.
type Fetcher struct {
	cfg    Config
	client *http.Client
}

// ErrNotAllowed is returned for a URL the configuration does not allow.
var ErrNotAllowed = errors.New("fetch: not allowed")

// New makes a Fetcher.
func New(cfg Config) *Fetcher {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 5 << 20
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	f := &Fetcher{cfg: cfg}
	d := &net.Dialer{Timeout: cfg.Timeout, Control: f.checkAddress}
	f.client = &http.Client{
		Transport: &http.Transport{DialContext: d.DialContext, TLSHandshakeTimeout: cfg.Timeout, MaxIdleConnsPerHost: 4},
		Timeout:   cfg.Timeout,
		// A redirect could lead anywhere; the allowlist is about the URL sent.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return f
}

// Enabled reports whether any host is allowed.
func (f *Fetcher) Enabled() bool { return len(f.cfg.Hosts) > 0 }

// checkAddress runs on the resolved address of every connection, so a
// host name that resolves to a private address is refused too (and a DNS
// answer cannot be swapped between the check and the connection).
func (f *Fetcher) checkAddress(_, address string, _ syscall.RawConn) error {
	if f.cfg.AllowPrivate {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip := net.ParseIP(host)
	if ip == nil || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified() || ip.IsMulticast() {
		return fmt.Errorf("%w: %s is a private, loopback or link-local address", ErrNotAllowed, host)
	}
	return nil
}

func (f *Fetcher) hostAllowed(host string) bool {
	host = strings.ToLower(host)
	for _, h := range f.cfg.Hosts {
		h = strings.ToLower(h)
		if h == host {
			return true
		}
		if suffix, ok := strings.CutPrefix(h, "*"); ok && strings.HasSuffix(host, suffix) {
			return true
		}
	}
	return false
}

// Image downloads the image at rawURL and returns its media type and bytes.
// Errors wrapping ErrNotAllowed are the caller's (a 400); others mean the
// image could not be fetched.
func (f *Fetcher) Image(ctx context.Context, rawURL string) (string, []byte, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", nil, fmt.Errorf("%w: %q is not an http(s) URL", ErrNotAllowed, rawURL)
	}
	if !f.hostAllowed(u.Hostname()) {
		return "", nil, fmt.Errorf("%w: host %q is not on the image fetch allowlist", ErrNotAllowed, u.Hostname())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", nil, err
	}
	req.Header.Set("Accept", "image/*")
	resp, err := f.client.Do(req)
	if err != nil {
		if errors.Is(err, ErrNotAllowed) {
			return "", nil, err
		}
		return "", nil, fmt.Errorf("fetch %s: %w", u.Redacted(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", nil, fmt.Errorf("fetch %s: HTTP %d", u.Redacted(), resp.StatusCode)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
	default:
		return "", nil, fmt.Errorf("fetch %s: content type %q is not an image the providers take (png, jpeg, gif, webp)", u.Redacted(), mt)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, f.cfg.MaxBytes+1))
	if err != nil {
		return "", nil, fmt.Errorf("fetch %s: %w", u.Redacted(), err)
	}
	if int64(len(b)) > f.cfg.MaxBytes {
		return "", nil, fmt.Errorf("%w: the image at %s is over %d bytes", ErrNotAllowed, u.Redacted(), f.cfg.MaxBytes)
	}
	return mt, b, nil
}
