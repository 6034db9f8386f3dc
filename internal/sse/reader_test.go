package sse

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"
)

const fixtures = "../emulator/fixtures"

// ev is a comparable copy of an Event.
type ev struct {
	Name, Data, ID string
	HasData        bool
}

// readAll parses the whole stream and returns copies of its events and
// the terminating error.
func readAll(r io.Reader) ([]ev, error) {
	sr := NewReader(r)
	var out []ev
	for {
		e, err := sr.Next()
		if err != nil {
			return out, err
		}
		out = append(out, ev{Name: string(e.Name), Data: string(e.Data), ID: string(e.ID), HasData: e.Data != nil})
	}
}

func TestFixtures(t *testing.T) {
	tests := []struct {
		file      string
		events    int
		firstName string
		lastData  string // exact Data of the last event; "" to skip
	}{
		{"openai/chat-stream-usage.sse", 12, "", "[DONE]"},
		{"openai/chat-stream-tool-calls.sse", 15, "", "[DONE]"},
		{"openai/chat-stream-parallel-tool-calls.sse", 12, "", "[DONE]"},
		{"openai/responses-stream-error.sse", 4, "response.created", ""},
		{"openai/responses-stream-function-call.sse", 17, "response.created", ""},
		{"openai/responses-stream-text.sse", 9, "response.created", ""},
		{"azure/chat-stream-content-filter.sse", 9, "", "[DONE]"},
		{"anthropic/messages-image-base64.sse", 11, "message_start", `{"type":"message_stop"               }`},
		{"anthropic/messages-stream-error-overloaded.sse", 5, "message_start", ""},
		{"anthropic/messages-stream-parallel-tool-use.sse", 10, "message_start", ""},
		{"anthropic/messages-stream-text.sse", 10, "message_start", ""},
		{"anthropic/messages-stream-thinking.sse", 17, "message_start", ""},
		{"anthropic/messages-stream-tool-use.sse", 36, "message_start", ""},
		{"gemini/stream-function-call.sse", 1, "", ""},
		{"gemini/stream-text.sse", 3, "", ""},
		{"mistral/chat-stream-text.sse", 9, "", "[DONE]"},
		{"mistral/chat-stream-tool-call.sse", 3, "", "[DONE]"},
		{"groq/chat-stream-tool-call.sse", 4, "", "[DONE]"},
		{"cohere/chat-stream-text.sse", 11, "message-start", ""},
		{"cohere/chat-stream-tool-call.sse", 47, "message-start", ""},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(fixtures, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			readers := map[string]func() io.Reader{
				"whole":   func() io.Reader { return bytes.NewReader(raw) },
				"onebyte": func() io.Reader { return iotest.OneByteReader(bytes.NewReader(raw)) },
				"half":    func() io.Reader { return iotest.HalfReader(bytes.NewReader(raw)) },
				"dataerr": func() io.Reader { return iotest.DataErrReader(bytes.NewReader(raw)) },
			}
			var want []ev
			for _, name := range []string{"whole", "onebyte", "half", "dataerr"} {
				got, err := readAll(readers[name]())
				if err != io.EOF {
					t.Fatalf("%s: Next error = %v, want io.EOF", name, err)
				}
				if want == nil {
					want = got
					continue
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: events differ from whole read (-whole +%s):\n%s", name, name, diff)
				}
			}
			if len(want) != tt.events {
				t.Fatalf("got %d events, want %d", len(want), tt.events)
			}
			if want[0].Name != tt.firstName {
				t.Errorf("first event name = %q, want %q", want[0].Name, tt.firstName)
			}
			for i, e := range want {
				if !e.HasData || len(e.Data) == 0 {
					t.Errorf("event %d has no data", i)
				}
				if strings.ContainsAny(e.Data, "\r\n") {
					t.Errorf("event %d data contains a line break: %q", i, e.Data)
				}
				if (tt.firstName != "") != (e.Name != "") {
					t.Errorf("event %d name = %q, want a name iff the stream has names", i, e.Name)
				}
			}
			if tt.lastData != "" && want[len(want)-1].Data != tt.lastData {
				t.Errorf("last event data = %q, want %q", want[len(want)-1].Data, tt.lastData)
			}
		})
	}
}

func TestFixtureExactValues(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(fixtures, "anthropic/messages-stream-text.sse"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := readAll(bytes.NewReader(raw))
	// Anthropic pads data lines with trailing spaces; they are kept.
	if want := `{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}   }`; got[1].Data != want {
		t.Errorf("event 1 data = %q, want %q", got[1].Data, want)
	}
	if got[2].Name != "ping" || got[2].Data != `{"type": "ping"}` {
		t.Errorf("event 2 = %+v, want ping", got[2])
	}

	raw, err = os.ReadFile(filepath.Join(fixtures, "gemini/stream-text.sse"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = readAll(bytes.NewReader(raw))
	if want := `{"candidates": [{"content": {"parts": [{"text": "The"}],"role": "model"}}],"usageMetadata": {"promptTokenCount": 15,"totalTokenCount": 15,"promptTokensDetails": [{"modality": "TEXT","tokenCount": 15}]},"modelVersion": "gemini-2.0-flash-exp","responseId": "w1peaMz6INOvnvgPgYfPiQY"}`; got[0].Data != want {
		t.Errorf("gemini event 0 data = %q, want %q", got[0].Data, want)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []ev
		wantErr error
	}{
		{"lf", "data: a\n\ndata: b\n\n", []ev{{Data: "a", HasData: true}, {Data: "b", HasData: true}}, io.EOF},
		{"crlf", "data: a\r\n\r\ndata: b\r\n\r\n", []ev{{Data: "a", HasData: true}, {Data: "b", HasData: true}}, io.EOF},
		{"cr", "data: a\r\rdata: b\r\r", []ev{{Data: "a", HasData: true}, {Data: "b", HasData: true}}, io.EOF},
		{"mixed terminators", "data: a\r\ndata: b\rdata: c\n\r\n", []ev{{Data: "a\nb\nc", HasData: true}}, io.EOF},
		{"multi-line data", "data: line1\ndata: line2\ndata:\ndata: line4\n\n", []ev{{Data: "line1\nline2\n\nline4", HasData: true}}, io.EOF},
		{"comments skipped", ": hello\ndata: a\n: mid\n\n: tail\n", []ev{{Data: "a", HasData: true}}, io.EOF},
		{"comment-only event skipped", ": ping\n\n:\n\ndata: x\n\n", []ev{{Data: "x", HasData: true}}, io.EOF},
		{"retry-only event skipped", "retry: 1000\n\ndata: x\n\n", []ev{{Data: "x", HasData: true}}, io.EOF},
		{"one space removed", "data:  two\n\ndata:none\n\n", []ev{{Data: " two", HasData: true}, {Data: "none", HasData: true}}, io.EOF},
		{"trailing spaces kept", "data: {}   \n\n", []ev{{Data: "{}   ", HasData: true}}, io.EOF},
		{"field without colon", "data\n\n", []ev{{Data: "", HasData: true}}, io.EOF},
		{"bom dropped", "\xEF\xBB\xBFdata: a\n\n", []ev{{Data: "a", HasData: true}}, io.EOF},
		{"bom only at start", "data: a\n\n\xEF\xBB\xBFdata: b\n\n", []ev{{Data: "a", HasData: true}}, io.EOF},
		{"event name", "event: ping\ndata: {}\n\n", []ev{{Name: "ping", Data: "{}", HasData: true}}, io.EOF},
		{"name only", "event: done\n\n", []ev{{Name: "done"}}, io.EOF},
		{"empty name is none", "event:\n\n", nil, io.EOF},
		{"last name wins", "event: a\nevent: b\ndata: x\n\n", []ev{{Name: "b", Data: "x", HasData: true}}, io.EOF},
		{"unknown field ignored", "foo: bar\ndata: x\n\n", []ev{{Data: "x", HasData: true}}, io.EOF},
		{"id persists", "id: 1\ndata: a\n\ndata: b\n\nid: 2\ndata: c\n\n", []ev{{Data: "a", ID: "1", HasData: true}, {Data: "b", ID: "1", HasData: true}, {Data: "c", ID: "2", HasData: true}}, io.EOF},
		{"id with nul ignored", "id: 1\ndata: a\n\nid: x\x00y\ndata: b\n\n", []ev{{Data: "a", ID: "1", HasData: true}, {Data: "b", ID: "1", HasData: true}}, io.EOF},
		{"empty stream", "", nil, io.EOF},
		{"blank lines only", "\n\n\r\n", nil, io.EOF},
		{"truncated after data line", "data: a\n\ndata: b\n", []ev{{Data: "a", HasData: true}}, io.ErrUnexpectedEOF},
		{"truncated mid line", "data: a\n\ndata: {\"x", []ev{{Data: "a", HasData: true}}, io.ErrUnexpectedEOF},
		{"truncated after name", "event: x\n", nil, io.ErrUnexpectedEOF},
		{"truncated single newline", "data: a\n\ndata: b\r\n", []ev{{Data: "a", HasData: true}}, io.ErrUnexpectedEOF},
		{"trailing partial comment is clean", "data: a\n\n: keep-al", []ev{{Data: "a", HasData: true}}, io.EOF},
		{"no final newline", "data: a\n\ndata: b", []ev{{Data: "a", HasData: true}}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, mode := range []string{"whole", "onebyte", "half"} {
				var rd io.Reader = strings.NewReader(tt.in)
				switch mode {
				case "onebyte":
					rd = iotest.OneByteReader(rd)
				case "half":
					rd = iotest.HalfReader(rd)
				}
				got, err := readAll(rd)
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("%s: error = %v, want %v", mode, err, tt.wantErr)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("%s: events mismatch (-want +got):\n%s", mode, diff)
				}
			}
		})
	}
}

func TestLongLines(t *testing.T) {
	big := strings.Repeat("x", 3*bufferSize+17)
	in := "data: " + big + "\r\n" + "data: " + big[:bufferSize-7] + "\r\n\r\n" + "data: small\n\n"
	for _, mode := range []string{"whole", "half"} {
		var rd io.Reader = strings.NewReader(in)
		if mode == "half" {
			rd = iotest.HalfReader(rd)
		}
		got, err := readAll(rd)
		if err != io.EOF {
			t.Fatalf("%s: error = %v, want io.EOF", mode, err)
		}
		want := []ev{{Data: big + "\n" + big[:bufferSize-7], HasData: true}, {Data: "small", HasData: true}}
		if len(got) != 2 || got[0].Data != want[0].Data || got[1] != want[1] {
			t.Errorf("%s: got %d events (first data %d bytes), want 2 events (first %d bytes)", mode, len(got), len(got[0].Data), len(want[0].Data))
		}
	}
}

func TestEventTooLarge(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  int
	}{
		{"one long data line", "data: " + strings.Repeat("x", 100) + "\n\n", 64},
		{"many data lines", strings.Repeat("data: 0123456789\n", 10) + "\n", 64},
		{"long line beyond buffer", "data: " + strings.Repeat("x", 2*bufferSize) + "\n\n", bufferSize},
		{"long comment", ":" + strings.Repeat("x", 2*bufferSize) + "\n\ndata: x\n\n", bufferSize},
		{"long name", "event: " + strings.Repeat("x", 100) + "\ndata: x\n\n", 64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := NewReader(strings.NewReader("data: ok\n\n" + tt.in))
			r.SetMaxEventSize(tt.max)
			if e, err := r.Next(); err != nil || string(e.Data) != "ok" {
				t.Fatalf("first Next = %q, %v; want ok", e.Data, err)
			}
			if _, err := r.Next(); !errors.Is(err, ErrEventTooLarge) {
				t.Fatalf("Next error = %v, want ErrEventTooLarge", err)
			}
			if _, err := r.Next(); !errors.Is(err, ErrEventTooLarge) {
				t.Fatalf("Next after ErrEventTooLarge = %v, want it sticky", err)
			}
			r.Reset(strings.NewReader("data: again\n\n"))
			if e, err := r.Next(); err != nil || string(e.Data) != "again" {
				t.Fatalf("Next after Reset = %q, %v; want again", e.Data, err)
			}
		})
	}
	t.Run("exactly at limit", func(t *testing.T) {
		r := NewReader(strings.NewReader("data: 0123456789\ndata: 0123456789\n\n"))
		r.SetMaxEventSize(21)
		if e, err := r.Next(); err != nil || len(e.Data) != 21 {
			t.Fatalf("Next = %d bytes, %v; want 21 bytes", len(e.Data), err)
		}
	})
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("data: a\n\ndata: b"), iotest.ErrReader(boom)))
	if e, err := r.Next(); err != nil || string(e.Data) != "a" {
		t.Fatalf("Next = %q, %v; want a", e.Data, err)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Fatalf("Next error = %v, want boom", err)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name, evName, data string
		wantData           string
	}{
		{"simple", "", `{"a":1}`, `{"a":1}`},
		{"named", "message_start", `{"type":"message_start"}`, `{"type":"message_start"}`},
		{"multi-line", "x", "a\nb\n\nc", "a\nb\n\nc"},
		{"trailing newline", "", "a\n", "a\n"},
		{"leading space kept", "", " a", " a"},
		{"empty", "", "", ""},
		{"crlf becomes lf", "", "a\r\nb\rc", "a\nb\nc"},
		{"trailing spaces", "", "{}   ", "{}   "},
		{"field-like data", "", "x\nevent: evil\nid: 3", "x\nevent: evil\nid: 3"},
		{"name with newline dropped", "a\nb\r", "d", "d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf []byte
			buf = AppendEvent(buf, []byte(tt.evName), []byte(tt.data))
			buf = AppendData(buf, []byte("second"))
			got, err := readAll(bytes.NewReader(buf))
			if err != io.EOF {
				t.Fatalf("error = %v, want io.EOF; stream %q", err, buf)
			}
			wantName := strings.NewReplacer("\n", "", "\r", "").Replace(tt.evName)
			want := []ev{{Name: wantName, Data: tt.wantData, HasData: true}, {Data: "second", HasData: true}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("round trip mismatch for stream %q (-want +got):\n%s", buf, diff)
			}
		})
	}
}

func TestAppendFormat(t *testing.T) {
	tests := []struct {
		name, evName, data, want string
	}{
		{"data", "", "x", "data: x\n\n"},
		{"event", "ping", "{}", "event: ping\ndata: {}\n\n"},
		{"lines", "", "a\nb", "data: a\ndata: b\n\n"},
		{"nil data", "", "", "data: \n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendEvent(nil, []byte(tt.evName), []byte(tt.data))); got != tt.want {
				t.Errorf("AppendEvent(%q, %q) = %q, want %q", tt.evName, tt.data, got, tt.want)
			}
		})
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("data: a\r\n\r\nevent: x\rdata: b\n\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in))
		r.SetMaxEventSize(1 << 20)
		var enc []byte
		var events []ev
		total := 0
		for {
			e, err := r.Next()
			if err != nil {
				break
			}
			total += len(e.Data)
			if total > len(in) {
				t.Fatalf("total data %d bytes > input %d bytes", total, len(in))
			}
			if e.Name == nil && e.Data == nil {
				t.Fatalf("event with neither name nor data returned")
			}
			events = append(events, ev{Name: string(e.Name), Data: string(e.Data)})
			if bytes.IndexByte(e.Data, '\r') >= 0 {
				t.Fatalf("data contains CR: %q", e.Data)
			}
			enc = AppendEvent(enc, e.Name, e.Data)
		}
		var again []ev
		r.Reset(bytes.NewReader(enc))
		for {
			e, err := r.Next()
			if err != nil {
				if err != io.EOF {
					t.Fatalf("re-parse error %v for %q", err, enc)
				}
				break
			}
			again = append(again, ev{Name: string(e.Name), Data: string(e.Data)})
		}
		if diff := cmp.Diff(events, again); diff != "" {
			t.Fatalf("re-encoded events differ (-first +again):\n%s\nencoded: %q", diff, enc)
		}
	})
}

func BenchmarkNext(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(fixtures, "openai/chat-stream-usage.sse"))
	if err != nil {
		b.Fatal(err)
	}
	br := bytes.NewReader(raw)
	r := NewReader(br)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		br.Reset(raw)
		r.Reset(br)
		for {
			if _, err := r.Next(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

func BenchmarkAppendData(b *testing.B) {
	data := []byte(`{"id":"chatcmpl-CMKB4CzjM9AbvNcftqEsFcWBSrZNT","object":"chat.completion.chunk","created":1759436814,"model":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":" capital"},"logprobs":null,"finish_reason":null}],"usage":null}`)
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendData(buf[:0], data)
	}
}
