package bedrock

import (
	"bytes"
	"io"
	"testing"
)

func BenchmarkToConverse(b *testing.B) {
	for _, name := range []string{"chat-text", "chat-stream-parallel-tool-calls"} {
		body := readFixture(b, "openai/"+name+".request.json")
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ToConverse(body, Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFromConverse(b *testing.B) {
	body := readFixture(b, "bedrock/converse-tool-use.response.json")
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := FromConverse(body, "gpt-4o"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamFixture decodes and translates a whole recorded stream:
// the hot path of a Bedrock stream.
func BenchmarkStreamFixture(b *testing.B) {
	raw := readFixture(b, "bedrock/converse-stream-text.eventstream")
	var buf []byte
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		d := NewDecoder(bytes.NewReader(raw))
		s := NewStream("gpt-4o", true)
		buf = buf[:0]
		for {
			f, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			if buf, err = s.Frame(buf, f); err != nil {
				b.Fatal(err)
			}
		}
	}
}
