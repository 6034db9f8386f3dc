package anthropic

import (
	"testing"
)

func BenchmarkToMessages(b *testing.B) {
	for _, name := range []string{"chat-text", "chat-stream-parallel-tool-calls"} {
		body := readFixture(b, "openai/"+name+".request.json")
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ToMessages(body, "claude-sonnet-4-5", Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFromMessage(b *testing.B) {
	body := readFixture(b, "anthropic/messages-tool-use.response.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := FromMessage(body, "gpt-4o"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamEvent measures the hot path: one text_delta, padded as
// Anthropic sends it, into a reused buffer.
func BenchmarkStreamEvent(b *testing.B) {
	name := []byte("content_block_delta")
	data := []byte(`{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" the right tool! Let me fetch the current USD to EUR exchange rate for you."}     }`)
	s := NewStream("gpt-4o", true)
	buf, err := s.Event(nil, []byte("message_start"), []byte(`{"type":"message_start","message":{"id":"msg_01E3Wn1NynZw9FALZ68znj9S","usage":{"input_tokens":702}}}`))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if buf, err = s.Event(buf[:0], name, data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamFixture translates a whole recorded tool-use stream.
func BenchmarkStreamFixture(b *testing.B) {
	evs := readEvents(b, readFixture(b, "anthropic/messages-stream-tool-use.sse"))
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		s := NewStream("gpt-4o", true)
		buf = buf[:0]
		for _, ev := range evs {
			var err error
			if buf, err = s.Event(buf, ev.name, ev.data); err != nil {
				b.Fatal(err)
			}
		}
	}
}
