package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an httptest server that counts the connections it
// accepted.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts, &conns
}

func post(t *testing.T, ctx context.Context, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, NewBytes([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer k")
	return req
}

func roundTrip(t *testing.T, tr http.RoundTripper, req *http.Request) (*http.Response, string) {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp, string(b)
}

// TestAgainstNetHTTP sends the same requests through this Transport and
// net/http's, to a net/http server, and compares what the caller sees.
func TestAgainstNetHTTP(t *testing.T) {
	ts, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		in, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen-Auth", r.Header.Get("Authorization"))
		w.Header().Set("X-Seen-Len", fmt.Sprint(r.ContentLength))
		w.Header().Set("x-lower-case", "v") // canonicalised by the server anyway
		switch r.URL.Path {
		case "/length":
			w.Header().Set("Content-Type", "application/json")
			w.Write(in)
		case "/chunked":
			w.Header().Set("Content-Type", "text/event-stream")
			for i := range 3 {
				fmt.Fprintf(w, "data: %d %s\n\n", i, in)
				w.(http.Flusher).Flush()
			}
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		case "/error":
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		case "/query":
			fmt.Fprint(w, r.URL.RawQuery)
		}
	})
	std := &http.Transport{DisableCompression: true}
	t.Cleanup(std.CloseIdleConnections)
	var h1 Transport
	t.Cleanup(h1.CloseIdleConnections)
	for _, path := range []string{"/length", "/chunked", "/empty", "/error", "/query?api-version=2024-10-21&x=%20y"} {
		t.Run(path, func(t *testing.T) {
			body := `{"model":"m","n":1}`
			want, wantBody := roundTrip(t, std, post(t, t.Context(), ts.URL+path, body))
			got, gotBody := roundTrip(t, &h1, post(t, t.Context(), ts.URL+path, body))
			if got.StatusCode != want.StatusCode || got.Status != want.Status {
				t.Errorf("status %q, net/http %q", got.Status, want.Status)
			}
			if gotBody != wantBody {
				t.Errorf("body %q, net/http %q", gotBody, wantBody)
			}
			if got.ContentLength != want.ContentLength {
				t.Errorf("ContentLength %d, net/http %d", got.ContentLength, want.ContentLength)
			}
			for _, k := range []string{"Content-Type", "Content-Length", "Transfer-Encoding", "X-Seen-Auth", "X-Seen-Len", "X-Lower-Case"} {
				if g, w := fmt.Sprint(got.Header[k]), fmt.Sprint(want.Header[k]); g != w {
					t.Errorf("header %s = %s, net/http %s", k, g, w)
				}
			}
			if fmt.Sprint(got.TransferEncoding) != fmt.Sprint(want.TransferEncoding) {
				t.Errorf("TransferEncoding %v, net/http %v", got.TransferEncoding, want.TransferEncoding)
			}
		})
	}
}

func TestKeepAlive(t *testing.T) {
	ts, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.URL.Path == "/chunked" {
			w.Write([]byte("a"))
			w.(http.Flusher).Flush()
		}
		w.Write([]byte("ok"))
	})
	var tr Transport
	defer tr.CloseIdleConnections()
	for i := range 20 {
		path := "/length"
		if i%2 == 1 {
			path = "/chunked"
		}
		roundTrip(t, &tr, post(t, t.Context(), ts.URL+path, "x"))
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("20 sequential requests used %d connections, want 1", n)
	}
	// A body closed before its end takes its connection with it.
	resp, err := tr.RoundTrip(post(t, t.Context(), ts.URL+"/length", "x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	roundTrip(t, &tr, post(t, t.Context(), ts.URL+"/length", "x"))
	if n := conns.Load(); n != 2 {
		t.Fatalf("after a body closed early: %d connections, want 2", n)
	}
}

// rawServer answers each connection with serve, which reads requests with
// http.ReadRequest and writes what it likes.
func rawServer(t *testing.T, serve func(c net.Conn, br *bufio.Reader)) (url string, accepted *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c, bufio.NewReader(c))
			}()
		}
	}()
	return "http://" + ln.Addr().String(), &n
}

func readRequest(t *testing.T, br *bufio.Reader) *http.Request {
	r, err := http.ReadRequest(br)
	if err != nil {
		return nil
	}
	io.Copy(io.Discard, r.Body)
	return r
}

// A server may close an idle keep-alive connection at any time; the next
// request on it is sent again on a new connection.
func TestRetryAfterIdleClose(t *testing.T) {
	url, accepted := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		if readRequest(t, br) == nil {
			return
		}
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		// then close without saying so
	})
	var tr Transport
	defer tr.CloseIdleConnections()
	for i := range 3 {
		time.Sleep(20 * time.Millisecond) // let the close arrive
		if _, body := roundTrip(t, &tr, post(t, t.Context(), url, "x")); body != "ok" {
			t.Fatalf("request %d: body %q", i, body)
		}
	}
	if n := accepted.Load(); n != 3 {
		t.Fatalf("accepted %d connections, want 3", n)
	}

	// A body that cannot be sent again is not retried.
	roundTrip(t, &tr, post(t, t.Context(), url, "x"))
	time.Sleep(20 * time.Millisecond)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, url, io.NopCloser(strings.NewReader("x")))
	req.ContentLength = 1
	if _, err := tr.RoundTrip(req); !errors.Is(err, errNoAnswer) {
		t.Fatalf("one-shot body on a closed connection: err %v, want %v", err, errNoAnswer)
	}
}

func TestMalformedAnswers(t *testing.T) {
	cases := []struct {
		name, answer, wantErr string
		readErr               bool // the head is fine; reading the body fails
	}{
		{"html instead of http", "<html><body>502 Bad Gateway</body></html>\r\n", "malformed status line", false},
		{"bad status code", "HTTP/1.1 2x0 OK\r\n\r\n", "malformed status code", false},
		{"conflicting lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", "conflicting Content-Length", false},
		{"negative length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "invalid Content-Length", false},
		{"gzip framing", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "unsupported transfer encoding", false},
		{"folded header", "HTTP/1.1 200 OK\r\nX-A: 1\r\n  2\r\nContent-Length: 0\r\n\r\n", "folding", false},
		{"bad header name", "HTTP/1.1 200 OK\r\nX A: 1\r\n\r\n", "malformed header line", false},
		{"headers cut", "HTTP/1.1 200 OK\r\nContent-Type: app", "unexpected EOF", false},
		{"huge header", "HTTP/1.1 200 OK\r\nX-A: " + strings.Repeat("a", 20000) + "\r\n\r\n", "too long", false},
		{"body cut", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "unexpected EOF", true},
		{"chunks cut", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "unexpected EOF", true},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n", "invalid", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
				if readRequest(t, br) != nil {
					io.WriteString(c, tc.answer)
				}
			})
			var tr Transport
			defer tr.CloseIdleConnections()
			resp, err := tr.RoundTrip(post(t, t.Context(), url, "x"))
			if !tc.readErr {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("read err %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestFraming(t *testing.T) {
	cases := []struct {
		name, answer, wantBody string
		wantConns              int32 // after two requests
		keepOpen               bool  // the server reads on after an answer that ends the connection
	}{
		{"interim 100 skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", 1, false},
		{"trailer consumed", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n", "ok", 1, false},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", "ok", 2, false},
		{"http/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", 2, false},
		{"read to close", "HTTP/1.1 200 OK\r\n\r\nok", "ok", 2, false},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", "ok", 1, false},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", "", 1, false},
		{"framing in lower case", "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", "ok", 1, false},
		{"close in lower case", "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok", "ok", 2, false},
		// Only the client's honouring of Connection: close can make two.
		{"close with the connection left open", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", "ok", 2, true},
	}
	for _, tc := range cases {
		for _, keep := range [][]string{nil, {"Content-Type"}} {
			t.Run(fmt.Sprintf("%s/success headers %q", tc.name, keep), func(t *testing.T) {
				url, accepted := rawServer(t, func(c net.Conn, br *bufio.Reader) {
					for readRequest(t, br) != nil {
						io.WriteString(c, tc.answer)
						if tc.wantConns == 2 && !tc.keepOpen {
							return
						}
					}
				})
				tr := Transport{SuccessHeaders: keep}
				defer tr.CloseIdleConnections()
				for range 2 {
					if _, body := roundTrip(t, &tr, post(t, t.Context(), url, "x")); body != tc.wantBody {
						t.Fatalf("body %q, want %q", body, tc.wantBody)
					}
				}
				if n := accepted.Load(); n != tc.wantConns {
					t.Fatalf("%d connections for two requests, want %d", n, tc.wantConns)
				}
			})
		}
	}
}

// TestSuccessHeaders: with SuccessHeaders set, a 2xx answer keeps only
// those headers and its framing, in any letter case; other statuses keep
// all; a malformed line is refused even where it would be dropped.
func TestSuccessHeaders(t *testing.T) {
	cases := []struct {
		name, answer string
		want         http.Header
		wantErr      string
	}{
		{"2xx filtered", "HTTP/1.1 200 OK\r\nx-request-id: r1\r\ncontent-type: application/json\r\nOpenai-Processing-Ms: 1\r\nContent-Length: 2\r\n\r\nok",
			http.Header{"Content-Type": {"application/json"}, "Content-Length": {"2"}}, ""},
		{"201 filtered", "HTTP/1.1 201 Created\r\nContent-Type: text/plain\r\nX-Other: a\r\nX-Other: b\r\nContent-Length: 2\r\n\r\nok",
			http.Header{"Content-Type": {"text/plain"}, "Content-Length": {"2"}}, ""},
		{"429 keeps all", "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nX-Ratelimit-Remaining-Requests: 0\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
			http.Header{"Retry-After": {"3"}, "X-Ratelimit-Remaining-Requests": {"0"}, "Content-Type": {"application/json"}, "Content-Length": {"2"}}, ""},
		{"near names dropped", "HTTP/1.1 200 OK\r\nContent-Typo: x\r\nContent-Type-X: y\r\nContent-Length: 2\r\n\r\nok",
			http.Header{"Content-Length": {"2"}}, ""},
		{"malformed line refused", "HTTP/1.1 200 OK\r\nX Bad: 1\r\nContent-Length: 2\r\n\r\nok", nil, "malformed header line"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
				if readRequest(t, br) != nil {
					io.WriteString(c, tc.answer)
				}
			})
			tr := Transport{SuccessHeaders: []string{"Content-Type"}}
			defer tr.CloseIdleConnections()
			resp, err := tr.RoundTrip(post(t, t.Context(), url, "x"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if fmt.Sprint(resp.Header) != fmt.Sprint(tc.want) {
				t.Fatalf("header %v, want %v", resp.Header, tc.want)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	url, _ := rawServer(t, func(c net.Conn, br *bufio.Reader) {
		r := readRequest(t, br)
		if r == nil {
			return
		}
		if r.URL.Path == "/stream" {
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\ndata:1\r\n")
		}
		<-release // then hang
	})
	var tr Transport
	defer tr.CloseIdleConnections()

	t.Run("before the answer", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if _, err := tr.RoundTrip(post(t, ctx, url+"/hang", "x")); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v, want context.DeadlineExceeded", err)
		}
	})
	t.Run("in the body", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		resp, err := tr.RoundTrip(post(t, ctx, url+"/stream", "x"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		buf := make([]byte, 64)
		n, err := resp.Body.Read(buf)
		if err != nil || string(buf[:n]) != "data:1" {
			t.Fatalf("first read %q, %v", buf[:n], err)
		}
		time.AfterFunc(20*time.Millisecond, cancel)
		if _, err := resp.Body.Read(buf); !errors.Is(err, context.Canceled) {
			t.Fatalf("read after cancel: %v, want context.Canceled", err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := tr.RoundTrip(post(t, ctx, url, "x")); !errors.Is(err, context.Canceled) {
			t.Fatalf("err %v, want context.Canceled", err)
		}
	})
}

func TestMaxConnsPerHost(t *testing.T) {
	var inFlight, peak atomic.Int32
	ts, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		inFlight.Add(-1)
		w.Write([]byte("ok"))
	})
	tr := Transport{MaxConnsPerHost: 2}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if _, body := roundTrip(t, &tr, post(t, t.Context(), ts.URL, "x")); body != "ok" {
				t.Errorf("body %q", body)
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > 2 {
		t.Fatalf("peak %d requests in flight, want at most 2", p)
	}
	if n := conns.Load(); n > 2 {
		t.Fatalf("%d connections, want at most 2", n)
	}
	// A waiting request gives up with its context.
	hold, err := tr.RoundTrip(post(t, t.Context(), ts.URL, "x"))
	if err != nil {
		t.Fatal(err)
	}
	hold2, err := tr.RoundTrip(post(t, t.Context(), ts.URL, "x"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	if _, err := tr.RoundTrip(post(t, ctx, ts.URL, "x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("third request with two held: %v, want context.DeadlineExceeded", err)
	}
	hold.Body.Close()
	hold2.Body.Close()
	roundTrip(t, &tr, post(t, t.Context(), ts.URL, "x"))
}

func TestRefusedRequests(t *testing.T) {
	ts, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {})
	var tr Transport
	cases := []struct {
		name string
		mod  func(*http.Request)
		want string
	}{
		{"header injection", func(r *http.Request) { r.Header.Set("X-A", "1\r\nX-Injected: 2") }, "invalid value for header X-A"},
		{"bad header name", func(r *http.Request) { r.Header["X A"] = []string{"1"} }, "invalid header name"},
		{"https", func(r *http.Request) { r.URL.Scheme = "https" }, "only http://"},
		{"unknown length", func(r *http.Request) { r.ContentLength = -1 }, "known ContentLength"},
	}
	for _, tc := range cases {
		req := post(t, t.Context(), ts.URL, "x")
		tc.mod(req)
		if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("refused requests opened %d connections", n)
	}
}

func TestIdleTimeout(t *testing.T) {
	ts, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })
	tr := Transport{IdleTimeout: 10 * time.Millisecond}
	defer tr.CloseIdleConnections()
	roundTrip(t, &tr, post(t, t.Context(), ts.URL, "x"))
	time.Sleep(30 * time.Millisecond)
	roundTrip(t, &tr, post(t, t.Context(), ts.URL, "x"))
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d connections, want 2 (the idle one expired)", n)
	}
}
