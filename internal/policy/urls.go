// Package policy holds the request policies that sit between the limit and
// route hops: which domains the URLs in tool definitions and images may
// point at. PII redaction lives in the pii subpackage.
package policy

import (
	"bytes"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-json-experiment/json/jsontext"
)

// Domains is an allowlist of host names: exact names, or "*.example.com"
// for every subdomain of example.com (not example.com itself). An empty
// list allows every host.
type Domains []string

// Allows reports whether host is on the list.
func (d Domains) Allows(host string) bool {
	if len(d) == 0 {
		return true
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, p := range d {
		p = strings.ToLower(p)
		if suffix, ok := strings.CutPrefix(p, "*."); ok {
			if strings.HasSuffix(host, "."+suffix) {
				return true
			}
		} else if host == p {
			return true
		}
	}
	return false
}

// URLError is a URL a policy refuses.
type URLError struct {
	Where string // "tools" or "images"
	Path  string // JSON pointer of the value
	Host  string
}

func (e *URLError) Error() string {
	what := "tool definitions"
	if e.Where == "images" {
		what = "images"
	}
	return fmt.Sprintf("%s at %s points at %q, which is not an approved domain for %s; use an approved domain or ask the gateway operator to add it to the policy's %s_domains",
		strings.TrimSuffix(what, "s"), e.Path, e.Host, what, strings.TrimSuffix(e.Where, "s"))
}

// CheckURLs refuses a request body (OpenAI chat or Anthropic messages) whose
// tool definitions ("tools": any URL-valued string in them, such as an MCP
// server_url) or images (image_url.url, an image source's url) point
// outside the allowlists. data: URLs are inline and always allowed. It
// returns nil quickly when both lists are empty or the body names no URL.
func CheckURLs(body []byte, tools, images Domains) error {
	if len(tools) == 0 && len(images) == 0 {
		return nil
	}
	if !bytes.Contains(body, []byte("://")) {
		return nil
	}
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	return walk(dec, "", tools, images)
}

// walk visits every value, knowing which top-level member it is under.
func walk(dec *jsontext.Decoder, top string, tools, images Domains) error {
	for {
		tok, err := dec.ReadToken()
		if err != nil {
			return nil // malformed bodies are rejected elsewhere
		}
		switch tok.Kind() {
		case '"':
			depth := dec.StackDepth()
			kind, n := dec.StackIndex(depth)
			if kind == '{' && n%2 == 1 { // a member name
				if depth == 1 {
					top = tok.String()
				}
				continue
			}
			s := tok.String()
			if !strings.Contains(s, "://") {
				continue
			}
			ptr := string(dec.StackPointer())
			switch {
			case top == "tools":
				// Any URL anywhere in a tool definition counts, even inside
				// a description: a model told to call it would.
				for _, h := range hosts(s) {
					if !tools.Allows(h) {
						return &URLError{Where: "tools", Path: ptr, Host: h}
					}
				}
			case (top == "messages" || top == "system") && isImagePath(ptr):
				u, err := url.Parse(strings.TrimSpace(s))
				if err == nil && u.Host != "" && !images.Allows(u.Hostname()) {
					return &URLError{Where: "images", Path: ptr, Host: u.Hostname()}
				}
			}
		case 0:
			return nil
		}
	}
}

// isImagePath says whether a JSON pointer inside messages is an image's
// URL: OpenAI's .../image_url/url (or image_url as a string) and
// Anthropic's .../source/url.
func isImagePath(ptr string) bool {
	return strings.HasSuffix(ptr, "/image_url/url") || strings.HasSuffix(ptr, "/image_url") ||
		strings.HasSuffix(ptr, "/source/url")
}

// hosts finds the hosts of the http(s) and ws(s) URLs in free text.
func hosts(s string) []string {
	var out []string
	for i := strings.Index(s, "://"); i >= 0; {
		start := i
		for start > 0 && isSchemeChar(s[start-1]) {
			start--
		}
		end := i + 3
		for end < len(s) && !strings.ContainsRune(" \t\n\"'<>`)]}", rune(s[end])) {
			end++
		}
		switch strings.ToLower(s[start:i]) {
		case "http", "https", "ws", "wss":
			if u, err := url.Parse(s[start:end]); err == nil && u.Hostname() != "" {
				out = append(out, u.Hostname())
			}
		}
		next := strings.Index(s[i+3:], "://")
		if next < 0 {
			break
		}
		i += 3 + next
	}
	return out
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}
