package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"reflect"
	"testing"
)

// FuzzParseHead checks the server's request-head parser against net/http's:
// every head it accepts, net/http's ReadRequest accepts too, with the same
// method, target, protocol, host, headers and body framing. The parser may
// refuse more (obsolete folding, Transfer-Encoding with Content-Length,
// transfer codings other than chunked) but never accept what net/http
// refuses or read it differently.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\nContent-Length: 12\r\nAuthorization: Bearer sk-x\r\n\r\n",
		"GET /a%20b?x=1&y=%2F HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET http://example.com/p?q HTTP/1.1\r\nHost: other\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\nHost: h\n\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX:  padded \t\r\n\r\n",
		"GET //x HTTP/1.1\r\nHost: h\r\n\r\n",
		"PUT /p HTTP/1.1\r\nHost: [::1]:80\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	s := &Server{}
	f.Fuzz(func(t *testing.T, head []byte) {
		end := headEnd(head, 0)
		if end < 0 {
			return
		}
		head = head[:end]
		c := &sconn{s: s, remote: "192.0.2.1:1234"}
		got, err := c.parseHead(head)
		if err != nil {
			return
		}
		want, werr := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if werr != nil {
			t.Fatalf("parseHead accepted %q; net/http refuses it: %v", head, werr)
		}
		if got.Method != want.Method || got.RequestURI != want.RequestURI || got.URL.String() != want.URL.String() ||
			got.URL.Path != want.URL.Path || got.URL.RawPath != want.URL.RawPath || got.URL.RawQuery != want.URL.RawQuery ||
			got.Proto != want.Proto || got.ProtoMinor != want.ProtoMinor || got.Host != want.Host {
			t.Fatalf("%q:\n got %s %s (%s) %s host %q\nwant %s %s (%s) %s host %q", head,
				got.Method, got.URL, got.RequestURI, got.Proto, got.Host, want.Method, want.URL, want.RequestURI, want.Proto, want.Host)
		}
		delete(want.Header, "Host")
		if len(got.Header) != 0 || len(want.Header) != 0 {
			if !reflect.DeepEqual(got.Header, want.Header) {
				t.Fatalf("%q: header\n got %q\nwant %q", head, got.Header, want.Header)
			}
		}
		if got.ContentLength != want.ContentLength || !reflect.DeepEqual(got.TransferEncoding, want.TransferEncoding) || got.Close != want.Close {
			t.Fatalf("%q: framing got length %d te %q close %v; want %d %q %v", head,
				got.ContentLength, got.TransferEncoding, got.Close, want.ContentLength, want.TransferEncoding, want.Close)
		}
	})
}
