package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ---- helpers ----------------------------------------------------------

// running is a Server serving on a loopback listener.
type running struct {
	addr string
	done chan struct{} // closed when Serve has returned
	err  error         // what Serve returned, once done is closed
}

// startServer serves srv on a new loopback listener until the test ends.
func startServer(t *testing.T, srv *Server) *running {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveListener(t, srv, ln)
}

// serveListener serves srv on ln until the test ends.
func serveListener(t *testing.T, srv *Server, ln net.Listener) *running {
	t.Helper()
	r := &running{addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		r.err = srv.Serve(ln)
		close(r.done)
	}()
	t.Cleanup(func() {
		srv.Close()
		select {
		case <-r.done:
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return r
}

// serveFunc starts a Server with handler h and default settings.
func serveFunc(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	return startServer(t, &Server{Handler: h}).addr
}

// startNetHTTP serves h with net/http's server, for comparison.
func startNetHTTP(t *testing.T, h http.Handler, maxHeaderBytes int) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, MaxHeaderBytes: maxHeaderBytes, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// countingListener counts the connections it accepted.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// rawConn is a client connection spoken to in raw bytes. Every read and
// write on it fails after 5 s, so that no test can hang.
type rawConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	t.Cleanup(func() { nc.Close() })
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// next reads the next response, 1xx included, with its whole body.
func (c *rawConn) next(method string) (*http.Response, string, error) {
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return nil, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), err
}

// response reads the next final response (1xx skipped) and its body.
func (c *rawConn) response(method string) (*http.Response, string) {
	c.t.Helper()
	for {
		resp, body, err := c.next(method)
		if err != nil {
			c.t.Fatalf("reading the response: %v", err)
		}
		if resp.StatusCode >= 200 {
			return resp, body
		}
	}
}

// expectClosed asserts the server closes the connection without sending
// anything more. A reset counts as closed: the server may close with
// unread input, which makes the kernel send RST instead of FIN.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	rest, err := io.ReadAll(c.br)
	if len(rest) > 0 {
		c.t.Errorf("unexpected bytes before the close: %q", truncate(rest))
	}
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Errorf("connection not closed by the server: %v", err)
	}
}

// exchange sends raw on a new connection and reads one final response.
func exchange(t *testing.T, addr, raw, method string) (*http.Response, string, *rawConn) {
	t.Helper()
	c := dial(t, addr)
	c.send(raw)
	resp, body := c.response(method)
	return resp, body, c
}

// waitFor receives from ch or fails the test after 5 s.
func waitFor[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// ---- 1. request parsing, differential against net/http --------------

// echo is what a handler saw of a request.
type echo struct {
	Method           string
	URL              string
	Path             string
	RawPath          string
	RawQuery         string
	RequestURI       string
	Proto            string
	ProtoMajor       int
	ProtoMinor       int
	Host             string
	Header           http.Header // encoding/json sorts the keys
	ContentLength    int64
	TransferEncoding []string
	Close            bool
	Body             string
	BodyErr          string
}

func echoHandler(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	e := echo{
		Method: r.Method, URL: r.URL.String(), Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery,
		RequestURI: r.RequestURI, Proto: r.Proto, ProtoMajor: r.ProtoMajor, ProtoMinor: r.ProtoMinor,
		Host: r.Host, Header: r.Header, ContentLength: r.ContentLength, TransferEncoding: r.TransferEncoding,
		Close: r.Close, Body: string(b),
	}
	if err != nil {
		e.BodyErr = err.Error()
	}
	j, _ := json.Marshal(e)
	// In a header too, so that HEAD requests are compared as well.
	w.Header().Set("X-Echo", base64.StdEncoding.EncodeToString(j))
	w.Header().Set("Content-Type", "application/json")
	w.Write(j)
}

// echoes sends raw on a new connection to addr and decodes the n echoes.
func echoes(t *testing.T, addr, raw string, methods []string) []echo {
	t.Helper()
	c := dial(t, addr)
	c.send(raw)
	var out []echo
	for _, m := range methods {
		resp, body := c.response(m)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %s, body %q", resp.Status, body)
		}
		j, err := base64.StdEncoding.DecodeString(resp.Header.Get("X-Echo"))
		if err != nil {
			t.Fatalf("X-Echo header: %v", err)
		}
		if m != http.MethodHead && body != string(j) {
			t.Fatalf("body %q differs from the X-Echo header %q", body, j)
		}
		var e echo
		if err := json.Unmarshal(j, &e); err != nil {
			t.Fatalf("decoding the echo %q: %v", j, err)
		}
		out = append(out, e)
	}
	return out
}

func TestServerParsesLikeNetHTTP(t *testing.T) {
	h1 := serveFunc(t, echoHandler)
	std := startNetHTTP(t, http.HandlerFunc(echoHandler), 0)
	get := []string{http.MethodGet}
	cases := []struct {
		name    string
		raw     string
		methods []string
		// netRaw, when set, is what net/http gets instead of raw.
		netRaw string
		// fix, when set, turns net/http's echo into the expected one where
		// the two differ by design.
		fix func(e *echo)
	}{
		{name: "plain GET", raw: "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{name: "plain path", raw: "GET /a/b-c/d_e.txt~ HTTP/1.1\r\nHost: example.com\r\n\r\n"},
		{name: "query", raw: "GET /search?q=go&lang=en&empty= HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "escaped space", raw: "GET /a%20b?x=%2F%20y HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "escaped slash keeps RawPath", raw: "GET /a%2Fb/c HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "escaped unreserved", raw: "GET /%7Euser/%41 HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "double slash", raw: "GET //double//slash HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "params and bad query escape", raw: "GET /p;a=b?q=%zz HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "absolute form", raw: "GET http://example.com/x?y=1 HTTP/1.1\r\nHost: other.example\r\n\r\n"},
		{name: "absolute form with port, no path", raw: "GET http://example.com:8080 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n"},
		{name: "asterisk OPTIONS", raw: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
			// net/http answers "OPTIONS *" itself (globalOptionsHandler) and
			// never calls the handler; this server passes it on. Compare
			// with what net/http's handler sees of "GET *".
			netRaw: "GET * HTTP/1.1\r\nHost: h\r\n\r\n",
			fix:    func(e *echo) { e.Method = http.MethodOptions }},
		{name: "HEAD", raw: "HEAD /h?x=1 HTTP/1.1\r\nHost: h\r\n\r\n", methods: []string{http.MethodHead}},
		{name: "extension method", raw: "PURGE /cache/key HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "POST with Content-Length", raw: "POST /v1/chat HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"b c\"}"},
		{name: "POST with empty body", raw: "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"},
		{name: "DELETE with body", raw: "DELETE /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"},
		{name: "GET with body", raw: "GET /x HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"},
		{name: "chunked", raw: "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"},
		{name: "chunked, upper-case hex and TE value", raw: "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n"},
		{name: "chunked with extensions", raw: "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;name=value\r\nabc\r\n2;a;b=\"q\"\r\nde\r\n0;last\r\n\r\n"},
		{name: "chunked with trailers", raw: "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ndata\r\n0\r\nX-Trailer: 1\r\nX-Other: 2\r\n\r\n"},
		{name: "chunked with declared trailer", raw: "POST /x HTTP/1.1\r\nHost: h\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n4\r\ndata\r\n0\r\nX-Sum: 9\r\n\r\n",
			// net/http also moves the Trailer header into Request.Trailer;
			// this server does not support trailers and leaves it.
			fix: func(e *echo) { e.Header["Trailer"] = []string{"X-Sum"} }},
		{name: "chunked, empty", raw: "POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{name: "HTTP/1.0 without Host", raw: "GET /old HTTP/1.0\r\n\r\n"},
		{name: "HTTP/1.0 keep-alive", raw: "GET /old HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\n\r\n"},
		{name: "HTTP/1.0 POST keep-alive", raw: "POST /old HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi"},
		{name: "HTTP/1.1 Connection: close", raw: "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"},
		{name: "Connection token list", raw: "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, Close\r\n\r\n"},
		{name: "repeated headers", raw: "GET / HTTP/1.1\r\nHost: h\r\nAccept: a/b\r\nX-Multi: 1\r\nAccept: c/d\r\nX-Multi: 2\r\nCookie: a=1\r\nX-Multi: 3, 4\r\nCookie: b=2\r\n\r\n"},
		{name: "lower-case names", raw: "get-lower / HTTP/1.1\r\nhost: h\r\ncontent-type: text/plain\r\nx-request-id: abc\r\nx_under_score: u\r\nX-MiXeD-cAsE: m\r\n\r\n"},
		{name: "spaces and tabs around values", raw: "GET / HTTP/1.1\r\nHost:h\r\nX-A:   spaced   \r\nX-B:\t\ttabbed\t \r\nX-C: inner  space\tand\ttab \r\nX-Empty:\r\nX-Blank:   \r\n\r\n"},
		{name: "40 headers", raw: "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X-Many: v\r\n", 20) + manyHeaders(20) + "\r\n"},
		{name: "obs-text value", raw: "GET / HTTP/1.1\r\nHost: h\r\nX-Name: caf\xc3\xa9 \xff\r\n\r\n"},
		{name: "IPv6 Host", raw: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n"},
		{name: "bare LF line endings", raw: "GET /lf HTTP/1.1\nHost: h\nX-A: 1\n\n"},
		{name: "Expect: 100-continue with the body already sent", raw: "PUT /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc"},
		{name: "pipelined with bodies", raw: "POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n\r\naGET /2 HTTP/1.1\r\nHost: h\r\n\r\n", methods: []string{"POST", "GET"}},
		{name: "CRLF after a POST", raw: "POST /1 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nab\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n", methods: []string{"POST", "GET"}},
		{name: "leading CRLF on a new connection", raw: "\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
			// net/http skips empty lines only after a POST and answers 400
			// here; RFC 9112 §2.2 lets a server skip them anywhere, as this
			// one does.
			netRaw: "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"},
		{name: "Pragma: no-cache", raw: "GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n\r\n",
			// net/http adds "Cache-Control: no-cache" for an HTTP/1.0-style
			// Pragma (fixPragmaCacheControl); this server does not.
			fix: func(e *echo) { delete(e.Header, "Cache-Control") }},
		{name: "repeated equal Content-Length", raw: "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"},
		// RFC 9110 §10.1.1: "A server that receives a 100-continue
		// expectation in an HTTP/1.0 request MUST ignore that expectation."
		{name: "HTTP/1.0 with Expect: 100-continue", raw: "POST /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi"},
		// RFC 9112 §9.3: "close" ends the connection whatever the version.
		{name: "HTTP/1.0 with close and keep-alive", raw: "GET / HTTP/1.0\r\nConnection: close, keep-alive\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			methods := tc.methods
			if methods == nil {
				methods = get
			}
			netRaw := tc.raw
			if tc.netRaw != "" {
				netRaw = tc.netRaw
			}
			want := echoes(t, std, netRaw, methods)
			got := echoes(t, h1, tc.raw, methods)
			for i := range want {
				if tc.fix != nil && want[i].Header != nil {
					tc.fix(&want[i])
				}
				w, _ := json.MarshalIndent(want[i], "", "  ")
				g, _ := json.MarshalIndent(got[i], "", "  ")
				if !bytes.Equal(w, g) {
					t.Errorf("request %d: h1 saw\n%s\nnet/http saw\n%s", i, g, w)
				}
			}
		})
	}
}

// ---- 2. malformed requests --------------------------------------------

func TestServerRejectsMalformed(t *testing.T) {
	const maxHeader = 1 << 10
	handler := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte("served"))
	}
	addr := startServer(t, &Server{Handler: http.HandlerFunc(handler), MaxHeaderBytes: maxHeader}).addr
	std := startNetHTTP(t, http.HandlerFunc(handler), maxHeader)
	// net/http lets a head run 4 KiB past MaxHeaderBytes; this one is past
	// both limits.
	huge := "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("b", 8<<10) + "\r\n\r\n"

	cases := []struct {
		name   string
		raw    string
		status int // 0: any 4xx or 5xx
		// netAccepts documents a request net/http serves but this server
		// refuses by design.
		netAccepts bool
	}{
		{name: "garbage request line", raw: "HELLO\r\n\r\n", status: 400},
		{name: "html instead of a request", raw: "<html><body>hi</body></html>\r\n\r\n", status: 400},
		{name: "bad method token", raw: "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "HTTP/2.0", raw: "GET / HTTP/2.0\r\nHost: h\r\n\r\n", status: 505},
		// net/http serves any HTTP/1.x (RFC 9110 §2.5 says a higher minor
		// version SHOULD be treated as the highest one implemented); this
		// server answers 505.
		{name: "HTTP/1.2", raw: "GET / HTTP/1.2\r\nHost: h\r\n\r\n", status: 505, netAccepts: true},
		{name: "HTTP/0.9 style", raw: "GET /\r\n\r\n", status: 400},
		{name: "lower-case protocol", raw: "GET / http/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "space inside the target", raw: "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "bad escape in the path", raw: "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "missing Host", raw: "GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", status: 400},
		{name: "two Host headers", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400},
		{name: "bad Host", raw: "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", status: 400},
		{name: "header without colon", raw: "GET / HTTP/1.1\r\nHost: h\r\nNoColonHere\r\n\r\n", status: 400},
		{name: "space in header name", raw: "GET / HTTP/1.1\r\nHost: h\r\nX Bad: 1\r\n\r\n", status: 400},
		{name: "space before the colon", raw: "GET / HTTP/1.1\r\nHost: h\r\nX-Bad : 1\r\n\r\n", status: 400},
		// net/http unfolds an obs-fold line into the value; RFC 9112 §5.2
		// lets a server reject it with 400 instead, as this one does.
		{name: "obs-fold", raw: "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n  continued\r\n\r\n", status: 400, netAccepts: true},
		{name: "control byte in a value", raw: "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n", status: 400},
		{name: "Content-Length abc", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n", status: 400},
		{name: "Content-Length with a sign", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\nabc", status: 400},
		{name: "Content-Length minus zero", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -0\r\n\r\n", status: 400},
		{name: "negative Content-Length", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", status: 400},
		{name: "two different Content-Lengths", raw: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", status: 400},
		// net/http serves chunked and drops the Content-Length (RFC 9112
		// §6.3 allows either); this server refuses the smuggling shape.
		{name: "Transfer-Encoding and Content-Length", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", status: 400, netAccepts: true},
		// net/http ignores Transfer-Encoding in HTTP/1.0 (issue 12785); this
		// server refuses it.
		{name: "Transfer-Encoding in HTTP/1.0", raw: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400, netAccepts: true},
		{name: "Transfer-Encoding gzip", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", status: 501},
		{name: "Transfer-Encoding gzip, chunked", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", status: 501},
		{name: "two Transfer-Encoding headers", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 501},
		{name: "Expect something else, with a body", raw: "POST / HTTP/1.1\r\nHost: h\r\nExpect: something-else\r\nContent-Length: 2\r\n\r\nhi", status: 417},
		{name: "Expect something else, no body", raw: "GET / HTTP/1.1\r\nHost: h\r\nExpect: something-else\r\n\r\n", status: 417},
		{name: "head larger than MaxHeaderBytes", raw: huge, status: 431},
		{name: "head cut by the limit before its end", raw: "GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + strings.Repeat("b", 8<<10), status: 431},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body, c := exchange(t, addr, tc.raw, http.MethodGet)
			if tc.status != 0 && resp.StatusCode != tc.status {
				t.Errorf("status %s, want %d; body %q", resp.Status, tc.status, body)
			}
			if resp.StatusCode < 400 || resp.StatusCode > 599 {
				t.Fatalf("status %s, want an error; body %q", resp.Status, body)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json", ct)
			}
			var e struct {
				Error struct {
					Message string  `json:"message"`
					Type    string  `json:"type"`
					Param   *string `json:"param"`
					Code    string  `json:"code"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Errorf("body %q is not JSON: %v", body, err)
			}
			if e.Error.Message == "" || e.Error.Type != "invalid_request_error" || e.Error.Code == "" {
				t.Errorf("body %q lacks the error message, type or code", body)
			}
			if !resp.Close { // http.ReadResponse moves "Connection: close" here
				t.Errorf("no Connection: close; header %v", resp.Header)
			}
			c.expectClosed()

			nresp, nbody, _ := exchange(t, std, tc.raw, http.MethodGet)
			netRejects := nresp.StatusCode >= 400
			switch {
			case tc.netAccepts && netRejects:
				t.Errorf("documented as accepted by net/http, but it answers %s", nresp.Status)
			case !tc.netAccepts && !netRejects:
				t.Errorf("net/http serves it (%s, %q): not malformed?", nresp.Status, nbody)
			}
		})
	}
}

// ---- 3. response framing ---------------------------------------------

func TestServerResponseFraming(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 640) // 10 KiB
	html := "<!DOCTYPE html><html><body>hi</body></html>"
	errs := make(chan error, 4)
	addr := serveFunc(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/small":
			w.Write(bytes.Repeat([]byte("x"), 100))
		case "/big":
			w.Write(big)
		case "/length":
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write(big)
		case "/length-small":
			w.Header().Set("Content-Length", "5")
			w.Write([]byte("hello"))
		case "/too-long":
			w.Header().Set("Content-Length", "5")
			_, err := w.Write([]byte("hello world"))
			errs <- err
			w.Write([]byte("hello"))
		case "/204", "/304":
			code, _ := strconv.Atoi(r.URL.Path[1:])
			w.WriteHeader(code)
			_, err := w.Write([]byte("x"))
			errs <- err
		case "/204-length":
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusNoContent)
		case "/head":
			w.Write(bytes.Repeat([]byte("h"), 50))
		case "/flush":
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			w.Write([]byte("b"))
		case "/flush-te":
			w.Header().Set("Transfer-Encoding", "chunked")
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
			w.Write([]byte("b"))
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		case "/html":
			w.Write([]byte(html))
		case "/html-big":
			w.Write([]byte(html + strings.Repeat(" ", 8<<10)))
		case "/inject":
			w.Header().Set("X-Value", "a\r\nX-Injected: 1")
			w.Header()["X-Name\r\nX-Injected-Name"] = []string{"2"}
			w.Write([]byte("ok"))
		case "/early-hints":
			w.Header().Set("Link", "</style.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			w.Write([]byte("final"))
		case "/twice":
			w.WriteHeader(http.StatusCreated)
			w.WriteHeader(http.StatusInternalServerError)
			w.Write([]byte("created"))
		}
	})
	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n" }

	t.Run("small body gets Content-Length", func(t *testing.T) {
		resp, body, _ := exchange(t, addr, get("/small"), "GET")
		if resp.ContentLength != 100 || resp.TransferEncoding != nil || len(body) != 100 {
			t.Fatalf("ContentLength %d, TransferEncoding %v, %d body bytes; want 100, none, 100", resp.ContentLength, resp.TransferEncoding, len(body))
		}
	})
	t.Run("large write is chunked", func(t *testing.T) {
		resp, body, _ := exchange(t, addr, get("/big"), "GET")
		if resp.ContentLength != -1 || fmt.Sprint(resp.TransferEncoding) != "[chunked]" || body != string(big) {
			t.Fatalf("ContentLength %d, TransferEncoding %v, body intact %v", resp.ContentLength, resp.TransferEncoding, body == string(big))
		}
	})
	t.Run("explicit Content-Length", func(t *testing.T) {
		for _, path := range []string{"/length", "/length-small"} {
			resp, body, _ := exchange(t, addr, get(path), "GET")
			if resp.ContentLength != int64(len(body)) || resp.TransferEncoding != nil || resp.Header["Content-Length"] == nil {
				t.Errorf("%s: ContentLength %d for %d bytes, TransferEncoding %v", path, resp.ContentLength, len(body), resp.TransferEncoding)
			}
		}
	})
	t.Run("write past Content-Length", func(t *testing.T) {
		resp, body, _ := exchange(t, addr, get("/too-long"), "GET")
		if err := waitFor(t, errs, "the handler"); !errors.Is(err, http.ErrContentLength) {
			t.Errorf("Write past the length: %v, want http.ErrContentLength", err)
		}
		if resp.ContentLength != 5 || body != "hello" {
			t.Errorf("ContentLength %d, body %q; want 5, hello", resp.ContentLength, body)
		}
	})
	t.Run("no body for 204 and 304", func(t *testing.T) {
		c := dial(t, addr)
		for _, code := range []int{204, 304} {
			c.send(get("/" + strconv.Itoa(code)))
			resp, body := c.response("GET")
			if resp.StatusCode != code || body != "" || resp.Header["Transfer-Encoding"] != nil || resp.Header["Content-Length"] != nil {
				t.Errorf("%d: status %d, body %q, header %v", code, resp.StatusCode, body, resp.Header)
			}
			if err := waitFor(t, errs, "the handler"); !errors.Is(err, http.ErrBodyNotAllowed) {
				t.Errorf("%d: Write: %v, want http.ErrBodyNotAllowed", code, err)
			}
		}
		// The connection carries on: nothing stray was sent.
		c.send(get("/small"))
		if resp, body := c.response("GET"); resp.StatusCode != 200 || len(body) != 100 {
			t.Errorf("request after 204 and 304: %s, %d bytes", resp.Status, len(body))
		}
	})
	// RFC 9110 §8.6: "A server MUST NOT send a Content-Length header field
	// in any response with a status code of 1xx or 204". net/http drops it.
	t.Run("204 drops a handler's Content-Length", func(t *testing.T) {
		resp, _, _ := exchange(t, addr, get("/204-length"), "GET")
		if cl := resp.Header["Content-Length"]; cl != nil {
			t.Errorf("204 sent with Content-Length %q", cl)
		}
	})
	t.Run("HEAD", func(t *testing.T) {
		c := dial(t, addr)
		c.send("HEAD /head HTTP/1.1\r\nHost: h\r\n\r\n")
		resp, body := c.response("HEAD")
		if resp.StatusCode != 200 || resp.ContentLength != 50 || body != "" || resp.TransferEncoding != nil {
			t.Fatalf("status %d, ContentLength %d, body %q, TE %v", resp.StatusCode, resp.ContentLength, body, resp.TransferEncoding)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("HEAD Content-Type %q, want the sniffed text/plain", ct)
		}
		// A body byte on the wire would be read as the next status line.
		c.send(get("/head"))
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != strings.Repeat("h", 50) {
			t.Fatalf("GET after HEAD: %s, %q", resp.Status, body)
		}
	})
	t.Run("HTTP/1.0 flushed response ends at close", func(t *testing.T) {
		for _, raw := range []string{
			"GET /flush HTTP/1.0\r\n\r\n",
			"GET /flush HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", // no length to keep it alive with
		} {
			resp, body, c := exchange(t, addr, raw, "GET")
			if resp.TransferEncoding != nil || resp.Header["Content-Length"] != nil || !resp.Close || body != "ab" {
				t.Errorf("%q: TE %v, Content-Length %v, Close %v, body %q", raw, resp.TransferEncoding, resp.Header["Content-Length"], resp.Close, body)
			}
			c.expectClosed()
		}
	})
	// net/http deletes a handler's Transfer-Encoding when the response is
	// close-delimited; sending it would make the client decode chunks that
	// are not there.
	t.Run("HTTP/1.0 close-delimited response drops a handler's Transfer-Encoding", func(t *testing.T) {
		resp, body, _ := exchange(t, addr, "GET /flush-te HTTP/1.0\r\n\r\n", "GET")
		if resp.TransferEncoding != nil || body != "ab" {
			t.Errorf("TransferEncoding %v, body %q; want none, \"ab\"", resp.TransferEncoding, body)
		}
	})
	t.Run("handler's Connection: close", func(t *testing.T) {
		resp, body, c := exchange(t, addr, get("/close"), "GET")
		if !resp.Close || body != "bye" {
			t.Fatalf("Close %v, body %q", resp.Close, body)
		}
		c.expectClosed()
	})
	t.Run("sniffed Content-Type", func(t *testing.T) {
		for _, path := range []string{"/html", "/html-big"} {
			resp, _, _ := exchange(t, addr, get(path), "GET")
			if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("%s: Content-Type %q, want text/html; charset=utf-8 (as net/http sniffs)", path, ct)
			}
		}
	})
	t.Run("no header injection", func(t *testing.T) {
		resp, body, _ := exchange(t, addr, get("/inject"), "GET")
		if resp.Header["X-Injected"] != nil || resp.Header["X-Injected-Name"] != nil || body != "ok" {
			t.Fatalf("injected header: %v, body %q", resp.Header, body)
		}
		if v := resp.Header.Get("X-Value"); !strings.HasPrefix(v, "a") || strings.ContainsAny(v, "\r\n") {
			t.Errorf("X-Value %q", v)
		}
	})
	t.Run("Date", func(t *testing.T) {
		resp, _, _ := exchange(t, addr, get("/small"), "GET")
		d, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil {
			t.Fatalf("Date %q: %v", resp.Header.Get("Date"), err)
		}
		if time.Since(d).Abs() > time.Minute {
			t.Errorf("Date %v is off", d)
		}
	})
	t.Run("103 Early Hints then the answer", func(t *testing.T) {
		c := dial(t, addr)
		c.send(get("/early-hints"))
		resp, _, err := c.next("GET")
		if err != nil || resp.StatusCode != http.StatusEarlyHints || resp.Header.Get("Link") == "" {
			t.Fatalf("first answer %v, %v; want 103 with the Link header", resp, err)
		}
		if resp, body := c.response("GET"); resp.StatusCode != 200 || body != "final" {
			t.Fatalf("final answer %s, %q", resp.Status, body)
		}
	})
	t.Run("first WriteHeader wins", func(t *testing.T) {
		resp, body, _ := exchange(t, addr, get("/twice"), "GET")
		if resp.StatusCode != http.StatusCreated || body != "created" {
			t.Fatalf("status %s, body %q; want 201, created", resp.Status, body)
		}
	})
}

// Each flushed piece reaches the client before the handler writes the next.
func TestServerFlushSendsAtOnce(t *testing.T) {
	pieces := []string{"data: first\n\n", "data: second\n\n", "data: third\n\n"}
	step := make(chan struct{})
	addr := serveFunc(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i, p := range pieces {
			if i > 0 {
				select {
				case <-step:
				case <-time.After(5 * time.Second):
					return
				}
			}
			io.WriteString(w, p)
			w.(http.Flusher).Flush()
		}
	})
	c := dial(t, addr)
	c.send("GET /events HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, err := http.ReadResponse(c.br, &http.Request{Method: "GET"})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(resp.TransferEncoding) != "[chunked]" {
		t.Errorf("TransferEncoding %v, want chunked", resp.TransferEncoding)
	}
	for i, p := range pieces {
		buf := make([]byte, len(p))
		if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != p {
			t.Fatalf("piece %d: %q, %v; want %q before the next is written", i, buf, err, p)
		}
		if i < len(pieces)-1 {
			step <- struct{}{}
		}
	}
	if rest, err := io.ReadAll(resp.Body); err != nil || len(rest) != 0 {
		t.Fatalf("after the pieces: %q, %v", rest, err)
	}
}

// ---- 4. keep-alive and pipelining ---------------------------------------

func pathHandler(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	io.WriteString(w, r.URL.RequestURI())
}

func TestServerPipelining(t *testing.T) {
	addr := serveFunc(t, pathHandler)
	c := dial(t, addr)
	c.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcHEAD /3 HTTP/1.1\r\nHost: h\r\n\r\nGET /4 HTTP/1.1\r\nHost: h\r\n\r\n")
	for _, want := range []struct{ method, body string }{{"GET", "/1"}, {"POST", "/2"}, {"HEAD", ""}, {"GET", "/4"}} {
		if resp, body := c.response(want.method); resp.StatusCode != 200 || body != want.body {
			t.Fatalf("%s: %s, %q; want 200, %q", want.method, resp.Status, body, want.body)
		}
	}
}

func TestServerKeepAlive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	addr := serveListener(t, &Server{Handler: http.HandlerFunc(pathHandler)}, cl).addr
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	for i := range 200 {
		var resp *http.Response
		var err error
		path := fmt.Sprintf("/seq?i=%d", i)
		if i%2 == 0 {
			resp, err = client.Get("http://" + addr + path)
		} else {
			resp, err = client.Post("http://"+addr+path, "text/plain", strings.NewReader("body"))
		}
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != path {
			t.Fatalf("request %d: %q, %v", i, b, err)
		}
	}
	if n := cl.n.Load(); n != 1 {
		t.Fatalf("200 sequential requests used %d connections, want 1", n)
	}

	// HTTP/1.0 keeps the connection when asked to and the length is known.
	c := dial(t, addr)
	for i := range 3 {
		c.send("GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		resp, body := c.response("GET")
		if resp.Close || body != "/old" || !hasToken(resp.Header["Connection"], "keep-alive") {
			t.Fatalf("HTTP/1.0 request %d: Close %v, Connection %q, body %q", i, resp.Close, resp.Header["Connection"], body)
		}
	}
	c.send("GET /old HTTP/1.0\r\n\r\n")
	if resp, _ := c.response("GET"); !resp.Close {
		t.Fatalf("HTTP/1.0 without keep-alive: no Connection: close")
	}
	c.expectClosed()
}

func TestServerConcurrentClients(t *testing.T) {
	addr := serveFunc(t, pathHandler)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	var failed atomic.Int32
	for g := range 50 {
		wg.Go(func() {
			for i := range 20 {
				path := fmt.Sprintf("/c?g=%d&i=%d", g, i)
				resp, err := client.Post("http://"+addr+path, "text/plain", strings.NewReader(path))
				if err != nil {
					t.Errorf("%s: %v", path, err)
					failed.Add(1)
					return
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || string(b) != path {
					t.Errorf("%s: body %q, %v", path, b, err)
					failed.Add(1)
					return
				}
			}
		})
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Fatalf("%d clients failed", n)
	}
}

// ---- 5. client disconnect ----------------------------------------------

func TestServerCancelsOnDisconnect(t *testing.T) {
	started := make(chan struct{}, 1)
	result := make(chan error, 1)
	addr := serveFunc(t, func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			result <- r.Context().Err()
		case <-time.After(5 * time.Second):
			result <- errors.New("not cancelled within 5 s")
		}
	})
	c := dial(t, addr)
	c.send("GET /wait HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, started, "the handler to start")
	c.nc.Close()
	if err := waitFor(t, result, "the handler"); !errors.Is(err, context.Canceled) {
		t.Fatalf("handler's context: %v, want context.Canceled", err)
	}
}

// ---- 5b. the watcher ----------------------------------------------------

// TestServerWatcher runs handlers past watchAfter, so that a watcher reads
// the socket while they run, with input arriving meanwhile: what it reads
// must reach the body being read, or the next request, in order.
func TestServerWatcher(t *testing.T) {
	slow := 10 * watchAfter
	addr := serveFunc(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/slow") {
			time.Sleep(slow)
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		h := sha256.Sum256(b)
		fmt.Fprintf(w, "%s %d %x", r.URL.Path, len(b), h[:4])
	})
	sum := func(path, body string) string {
		h := sha256.Sum256([]byte(body))
		return fmt.Sprintf("%s %d %x", path, len(body), h[:4])
	}
	t.Run("requests pipelined behind a slow one", func(t *testing.T) {
		c := dial(t, addr)
		c.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\nPOST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
		time.Sleep(slow / 2) // the watcher reads this one into its queue
		c.send("GET /b HTTP/1.1\r\nHost: h\r\n\r\n")
		for _, want := range []string{sum("/slow", ""), sum("/a", "abc"), sum("/b", "")} {
			if resp, body := c.response("GET"); resp.StatusCode != 200 || body != want {
				t.Fatalf("%s, %q; want 200, %q", resp.Status, body, want)
			}
		}
	})
	big := strings.Repeat("0123456789abcdef", 100_000/16)
	for _, tc := range []struct {
		name, head string
		parts      []string
	}{
		{"a body sent while the watcher runs", "Content-Length: 100000\r\n",
			[]string{big[:1000], big[1000:40000], big[40000:40001], big[40001:]}},
		{"a chunked body sent while the watcher runs", "Transfer-Encoding: chunked\r\n",
			[]string{"3e8\r\n" + big[:1000] + "\r\n", fmt.Sprintf("%x\r\n", 99000) + big[1000:50000], big[50000:] + "\r\n0\r\n\r\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send("POST /slowbody HTTP/1.1\r\nHost: h\r\n" + tc.head + "\r\n" + tc.parts[0])
			time.Sleep(slow / 2)
			for _, p := range tc.parts[1:] {
				c.send(p)
				time.Sleep(time.Millisecond)
			}
			if resp, body := c.response("POST"); resp.StatusCode != 200 || body != sum("/slowbody", big) {
				t.Fatalf("%s, %q; want 200, %q", resp.Status, body, sum("/slowbody", big))
			}
			c.send("GET /after HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp, body := c.response("GET"); resp.StatusCode != 200 || body != sum("/after", "") {
				t.Fatalf("next request: %s, %q", resp.Status, body)
			}
		})
	}
}

// TestServerCancelsOnDisconnectInBody: a client that goes away while the
// handler reads its body (the serving goroutine's own read, no watcher yet)
// fails the read and cancels the request.
func TestServerCancelsOnDisconnectInBody(t *testing.T) {
	result := make(chan error, 1)
	addr := serveFunc(t, func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		if err == nil {
			result <- errors.New("the body read did not fail")
			return
		}
		result <- r.Context().Err()
	})
	c := dial(t, addr)
	c.send("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
	time.Sleep(10 * time.Millisecond)
	c.nc.Close()
	if err := waitFor(t, result, "the handler"); !errors.Is(err, context.Canceled) {
		t.Fatalf("handler's context: %v, want context.Canceled", err)
	}
}

// ---- 6. Expect: 100-continue -------------------------------------------

func TestServerExpectContinue(t *testing.T) {
	addr := serveFunc(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	t.Run("continue then body", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /x HTTP/1.1\r\nHost: h\r\nAuthorization: k\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		resp, _, err := c.next("POST")
		if err != nil || resp.StatusCode != http.StatusContinue {
			t.Fatalf("before the body: %v, %v; want 100 Continue", resp, err)
		}
		c.send("hello")
		if resp, body := c.response("POST"); resp.StatusCode != 200 || body != "hello" {
			t.Fatalf("final answer: %s, %q", resp.Status, body)
		}
		// The connection carries on.
		c.send("POST /x HTTP/1.1\r\nHost: h\r\nAuthorization: k\r\nContent-Length: 2\r\n\r\nok")
		if resp, body := c.response("POST"); resp.StatusCode != 200 || body != "ok" {
			t.Fatalf("next request: %s, %q", resp.Status, body)
		}
	})
	t.Run("refused without reading", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		resp, _, err := c.next("POST")
		if err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("got %v, %v; want 401 without a 100 Continue", resp, err)
		}
		c.expectClosed()
	})
	t.Run("net/http client", func(t *testing.T) {
		tr := &http.Transport{ExpectContinueTimeout: 5 * time.Second}
		t.Cleanup(tr.CloseIdleConnections)
		req, _ := http.NewRequest("PUT", "http://"+addr+"/x", strings.NewReader("payload"))
		req.Header.Set("Expect", "100-continue")
		req.Header.Set("Authorization", "k")
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "payload" {
			t.Fatalf("body %q", b)
		}
	})
}

// ---- 7. request bodies -------------------------------------------------

// manyHeaders is n distinct header lines.
func manyHeaders(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "X-H%d: %d\r\n", i, i)
	}
	return b.String()
}

func TestServerRequestBodies(t *testing.T) {
	const bigAnswer = 8 << 20
	type readResult struct {
		n   int
		err error
	}
	results := make(chan readResult, 1)
	addr := serveFunc(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo": // reads it all first: see "read while answering"
			b, err := io.ReadAll(r.Body)
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
			}
			w.Write(b)
		case "/stream":
			io.Copy(w, r.Body)
		case "/ignore":
			io.WriteString(w, "ignored")
		case "/ignore-big":
			w.Header().Set("Content-Length", strconv.Itoa(bigAnswer))
			w.Write(make([]byte, bigAnswer))
		case "/readall":
			b, err := io.ReadAll(r.Body)
			results <- readResult{len(b), err}
			if err != nil {
				w.WriteHeader(http.StatusBadRequest)
			}
		case "/closed":
			r.Body.Close()
			n, err := r.Body.Read(make([]byte, 8))
			results <- readResult{n, err}
		}
	})
	random := func(n int) []byte {
		b := make([]byte, n)
		rng := rand.NewChaCha8([32]byte{byte(n)})
		rng.Read(b)
		return b
	}

	t.Run("1 MiB Content-Length echoed", func(t *testing.T) {
		in := random(1 << 20)
		tr := &http.Transport{}
		t.Cleanup(tr.CloseIdleConnections)
		resp, err := (&http.Client{Transport: tr}).Post("http://"+addr+"/echo", "application/octet-stream", bytes.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || sha256.Sum256(out) != sha256.Sum256(in) {
			t.Fatalf("%d bytes back of %d, err %v, or they differ", len(out), len(in), err)
		}
	})
	t.Run("1 MiB chunked in uneven writes echoed", func(t *testing.T) {
		in := random(1 << 20)
		rng := rand.New(rand.NewPCG(1, 2))
		var enc bytes.Buffer
		for rest := in; len(rest) > 0; {
			n := min(len(rest), 1+rng.IntN(40<<10))
			fmt.Fprintf(&enc, "%x", n)
			if rng.IntN(3) == 0 {
				enc.WriteString(";ext=1")
			}
			enc.WriteString("\r\n")
			enc.Write(rest[:n])
			enc.WriteString("\r\n")
			rest = rest[n:]
		}
		enc.WriteString("0\r\nX-Trailer: t\r\n\r\n")
		c := dial(t, addr)
		c.send("POST /echo HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
		wrote := make(chan error, 1)
		go func() {
			// Pieces that split framing lines and chunk data anywhere.
			b := enc.Bytes()
			for i := 0; len(b) > 0; i++ {
				n := min(len(b), []int{1, 2, 3, 7, 100, 4093, 65537, 20000}[i%8])
				if _, err := c.nc.Write(b[:n]); err != nil {
					wrote <- err
					return
				}
				b = b[n:]
				if i%16 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			wrote <- nil
		}()
		resp, out := c.response("POST")
		if err := waitFor(t, wrote, "the writer"); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || sha256.Sum256([]byte(out)) != sha256.Sum256(in) {
			t.Fatalf("%s, %d bytes back of %d, or they differ", resp.Status, len(out), len(in))
		}
		c.send("GET /ignore HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp, body := c.response("GET"); body != "ignored" {
			t.Fatalf("next request: %s, %q", resp.Status, body)
		}
	})
	// net/http documents that once the head is flushed the rest of an
	// HTTP/1 request body may be unavailable (it is dropped, or reads
	// fail). What a handler does read must still be the body as sent: a
	// prefix of it, never one with a piece missing. (net/http itself, as of
	// Go 1.26, fails the chunked 1 MiB case: it drops 256 KiB + 1 from the
	// middle and lets the handler read on.)
	for _, tc := range []struct {
		size    int
		chunked bool
	}{{100 << 10, false}, {1 << 20, false}, {100 << 10, true}, {1 << 20, true}} {
		t.Run(fmt.Sprintf("read while answering, %d KiB, chunked %v", tc.size>>10, tc.chunked), func(t *testing.T) {
			in := random(tc.size)
			c := dial(t, addr)
			wire := in
			if tc.chunked {
				c.send("POST /stream HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n")
				var enc bytes.Buffer
				for rest := in; len(rest) > 0; rest = rest[min(len(rest), 8<<10):] {
					n := min(len(rest), 8<<10)
					fmt.Fprintf(&enc, "%x\r\n%s\r\n", n, rest[:n])
				}
				enc.WriteString("0\r\n\r\n")
				wire = enc.Bytes()
			} else {
				c.send("POST /stream HTTP/1.1\r\nHost: h\r\nContent-Length: " + strconv.Itoa(tc.size) + "\r\n\r\n")
			}
			go c.nc.Write(wire) // fails if the server stops reading; then the echo is short
			resp, err := http.ReadResponse(c.br, &http.Request{Method: "POST"})
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body) // may end early with the connection
			if !bytes.HasPrefix(in, out) {
				i := 0
				for i < len(out) && out[i] == in[i] {
					i++
				}
				t.Errorf("the handler read %d bytes that are not a prefix of the body: they differ from byte %d on", len(out), i)
			}
		})
	}
	t.Run("unread small body is discarded", func(t *testing.T) {
		c := dial(t, addr)
		body := strings.Repeat("z", 10<<10)
		c.send("POST /ignore HTTP/1.1\r\nHost: h\r\nContent-Length: 10240\r\n\r\n" + body)
		if resp, b := c.response("POST"); resp.StatusCode != 200 || resp.Close || b != "ignored" {
			t.Fatalf("%s, Close %v, %q", resp.Status, resp.Close, b)
		}
		c.send("POST /ignore HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2800\r\n" + body + "\r\n0\r\n\r\n")
		if resp, b := c.response("POST"); resp.StatusCode != 200 || b != "ignored" {
			t.Fatalf("after a chunked body: %s, %q", resp.Status, b)
		}
		c.send("GET /ignore HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp, b := c.response("GET"); resp.StatusCode != 200 || b != "ignored" {
			t.Fatalf("next request: %s, %q", resp.Status, b)
		}
	})
	t.Run("unread large body closes the connection", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /ignore HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n")
		go func() {
			// Fails once the server closes; that is the point.
			c.nc.Write(make([]byte, 1<<20))
		}()
		if resp, b := c.response("POST"); resp.StatusCode != 200 || b != "ignored" {
			t.Fatalf("%s, %q", resp.Status, b)
		}
		c.expectClosed()
	})
	// The server closes with part of the body unread, which makes the
	// kernel reset the connection and drop whatever of the response it has
	// not sent yet. net/http says "Connection: close" and half-closes, then
	// waits before closing, so that a large answer arrives whole.
	t.Run("unread large body, large response arrives whole", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /ignore-big HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n")
		go c.nc.Write(make([]byte, 1<<20))
		time.Sleep(200 * time.Millisecond) // a client slower than loopback
		resp, err := http.ReadResponse(c.br, &http.Request{Method: "POST"})
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || n != bigAnswer {
			t.Errorf("response body: %d of %d bytes, %v", n, bigAnswer, err)
		}
		if !resp.Close {
			t.Errorf("the server closes after the response but did not say Connection: close")
		}
	})
	t.Run("body cut short", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /readall HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("c", 50))
		time.Sleep(10 * time.Millisecond) // let the 50 bytes be read first
		c.nc.Close()
		if r := waitFor(t, results, "the handler"); !errors.Is(r.err, io.ErrUnexpectedEOF) || r.n != 50 {
			t.Fatalf("ReadAll: %d bytes, %v; want 50, io.ErrUnexpectedEOF", r.n, r.err)
		}
	})
	t.Run("chunked body cut short", func(t *testing.T) {
		c := dial(t, addr)
		c.send("POST /readall HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123")
		time.Sleep(10 * time.Millisecond)
		c.nc.Close()
		if r := waitFor(t, results, "the handler"); !errors.Is(r.err, io.ErrUnexpectedEOF) {
			t.Fatalf("ReadAll: %d bytes, %v; want io.ErrUnexpectedEOF", r.n, r.err)
		}
	})
	t.Run("read after Close", func(t *testing.T) {
		resp, _, _ := exchange(t, addr, "POST /closed HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody", "POST")
		if r := waitFor(t, results, "the handler"); r.err == nil || r.err == io.EOF || r.n != 0 {
			t.Fatalf("Read after Close: %d, %v; want an error", r.n, r.err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("status %s", resp.Status)
		}
	})
	for _, tc := range []struct{ name, chunks string }{
		{"bad chunk size", "zz\r\nab\r\n0\r\n\r\n"},
		{"chunk longer than its size", "2\r\nabc\r\n0\r\n\r\n"},
		{"empty chunk size", "\r\nab\r\n0\r\n\r\n"},
		{"huge chunk size", "fffffffffffffffff\r\nab\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, _, c := exchange(t, addr, "POST /readall HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"+tc.chunks, "POST")
			if r := waitFor(t, results, "the handler"); r.err == nil || errors.Is(r.err, io.ErrUnexpectedEOF) {
				t.Fatalf("ReadAll: %d bytes, %v; want a framing error", r.n, r.err)
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %s", resp.Status)
			}
			c.expectClosed() // the framing is lost: the connection cannot go on
		})
	}
}

// ---- 8. timeouts -------------------------------------------------------

func TestServerTimeouts(t *testing.T) {
	const timeout = 200 * time.Millisecond
	addr := startServer(t, &Server{Handler: http.HandlerFunc(pathHandler), ReadHeaderTimeout: timeout, IdleTimeout: timeout}).addr

	t.Run("stalled head", func(t *testing.T) {
		c := dial(t, addr)
		c.nc.SetDeadline(time.Now().Add(3 * time.Second))
		c.send("GET / HTTP/1.1\r\nHo")
		c.expectClosed()
	})
	t.Run("head trickled past the timeout", func(t *testing.T) {
		c := dial(t, addr)
		c.nc.SetDeadline(time.Now().Add(3 * time.Second))
		stop, stopped := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(stopped)
			for _, b := range []byte("GET / HTTP/1.1\r\nHost: h\r\nX-Slow: ") {
				select {
				case <-time.After(20 * time.Millisecond):
				case <-stop:
					return
				}
				if _, err := c.nc.Write([]byte{b}); err != nil {
					return
				}
			}
		}()
		c.expectClosed()
		close(stop)
		<-stopped
	})
	t.Run("idle", func(t *testing.T) {
		c := dial(t, addr)
		c.nc.SetDeadline(time.Now().Add(3 * time.Second))
		c.send("GET /once HTTP/1.1\r\nHost: h\r\n\r\n")
		if _, body := c.response("GET"); body != "/once" {
			t.Fatalf("body %q", body)
		}
		c.expectClosed()
	})
	t.Run("busy connection stays", func(t *testing.T) {
		c := dial(t, addr)
		for i := range 15 {
			path := "/busy/" + strconv.Itoa(i)
			c.send("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n")
			if resp, body := c.response("GET"); resp.Close || body != path {
				t.Fatalf("request %d: Close %v, %q", i, resp.Close, body)
			}
			time.Sleep(timeout / 5)
		}
	})
}

// ---- 9. Shutdown and Close ---------------------------------------------

// blockingHandler serves "/block" when release is closed and everything
// else at once.
func blockingHandler(started chan<- struct{}, release <-chan struct{}) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/block" {
			io.WriteString(w, "quick")
			return
		}
		started <- struct{}{}
		select {
		case <-release:
			io.WriteString(w, "released")
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
}

func TestServerShutdown(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	srv := &Server{Handler: blockingHandler(started, release)}
	run := startServer(t, srv)

	idle := dial(t, run.addr)
	idle.send("GET /quick HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := idle.response("GET"); body != "quick" {
		t.Fatalf("body %q", body)
	}
	busy := dial(t, run.addr)
	busy.send("GET /block HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, started, "the handler to start")

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()
	idle.expectClosed()
	waitFor(t, run.done, "Serve to return")
	if !errors.Is(run.err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", run.err)
	}
	if nc, err := net.DialTimeout("tcp", run.addr, time.Second); err == nil {
		nc.Close()
		t.Errorf("dial after Shutdown succeeded")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	default:
	}
	close(release)
	resp, body := busy.response("GET")
	if body != "released" || !resp.Close {
		t.Errorf("in-flight response: %q, Close %v; want released, Connection: close", body, resp.Close)
	}
	busy.expectClosed()
	if err := waitFor(t, shut, "Shutdown"); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve after Shutdown: %v, want http.ErrServerClosed", err)
	}
}

func TestServerShutdownDeadline(t *testing.T) {
	started, release := make(chan struct{}, 1), make(chan struct{})
	defer close(release)
	srv := &Server{Handler: blockingHandler(started, release)}
	run := startServer(t, srv)
	busy := dial(t, run.addr)
	busy.send("GET /block HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, started, "the handler to start")
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with an expired context: %v, want context.DeadlineExceeded", err)
	}
}

func TestServerClose(t *testing.T) {
	started := make(chan struct{}, 1)
	cancelled := make(chan error, 1)
	srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/block" {
			io.WriteString(w, "quick")
			return
		}
		started <- struct{}{}
		select {
		case <-r.Context().Done():
			cancelled <- r.Context().Err()
		case <-time.After(5 * time.Second):
			cancelled <- errors.New("not cancelled")
		}
	})}
	run := startServer(t, srv)
	idle := dial(t, run.addr)
	idle.send("GET /quick HTTP/1.1\r\nHost: h\r\n\r\n")
	idle.response("GET")
	busy := dial(t, run.addr)
	busy.send("GET /block HTTP/1.1\r\nHost: h\r\n\r\n")
	waitFor(t, started, "the handler to start")

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	idle.expectClosed()
	busy.expectClosed()
	if err := waitFor(t, cancelled, "the handler"); !errors.Is(err, context.Canceled) {
		t.Fatalf("handler's context after Close: %v", err)
	}
	waitFor(t, run.done, "Serve to return")
	if !errors.Is(run.err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", run.err)
	}
}

// ---- 10. panics ----------------------------------------------------------

func TestServerHandlerPanic(t *testing.T) {
	var logs syncBuffer
	srv := &Server{
		ErrorLog: slog.New(slog.NewTextHandler(&logs, nil)),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/panic":
				w.Header().Set("X-Before", "1")
				w.Write([]byte("partial"))
				panic("boom-" + r.URL.RawQuery)
			case "/abort":
				panic(http.ErrAbortHandler)
			}
			io.WriteString(w, "fine")
		}),
	}
	addr := startServer(t, srv).addr
	for _, path := range []string{"/abort", "/panic?q=1"} {
		c := dial(t, addr)
		c.send("GET " + path + " HTTP/1.1\r\nHost: h\r\n\r\n")
		c.expectClosed()
		// The server goes on serving new connections.
		if resp, body, _ := exchange(t, addr, "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n", "GET"); resp.StatusCode != 200 || body != "fine" {
			t.Fatalf("after %s: %s, %q", path, resp.Status, body)
		}
		got := logs.String()
		if path == "/abort" && got != "" {
			t.Errorf("http.ErrAbortHandler was logged: %s", got)
		}
		if path != "/abort" && (!strings.Contains(got, "boom-q=1") || !strings.Contains(got, "panic serving request")) {
			t.Errorf("the panic was not logged: %q", got)
		}
	}
}
