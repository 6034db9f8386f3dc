package gemini

import "testing"

func BenchmarkToGemini(b *testing.B) {
	for _, name := range []string{"chat-text", "chat-stream-parallel-tool-calls"} {
		body := readFixture(b, "openai/"+name+".request.json")
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ToGemini(body, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFromGemini(b *testing.B) {
	body := readFixture(b, "gemini/generate-content.response.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := FromGemini(body, "gpt-4o"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamEvent measures the hot path: one recorded text event into
// a reused buffer.
func BenchmarkStreamEvent(b *testing.B) {
	payloads := readPayloads(b, readFixture(b, "gemini/stream-text.sse"))
	s := NewStream("gpt-4o", true)
	buf, err := s.Event(nil, payloads[0])
	if err != nil {
		b.Fatal(err)
	}
	data := payloads[1]
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = s.Event(buf[:0], data); err != nil {
			b.Fatal(err)
		}
	}
}
