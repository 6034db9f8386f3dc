package bedrock

import (
	"bytes"
	"hash/crc32"
	"io"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

func crc32IEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// FuzzDecoder feeds arbitrary bytes to the Decoder: it must never panic
// nor loop, and a frame built from the fuzzed header and payload must
// round-trip.
func FuzzDecoder(f *testing.F) {
	for _, name := range eventstreams(f) {
		f.Add(readFixture(f, "bedrock/"+name+".eventstream"), "contentBlockDelta", []byte(`{"p":"ab"}`))
	}
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0}, "", []byte{})
	f.Fuzz(func(t *testing.T, raw []byte, eventType string, payload []byte) {
		d := NewDecoder(bytes.NewReader(raw))
		for i := 0; ; i++ {
			if _, err := d.Next(); err != nil {
				break
			}
			if i > len(raw) {
				t.Fatal("more frames than bytes")
			}
		}
		if len(eventType) > 1000 || len(payload) > 1<<16 {
			return
		}
		in := Frame{EventType: eventType, MessageType: "event", Payload: payload}
		enc := AppendFrame(nil, in)
		got, err := NewDecoder(bytes.NewReader(enc)).Next()
		if err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if got.EventType != in.EventType || got.MessageType != "event" || !bytes.Equal(got.Payload, in.Payload) {
			t.Fatalf("round trip = %+v, want %+v", got, in)
		}
	})
}

// FuzzStream feeds an arbitrary frame, after a real stream prefix, to a
// Stream: it must never panic, must append nothing on error, and must
// only ever append complete "data: " events holding valid JSON (or
// [DONE]).
func FuzzStream(f *testing.F) {
	for _, name := range eventstreams(f) {
		d := NewDecoder(bytes.NewReader(readFixture(f, "bedrock/"+name+".eventstream")))
		for {
			fr, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				f.Fatal(err)
			}
			f.Add(fr.EventType, fr.MessageType, fr.ExceptionType, bytes.Clone(fr.Payload))
		}
	}
	f.Add("contentBlockDelta", "event", "", []byte(`{"contentBlockIndex":1,"delta":{"toolUse":{"input":"\"\\"}}}`))
	f.Add("contentBlockStart", "event", "", []byte(`{"contentBlockIndex":1e30,"start":{"toolUse":{"toolUseId":"\ud83d\ude00","name":1}}}`))
	f.Fuzz(func(t *testing.T, eventType, messageType, exceptionType string, payload []byte) {
		s := NewStream("m\"\u2028", true)
		out, err := s.Frame(nil, Frame{EventType: "messageStart", MessageType: "event", Payload: []byte(`{"p":"a","role":"assistant"}`)})
		if err != nil {
			t.Fatal(err)
		}
		out, err = s.Frame(out, Frame{EventType: "contentBlockStart", MessageType: "event", Payload: []byte(`{"contentBlockIndex":1,"start":{"toolUse":{"name":"n","toolUseId":"t"}}}`)})
		if err != nil {
			t.Fatal(err)
		}
		n := len(out)
		fr := Frame{EventType: eventType, MessageType: messageType, ExceptionType: exceptionType, Payload: payload}
		for range 2 {
			before := len(out)
			out, err = s.Frame(out, fr)
			if err != nil && len(out) != before {
				t.Fatalf("Frame(%+v) appended %q with error %v", fr, out[before:], err)
			}
		}
		out, _ = s.Frame(out, Frame{EventType: "metadata", MessageType: "event", Payload: []byte(`{"usage":{"inputTokens":1}}`)})
		for rest := out[n:]; len(rest) > 0; {
			line, r, ok := bytes.Cut(rest, []byte("\n\n"))
			p, isData := bytes.CutPrefix(line, []byte("data: "))
			if !ok || !isData {
				t.Fatalf("Frame(%+v) appended a broken SSE event: %q", fr, rest)
			}
			if string(p) != "[DONE]" && !jsontext.Value(p).IsValid() {
				t.Fatalf("Frame(%+v) appended invalid JSON: %s", fr, p)
			}
			rest = r
		}
	})
}
