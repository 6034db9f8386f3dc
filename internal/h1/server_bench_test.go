package h1

import "testing"

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
