package openai

import (
	"strings"
	"testing"
)

func benchScanRewrite(b *testing.B, body []byte) {
	out := make([]byte, 0, len(body)+128)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := ScanChat(body, nil)
		if err != nil {
			b.Fatal(err)
		}
		out = r.Rewrite(out[:0], body, "gpt-4o-2024-08-06", true)
	}
}

func BenchmarkScanChat(b *testing.B) {
	b.Run("fixture-8KB", func(b *testing.B) {
		body := readFixture(b, "openai/chat-stream-parallel-tool-calls.request.json")
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, err := ScanChat(body, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkScanChatRewrite(b *testing.B) {
	b.Run("fixture-8KB", func(b *testing.B) {
		benchScanRewrite(b, readFixture(b, "openai/chat-stream-parallel-tool-calls.request.json"))
	})
	b.Run("synthetic-50KB", func(b *testing.B) {
		prompt := strings.Repeat("The quick brown fox jumps over the lazy dog. \\\"quoted\\\" ", 900)
		body := `{"model":"gpt-4o","messages":[{"role":"system","content":"You are helpful."},{"role":"user","content":"` + prompt + `"}],"stream":true,"temperature":0.2,"max_tokens":512,"user":"user-1234"}`
		if len(body) < 50_000 {
			b.Fatalf("synthetic body is %d bytes", len(body))
		}
		benchScanRewrite(b, []byte(body))
	})
}

func BenchmarkScanChunk(b *testing.B) {
	chunk := []byte(`{"id":"chatcmpl-CMKB4CzjM9AbvNcftqEsFcWBSrZNT","object":"chat.completion.chunk","created":1759436814,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_cbf1785567","choices":[{"index":0,"delta":{"content":" capital"},"logprobs":null,"finish_reason":null}],"usage":null,"obfuscation":"GR2ZqJGr"}`)
	usage := []byte(`{"id":"chatcmpl-CMKB4CzjM9AbvNcftqEsFcWBSrZNT","object":"chat.completion.chunk","created":1759436814,"model":"gpt-4o-2024-08-06","service_tier":"default","system_fingerprint":"fp_cbf1785567","choices":[],"usage":{"prompt_tokens":14,"completion_tokens":8,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}},"obfuscation":""}`)
	for _, c := range []struct {
		name string
		data []byte
	}{{"delta", chunk}, {"usage", usage}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ScanChunk(c.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkScanResponse(b *testing.B) {
	body := readFixture(b, "openai/chat-text.response.json")
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ScanResponse(body); err != nil {
			b.Fatal(err)
		}
	}
}
