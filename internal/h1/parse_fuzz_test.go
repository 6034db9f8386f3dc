package h1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"reflect"
	"sync"
	"testing"
	"time"
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

// FuzzChunkedBody sends arbitrary bytes as a chunked request body through a
// running Server: whatever the handler reads without an error, net/http's
// chunked reader must read from the same bytes too, and the same data; and
// nothing panics.
func FuzzChunkedBody(f *testing.F) {
	for _, s := range []string{
		"5\r\nhello\r\n0\r\n\r\n",
		"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: x\r\n\r\n",
		"A\r\n0123456789\r\n0\r\n\r\n",
		"1\nx\n0\n\n",
		"fffffffffffffff\r\n",
		"2\r\nabc\r\n0\r\n\r\n",
		"0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	type result struct {
		body []byte
		err  error
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// A server per execution: the bytes after a valid body may hold
		// another request, whose handler must not answer the next execution.
		results := make(chan result, 1)
		srv := &Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, err := io.ReadAll(r.Body)
			select {
			case results <- result{b, err}:
			default: // a later request on the same connection
			}
		})}
		// In-memory connections: a TCP connection per execution would run
		// the machine out of ports (TIME_WAIT) within a minute of fuzzing.
		ln := &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
		go srv.Serve(ln)
		defer srv.Close()
		client, server := net.Pipe()
		defer client.Close()
		ln.conns <- server
		go func() {
			client.Write(append([]byte("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"), data...))
			client.Close() // the end of the input
		}()
		var got result
		select {
		case got = <-results:
		case <-time.After(10 * time.Second):
			t.Fatalf("%q: the handler never finished reading", data)
		}
		if got.err != nil {
			return
		}
		want, werr := io.ReadAll(httputil.NewChunkedReader(bytes.NewReader(data)))
		if werr != nil {
			t.Fatalf("%q: the server read %q; net/http's chunked reader refuses it: %v", data, got.body, werr)
		}
		if !bytes.Equal(got.body, want) {
			t.Fatalf("%q: the server read %q, net/http %q", data, got.body, want)
		}
	})
}

// pipeListener hands Serve the server ends of net.Pipe connections.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
