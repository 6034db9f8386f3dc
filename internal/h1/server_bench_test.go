package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
)

// BenchmarkParseHead: the head the openai SDK sends for a chat completion.
func BenchmarkParseHead(b *testing.B) {
	head := []byte("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: OpenAI/Go 3.96.0\r\n" +
		"Content-Length: 95\r\nAccept: application/json\r\nAuthorization: Bearer sb-bench-client-key-0123456789\r\n" +
		"Content-Type: application/json\r\nX-Stainless-Lang: go\r\nX-Stainless-Retry-Count: 0\r\nAccept-Encoding: gzip\r\n\r\n")
	c := &sconn{s: &Server{}, remote: "127.0.0.1:40000"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.parseHead(head); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServe: one keep-alive connection, a chat-sized POST and a small
// JSON answer, through h1.Server and through net/http's server with the
// same handler. The client is a raw loop on the connection, so the
// difference between the two is the servers'.
func BenchmarkServe(b *testing.B) {
	body := `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello"}]}`
	req := []byte("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
		"Authorization: Bearer sk-x\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body)
	answer := []byte(`{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"Hello"}}]}`)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Request-Id", "req_0123456789")
		w.Write(answer)
	})
	for _, tc := range []struct {
		name  string
		serve func(net.Listener) (stop func())
	}{
		{"h1", func(ln net.Listener) func() {
			s := &Server{Handler: h}
			go s.Serve(ln)
			return func() { s.Close() }
		}},
		{"net-http", func(ln net.Listener) func() {
			s := &http.Server{Handler: h}
			go s.Serve(ln)
			return func() { s.Close() }
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer tc.serve(ln)()
			nc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			br := bufio.NewReader(nc)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := nc.Write(req); err != nil {
					b.Fatal(err)
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, resp.Body); err != nil || resp.StatusCode != 200 {
					b.Fatal(resp.Status, err)
				}
				resp.Body.Close()
			}
		})
	}
}
