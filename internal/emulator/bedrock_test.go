package emulator

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	wire "github.com/switchboard-gw/switchboard/internal/wire/bedrock"
)

func bedrockServer(t *testing.T, opts Options) *httptest.Server {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

func bedrockPost(t *testing.T, srv *httptest.Server, path, body string, h map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestBedrockConverse(t *testing.T) {
	srv := bedrockServer(t, Options{Reply: "Hello there."})
	resp := bedrockPost(t, srv, "/model/us.amazon.nova-micro-v1%3A0/converse", string(fixture("bedrock/converse.request.json")), nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("X-Amzn-Requestid") == "" {
		t.Fatalf("status %d headers %v body %s", resp.StatusCode, resp.Header, body)
	}
	want := `,"output":{"message":{"content":[{"text":"Hello there."}],"role":"assistant"}},"stopReason":"end_turn","usage":{"inputTokens":6,"outputTokens":3,"totalTokens":9}}`
	if !bytes.HasPrefix(body, []byte(`{"metrics":{"latencyMs":`)) || !bytes.HasSuffix(body, []byte(want)) {
		t.Errorf("body = %s, want …%s", body, want)
	}
	out, _, err := wire.FromConverse(body, "m")
	if err != nil || !bytes.Contains(out, []byte(`"content":"Hello there."`)) {
		t.Errorf("FromConverse(%s) = %s, %v", body, out, err)
	}

	resp = bedrockPost(t, srv, "/model/m/converse", string(fixture("bedrock/converse-tool-use.request.json")), nil)
	body, _ = io.ReadAll(resp.Body)
	if !bytes.Contains(body, []byte(`"content":[{"toolUse":{"input":{},"name":"temperature","toolUseId":"tooluse_`)) ||
		!bytes.Contains(body, []byte(`"stopReason":"tool_use"`)) || !bytes.Contains(body, []byte(`"serverToolUsage":{}`)) {
		t.Errorf("tool answer = %s", body)
	}
}

// TestBedrockStream reads the stream in the chunks the server flushed and
// checks that frames straddle them, then decodes it with the gateway's
// decoder.
func TestBedrockStream(t *testing.T) {
	srv := bedrockServer(t, Options{})
	for _, fixtureName := range []string{"converse-stream-text", "converse-stream-tool-use", "converse-stream-reasoning"} {
		t.Run(fixtureName, func(t *testing.T) {
			resp := bedrockPost(t, srv, "/model/us.amazon.nova-micro-v1%3A0/converse-stream", string(fixture("bedrock/"+fixtureName+".request.json")), nil)
			if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "application/vnd.amazon.eventstream" {
				t.Fatalf("status %d content-type %q", resp.StatusCode, ct)
			}
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			d := wire.NewDecoder(bytes.NewReader(raw))
			s := wire.NewStream("gpt-4o", true)
			var types []string
			var out []byte
			for {
				f, err := d.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("Next: %v", err)
				}
				if f.MessageType != "event" || !bytes.Contains(f.Payload, []byte(`"p":"ab`)) && f.EventType != "" {
					t.Errorf("frame %s: message type %q, payload %s (want \"p\" padding)", f.EventType, f.MessageType, f.Payload)
				}
				types = append(types, f.EventType)
				if out, err = s.Frame(out, f); err != nil {
					t.Fatal(err)
				}
			}
			if len(types) < 4 || types[0] != "messageStart" || types[len(types)-2] != "messageStop" || types[len(types)-1] != "metadata" {
				t.Errorf("event types = %v", types)
			}
			if !s.Done() || !bytes.HasSuffix(out, []byte("data: [DONE]\n\n")) {
				t.Errorf("translated stream incomplete:\n%s", out)
			}
			switch fixtureName {
			case "converse-stream-tool-use":
				if !bytes.Contains(out, []byte(`"name":"get_capital"`)) || !bytes.Contains(out, []byte(`"finish_reason":"tool_calls"`)) {
					t.Errorf("tool stream:\n%s", out)
				}
			case "converse-stream-reasoning":
				if !bytes.Contains(out, []byte(`"reasoning_content":`)) {
					t.Errorf("no reasoning:\n%s", out)
				}
			}
		})
	}
}

// TestBedrockChunks checks that frames do not line up with what the
// client reads off the connection: the splitter flushes mid-frame.
func TestBedrockChunks(t *testing.T) {
	srv := bedrockServer(t, Options{})
	resp := bedrockPost(t, srv, "/model/m/converse-stream", `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`, map[string]string{headerFault: "chunk_delay=5ms"})
	buf := make([]byte, 1<<16)
	aligned, reads := 0, 0
	var all []byte
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			reads++
			all = append(all, buf[:n]...)
			if frameAligned(all) {
				aligned++
			}
		}
		if err != nil {
			break
		}
	}
	if reads < 4 || aligned == reads {
		t.Errorf("%d of %d reads ended on a frame boundary; want frames split across chunks", aligned, reads)
	}
}

// frameAligned reports whether b ends exactly at a frame boundary.
func frameAligned(b []byte) bool {
	for len(b) >= 4 {
		n := int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
		if n > len(b) {
			return false
		}
		b = b[n:]
	}
	return len(b) == 0
}

func TestBedrockFaults(t *testing.T) {
	srv := bedrockServer(t, Options{APIKey: "AKIDTEST"})
	body := `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`
	sigv4 := map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDTEST/20250101/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=00"}
	tests := []struct {
		name   string
		path   string
		h      map[string]string
		status int
		typ    string
	}{
		{"no auth", "/model/m/converse", nil, 403, "MissingAuthenticationTokenException"},
		{"wrong key", "/model/m/converse", map[string]string{"Authorization": "Bearer nope"}, 403, "UnrecognizedClientException"},
		{"bearer", "/model/m/converse", map[string]string{"Authorization": "Bearer AKIDTEST"}, 200, ""},
		{"sigv4", "/model/m/converse", sigv4, 200, ""},
		{"missing model", "/model/missing-x/converse", sigv4, 400, "ValidationException"},
		{"unknown op", "/model/m/invoke-x", sigv4, 404, "UnknownOperationException"},
		{"throttle", "/model/m/converse", map[string]string{"Authorization": sigv4["Authorization"], headerFault: "status=429"}, 429, "ThrottlingException"},
		{"timeout", "/model/m/converse", map[string]string{"Authorization": sigv4["Authorization"], headerFault: "status=408"}, 408, "ModelTimeoutException"},
		{"unavailable", "/model/m/converse", map[string]string{"Authorization": sigv4["Authorization"], headerFault: "status=503"}, 503, "ServiceUnavailableException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := bedrockPost(t, srv, tt.path, body, tt.h)
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.status, b)
			}
			if tt.typ == "" {
				return
			}
			if got := resp.Header.Get("X-Amzn-Errortype"); !strings.HasPrefix(got, tt.typ+":") {
				t.Errorf("x-amzn-ErrorType = %q, want %s:…", got, tt.typ)
			}
			if e, ok := wire.ParseError(resp.StatusCode, resp.Header, b); !ok || e.BedrockType != tt.typ || e.Message == "" {
				t.Errorf("ParseError(%s) = %+v, %v", b, e, ok)
			}
		})
	}
	if got := string(fixture("bedrock/error-429-throttling.response.json")); !strings.Contains(got, "Too many requests") {
		t.Errorf("fixture changed: %s", got)
	}
}

func TestBedrockErrorAfter(t *testing.T) {
	srv := bedrockServer(t, Options{})
	resp := bedrockPost(t, srv, "/model/m/converse-stream", `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`, map[string]string{headerFault: "error_after=2"})
	d := wire.NewDecoder(resp.Body)
	var frames []wire.Frame
	for {
		f, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		f.Payload = bytes.Clone(f.Payload)
		frames = append(frames, f)
	}
	if len(frames) != 3 {
		t.Fatalf("%d frames, want 2 events and the exception", len(frames))
	}
	last := frames[2]
	if last.MessageType != "exception" || last.ExceptionType != "throttlingException" || !bytes.Contains(last.Payload, []byte("Too many tokens")) {
		t.Errorf("last frame = %+v %s", last, last.Payload)
	}
}
