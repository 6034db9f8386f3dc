package bedrock

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
	oai "github.com/openai/openai-go/v3"
)

func eventstreams(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(fixtures, "bedrock", "*.eventstream"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no eventstream fixtures: %v", err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".eventstream"))
	}
	return names
}

// decodeAll reads every frame from r, copying payloads.
func decodeAll(t testing.TB, r io.Reader) []Frame {
	t.Helper()
	d := NewDecoder(r)
	var frames []Frame
	for {
		f, err := d.Next()
		if err == io.EOF {
			return frames
		}
		if err != nil {
			t.Fatalf("Next after %d frames: %v", len(frames), err)
		}
		f.Payload = bytes.Clone(f.Payload)
		frames = append(frames, f)
	}
}

// TestDecoderFixtures decodes every capture whatever the chunking and
// checks it against the fixture's .jsonl.
func TestDecoderFixtures(t *testing.T) {
	for _, name := range eventstreams(t) {
		t.Run(name, func(t *testing.T) {
			raw := readFixture(t, "bedrock/"+name+".eventstream")
			want := decodeAll(t, bytes.NewReader(raw))
			for rname, r := range map[string]io.Reader{
				"one-byte": iotest.OneByteReader(bytes.NewReader(raw)),
				"half":     iotest.HalfReader(bytes.NewReader(raw)),
				"data-err": iotest.DataErrReader(bytes.NewReader(raw)),
			} {
				if diff := cmp.Diff(want, decodeAll(t, r)); diff != "" {
					t.Errorf("%s reader: frames differ (-want +got):\n%s", rname, diff)
				}
			}
			lines := bytes.Split(bytes.TrimSpace(readFixture(t, "bedrock/"+name+".jsonl")), []byte("\n"))
			if len(lines) != len(want) {
				t.Fatalf("%d frames, .jsonl has %d", len(want), len(lines))
			}
			for i, line := range lines {
				var l struct {
					Headers map[string]string `json:"headers"`
					Payload jsontext.Value    `json:"payload"`
				}
				if err := json.Unmarshal(line, &l); err != nil {
					t.Fatal(err)
				}
				got := want[i]
				if got.EventType != l.Headers[":event-type"] || got.MessageType != l.Headers[":message-type"] || got.ExceptionType != l.Headers[":exception-type"] {
					t.Errorf("frame %d headers = %+v, want %v", i, got, l.Headers)
				}
				if !bytes.Equal(got.Payload, l.Payload) {
					t.Errorf("frame %d payload = %s, want %s", i, got.Payload, l.Payload)
				}
				// AppendFrame is Next's inverse, byte for byte.
				if enc := AppendFrame(nil, got); !bytes.Contains(raw, enc) {
					t.Errorf("frame %d: AppendFrame does not reproduce the captured bytes", i)
				}
			}
		})
	}
}

func TestDecoderErrors(t *testing.T) {
	raw := readFixture(t, "bedrock/converse-stream-text.eventstream")
	first := int(raw[3]) // the first frame is 143 bytes
	tests := []struct {
		name  string
		body  []byte
		check func(error) bool
	}{
		{"cut in prelude", raw[:first+5], func(err error) bool { return err == io.ErrUnexpectedEOF }},
		{"cut in frame", raw[:first+40], func(err error) bool { return err == io.ErrUnexpectedEOF }},
		{"payload corrupt", flip(raw, first+100), func(err error) bool { return errors.Is(err, ErrChecksum) }},
		{"message crc corrupt", flip(raw, 2*first-1), func(err error) bool { return errors.Is(err, ErrChecksum) }},
		{"prelude corrupt", flip(raw, first+2), func(err error) bool { return errors.Is(err, ErrChecksum) }},
		{"huge length", append(bytes.Clone(raw[:first]), preludeFor(1<<31, 0)...), func(err error) bool { return err != nil && !errors.Is(err, ErrChecksum) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(bytes.NewReader(tt.body))
			if _, err := d.Next(); err != nil {
				t.Fatalf("first frame: %v", err)
			}
			_, err := d.Next()
			if !tt.check(err) {
				t.Errorf("Next() error = %v", err)
			}
			if _, again := d.Next(); again == nil || again.Error() != err.Error() {
				t.Errorf("error is not sticky: %v then %v", err, again)
			}
		})
	}
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x40
	return b
}

// preludeFor is a valid prelude (with a correct CRC) announcing lengths.
func preludeFor(total, headers uint32) []byte {
	frame := AppendFrame(nil, Frame{EventType: "x", MessageType: "event"})
	p := frame[:12:12]
	p[0], p[1], p[2], p[3] = byte(total>>24), byte(total>>16), byte(total>>8), byte(total)
	p[4], p[5], p[6], p[7] = byte(headers>>24), byte(headers>>16), byte(headers>>8), byte(headers)
	c := crc32IEEE(p[:8])
	p[8], p[9], p[10], p[11] = byte(c>>24), byte(c>>16), byte(c>>8), byte(c)
	return p
}

// translate decodes raw with the Decoder and runs every frame through a
// new Stream, checking that each call appends only whole OpenAI events.
func translate(t testing.TB, raw []byte, includeUsage bool) (*Stream, []byte) {
	t.Helper()
	s := NewStream("gpt-4o", includeUsage)
	var out []byte
	for _, f := range decodeAll(t, iotest.HalfReader(bytes.NewReader(raw))) {
		n := len(out)
		var err error
		if out, err = s.Frame(out, f); err != nil {
			t.Fatalf("Frame(%+v): %v", f, err)
		}
		checkChunks(t, out[n:])
	}
	return s, out
}

func checkChunks(t testing.TB, b []byte) {
	t.Helper()
	for len(b) > 0 {
		line, rest, ok := bytes.Cut(b, []byte("\n\n"))
		payload, isData := bytes.CutPrefix(line, []byte("data: "))
		if !ok || !isData || bytes.IndexByte(line, '\n') >= 0 {
			t.Fatalf("not a complete SSE data event: %q", b)
		}
		if string(payload) != "[DONE]" {
			checkCompact(t, payload)
		}
		b = rest
	}
}

func TestStreamFixtures(t *testing.T) {
	wantUsage := map[string]Usage{
		"converse-stream-text":                  {PromptTokens: 13, CompletionTokens: 82},
		"converse-stream-tool-use":              {PromptTokens: 471, CompletionTokens: 91},
		"converse-stream-reasoning":             {PromptTokens: 36, CompletionTokens: 73},
		"converse-stream-exception.constructed": {},
	}
	for _, name := range eventstreams(t) {
		t.Run(name, func(t *testing.T) {
			raw := readFixture(t, "bedrock/"+name+".eventstream")
			s, out := translate(t, raw, true)
			golden(t, "stream/"+name+".want.sse", out)
			if diff := cmp.Diff(wantUsage[name], s.Usage()); diff != "" {
				t.Errorf("Usage() mismatch (-want +got):\n%s", diff)
			}
			_, noUsage := translate(t, raw, false)
			var want []byte
			for chunk := range bytes.SplitAfterSeq(out, []byte("\n\n")) {
				if !bytes.Contains(chunk, []byte(`"choices":[],"usage":`)) {
					want = append(want, chunk...)
				}
			}
			if !bytes.Equal(noUsage, want) {
				t.Errorf("stream without include_usage:\n%s\nwant:\n%s", noUsage, want)
			}
			exception := strings.Contains(name, "exception")
			if s.Done() == exception {
				t.Errorf("Done() = %v, want %v", s.Done(), !exception)
			}
			if exception {
				wantEnd := `data: {"error":{"message":"Too many tokens, please wait before trying again.","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}` + "\n\n"
				if !bytes.HasSuffix(out, []byte(wantEnd)) || bytes.Contains(out, []byte("[DONE]")) {
					t.Errorf("exception stream does not end with the OpenAI error event:\n%s", out)
				}
			}
		})
	}
}

// TestStreamConsumable feeds the translated chunks to the official OpenAI
// SDK's accumulator and compares with FromConverse of the same answer
// delivered whole (rebuilt from the frames).
func TestStreamConsumable(t *testing.T) {
	for _, name := range eventstreams(t) {
		if strings.Contains(name, "exception") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			raw := readFixture(t, "bedrock/"+name+".eventstream")
			_, out := translate(t, raw, true)
			var acc oai.ChatCompletionAccumulator
			var reasoning strings.Builder
			for chunk := range bytes.SplitAfterSeq(out, []byte("\n\n")) {
				payload := bytes.TrimSuffix(bytes.TrimPrefix(chunk, []byte("data: ")), []byte("\n\n"))
				if len(payload) == 0 || string(payload) == "[DONE]" {
					continue
				}
				var c oai.ChatCompletionChunk
				if err := c.UnmarshalJSON(payload); err != nil {
					t.Fatalf("SDK cannot decode chunk %s: %v", payload, err)
				}
				if !acc.AddChunk(c) {
					t.Fatalf("SDK accumulator rejected chunk %s", payload)
				}
				var r struct {
					Choices []struct {
						Delta struct {
							ReasoningContent string `json:"reasoning_content"`
						} `json:"delta"`
					} `json:"choices"`
				}
				if err := json.Unmarshal(payload, &r); err != nil {
					t.Fatal(err)
				}
				for _, ch := range r.Choices {
					reasoning.WriteString(ch.Delta.ReasoningContent)
				}
			}
			whole, _, err := FromConverse(collectResponse(t, raw), "gpt-4o")
			if err != nil {
				t.Fatal(err)
			}
			var want oai.ChatCompletion
			if err := want.UnmarshalJSON(whole); err != nil {
				t.Fatal(err)
			}
			var wantReasoning struct {
				Choices []struct {
					Message struct {
						ReasoningContent string `json:"reasoning_content"`
					} `json:"message"`
				} `json:"choices"`
			}
			if err := json.Unmarshal(whole, &wantReasoning); err != nil {
				t.Fatal(err)
			}
			got, w := acc.Choices[0], want.Choices[0]
			if got.Message.Content != w.Message.Content {
				t.Errorf("content = %q, want %q", got.Message.Content, w.Message.Content)
			}
			if got.FinishReason != w.FinishReason {
				t.Errorf("finish_reason = %q, want %q", got.FinishReason, w.FinishReason)
			}
			if reasoning.String() != wantReasoning.Choices[0].Message.ReasoningContent {
				t.Errorf("reasoning = %q, want %q", reasoning.String(), wantReasoning.Choices[0].Message.ReasoningContent)
			}
			if len(got.Message.ToolCalls) != len(w.Message.ToolCalls) {
				t.Fatalf("%d tool calls, want %d", len(got.Message.ToolCalls), len(w.Message.ToolCalls))
			}
			for i, tc := range got.Message.ToolCalls {
				wt := w.Message.ToolCalls[i]
				if tc.ID != wt.ID || tc.Function.Name != wt.Function.Name || tc.Function.Arguments != wt.Function.Arguments {
					t.Errorf("tool call %d = %+v, want %+v", i, tc, wt)
				}
			}
			if acc.Usage.PromptTokens != want.Usage.PromptTokens || acc.Usage.CompletionTokens != want.Usage.CompletionTokens {
				t.Errorf("usage = %+v, want %+v", acc.Usage, want.Usage)
			}
		})
	}
}

// collectResponse rebuilds the Converse response a stream amounts to.
func collectResponse(t *testing.T, raw []byte) []byte {
	type blk struct {
		text, reasoning, input strings.Builder
		id, name               string
	}
	var blocks []*blk
	var stop string
	var usage jsontext.Value
	for _, f := range decodeAll(t, bytes.NewReader(raw)) {
		var p struct {
			Index int `json:"contentBlockIndex"`
			Delta struct {
				Text      string `json:"text"`
				Reasoning struct {
					Text string `json:"text"`
				} `json:"reasoningContent"`
				ToolUse struct {
					Input string `json:"input"`
				} `json:"toolUse"`
			} `json:"delta"`
			Start struct {
				ToolUse struct {
					ID   string `json:"toolUseId"`
					Name string `json:"name"`
				} `json:"toolUse"`
			} `json:"start"`
			StopReason string         `json:"stopReason"`
			Usage      jsontext.Value `json:"usage"`
		}
		if err := json.Unmarshal(f.Payload, &p); err != nil {
			t.Fatal(err)
		}
		for len(blocks) <= p.Index {
			blocks = append(blocks, &blk{})
		}
		b := blocks[p.Index]
		b.text.WriteString(p.Delta.Text)
		b.reasoning.WriteString(p.Delta.Reasoning.Text)
		b.input.WriteString(p.Delta.ToolUse.Input)
		if p.Start.ToolUse.ID != "" {
			b.id, b.name = p.Start.ToolUse.ID, p.Start.ToolUse.Name
		}
		if p.StopReason != "" {
			stop = p.StopReason
		}
		if len(p.Usage) > 0 {
			usage = p.Usage
		}
	}
	var content []any
	for _, b := range blocks {
		switch {
		case b.id != "":
			content = append(content, map[string]any{"toolUse": map[string]any{"toolUseId": b.id, "name": b.name, "input": jsontext.Value(b.input.String())}})
		case b.reasoning.Len() > 0:
			content = append(content, map[string]any{"reasoningContent": map[string]any{"reasoningText": map[string]any{"text": b.reasoning.String()}}})
		default:
			content = append(content, map[string]any{"text": b.text.String()})
		}
	}
	out, err := json.Marshal(map[string]any{
		"output":     map[string]any{"message": map[string]any{"role": "assistant", "content": content}},
		"stopReason": stop,
		"usage":      usage,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestStreamErrorFrame(t *testing.T) {
	s := NewStream("m", false)
	out, err := s.Frame(nil, Frame{MessageType: "error", ExceptionType: "InternalFailure", Payload: []byte(`{"message":"boom"}`)})
	if err != nil {
		t.Fatal(err)
	}
	want := `data: {"error":{"message":"boom","type":"server_error","param":null,"code":null}}` + "\n\n"
	if string(out) != want {
		t.Errorf("error frame = %q, want %q", out, want)
	}
	if _, err := s.Frame(nil, Frame{EventType: "contentBlockDelta", MessageType: "event", Payload: []byte(`[1]`)}); err == nil {
		t.Error("Frame(non-object payload) succeeded")
	}
}

func TestSign(t *testing.T) {
	body := readFixture(t, "bedrock/converse.request.json")
	sign := func(creds Credentials) *http.Request {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost,
			"https://bedrock-runtime.us-east-1.amazonaws.com/model/us.amazon.nova-micro-v1%3A0/converse", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if err := Sign(req, body, creds, "us-east-1", time.Date(2025, 8, 21, 12, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		return req
	}
	creds := Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
	req := sign(creds)
	auth := req.Header.Get("Authorization")
	// Computed once with aws-sdk-go-v2's signer for this fixed request.
	const want = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250821/us-east-1/bedrock/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature="
	if !strings.HasPrefix(auth, want) || len(auth) != len(want)+64 {
		t.Errorf("Authorization = %q, want %q + 64 hex digits", auth, want)
	}
	if got := req.Header.Get("X-Amz-Date"); got != "20250821T120000Z" {
		t.Errorf("X-Amz-Date = %q", got)
	}
	if again := sign(creds).Header.Get("Authorization"); again != auth {
		t.Errorf("signing is not deterministic: %q then %q", auth, again)
	}
	golden(t, "sign/converse.authorization.txt", []byte(auth+"\n"))
	if strings.Contains(auth, creds.SecretAccessKey) {
		t.Error("secret in Authorization")
	}

	creds.SessionToken = "token"
	if req := sign(creds); req.Header.Get("X-Amz-Security-Token") != "token" || !strings.Contains(req.Header.Get("Authorization"), "x-amz-security-token") {
		t.Errorf("session token not signed: %v", req.Header)
	}
	r, _ := http.NewRequest(http.MethodPost, "https://x/", nil)
	if err := Sign(r, nil, Credentials{}, "us-east-1", time.Now()); err == nil {
		t.Error("Sign without credentials succeeded")
	}
}

// TestStreamJSON replays the recorded tool-use stream as the answer to a
// request with response_format, its tool renamed to the JSON tool's: the
// SDK must accumulate the tool's input as content, with no tool calls and
// finish_reason "stop", as FromConverseJSON has it.
func TestStreamJSON(t *testing.T) {
	const jsonTool = "json_response"
	var raw []byte
	for _, f := range decodeAll(t, bytes.NewReader(readFixture(t, "bedrock/converse-stream-tool-use.eventstream"))) {
		f.Payload = bytes.ReplaceAll(f.Payload, []byte(`"name":"get_temperature"`), []byte(`"name":"`+jsonTool+`"`))
		raw = AppendFrame(raw, f)
	}
	if !bytes.Contains(raw, []byte(jsonTool)) {
		t.Fatal("the fixture's tool was not renamed")
	}
	s := NewStreamJSON("gpt-4o", true, jsonTool)
	var out []byte
	for _, f := range decodeAll(t, iotest.HalfReader(bytes.NewReader(raw))) {
		n := len(out)
		var err error
		if out, err = s.Frame(out, f); err != nil {
			t.Fatalf("Frame(%+v): %v", f, err)
		}
		checkChunks(t, out[n:])
	}
	golden(t, "stream/json-converse-stream-tool-use.want.sse", out)

	var acc oai.ChatCompletionAccumulator
	for chunk := range bytes.SplitAfterSeq(out, []byte("\n\n")) {
		payload := bytes.TrimSuffix(bytes.TrimPrefix(chunk, []byte("data: ")), []byte("\n\n"))
		if len(payload) == 0 || string(payload) == "[DONE]" {
			continue
		}
		var c oai.ChatCompletionChunk
		if err := c.UnmarshalJSON(payload); err != nil {
			t.Fatalf("SDK cannot decode chunk %s: %v", payload, err)
		}
		if !acc.AddChunk(c) {
			t.Fatalf("SDK accumulator rejected chunk %s", payload)
		}
	}
	whole, _, err := FromConverseJSON(collectResponse(t, raw), "gpt-4o", jsonTool)
	if err != nil {
		t.Fatal(err)
	}
	var want oai.ChatCompletion
	if err := want.UnmarshalJSON(whole); err != nil {
		t.Fatal(err)
	}
	got := acc.Choices[0]
	content := jsontext.Value(got.Message.Content)
	if err := content.Compact(); err != nil {
		t.Fatalf("streamed content %q is not JSON: %v", got.Message.Content, err)
	}
	if string(content) != want.Choices[0].Message.Content || string(content) != `{"city":"Paris"}` {
		t.Errorf("streamed content = %s, whole = %s, want {\"city\":\"Paris\"}", content, want.Choices[0].Message.Content)
	}
	if len(got.Message.ToolCalls) != 0 || len(want.Choices[0].Message.ToolCalls) != 0 {
		t.Errorf("tool calls: streamed %+v, whole %+v; want none", got.Message.ToolCalls, want.Choices[0].Message.ToolCalls)
	}
	if got.FinishReason != "stop" || want.Choices[0].FinishReason != "stop" {
		t.Errorf("finish_reason: streamed %q, whole %q; want stop", got.FinishReason, want.Choices[0].FinishReason)
	}
	if acc.Usage.PromptTokens != want.Usage.PromptTokens || acc.Usage.CompletionTokens != want.Usage.CompletionTokens {
		t.Errorf("usage = %+v, want %+v", acc.Usage, want.Usage)
	}

	// Without the JSON tool's name the same stream is a tool call.
	plain := NewStream("gpt-4o", false)
	sawCall := false
	for _, f := range decodeAll(t, bytes.NewReader(raw)) {
		b, err := plain.Frame(nil, f)
		if err != nil {
			t.Fatal(err)
		}
		sawCall = sawCall || bytes.Contains(b, []byte(`"tool_calls"`))
	}
	if !sawCall {
		t.Error("NewStream did not stream the tool call")
	}
}
