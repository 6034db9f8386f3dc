package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const (
	anthropicBody   = `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"What is the capital of Mexico?"}]}`
	anthropicStream = `{"model":"claude-sonnet-4-5","max_tokens":1024,"messages":[{"role":"user","content":"What is the capital of Mexico?"}],"stream":true}`
)

// anthropicCall is a request with the anthropic-version header every SDK
// sends; extra is header name/value pairs.
func anthropicCall(path, body string, extra ...string) call {
	h := map[string]string{"anthropic-version": "2023-06-01"}
	for i := 0; i+1 < len(extra); i += 2 {
		h[extra[i]] = extra[i+1]
	}
	return call{path: path, body: body, header: h}
}

// anthropicPadRE matches a padded data line: the payload, then the spaces
// before its final '}'.
var anthropicPadRE = regexp.MustCompile(`(?m)^(data: .*[^ ]) +\}$`)

// anthropicVarRE matches the members whose values change from answer to
// answer. Empty strings are kept, so "text":"" and the empty thinking_delta
// still compare.
var anthropicVarRE = regexp.MustCompile(`("(?:id|model|name|text|thinking|signature|request_id|input_tokens|output_tokens)":)("(?:[^"\\]|\\.)+"|\d+)`)

// anthropicNormalize removes the stream padding and blanks the variable
// values; what remains — keys, order, framing — compares byte for byte.
func anthropicNormalize(b []byte) string {
	return anthropicVarRE.ReplaceAllString(anthropicPadRE.ReplaceAllString(string(b), "$1}"), `${1}"_"`)
}

// anthropicEvents splits a normalized stream into events and collapses runs
// of identical ones, so that streams with different numbers of deltas of the
// same kind compare equal.
func anthropicEvents(b []byte) []string {
	var out []string
	for _, ev := range strings.SplitAfter(anthropicNormalize(b), "\n\n") {
		if len(out) > 0 && out[len(out)-1] == ev {
			continue
		}
		out = append(out, ev)
	}
	return out
}

// rawEvents splits an SSE body into its events, framing included.
func rawEvents(b []byte) []string { return strings.SplitAfter(string(b), "\n\n") }

var (
	base58RE    = `[1-9A-HJ-NP-Za-km-z]`
	msgIDRE     = regexp.MustCompile(`^msg_01` + base58RE + `{22}$`)
	toolIDRE    = regexp.MustCompile(`^toolu_01` + base58RE + `{22}$`)
	requestIDRE = regexp.MustCompile(`^req_011C` + base58RE + `{20}$`)
)

type contentBlock struct {
	Type, Text, Thinking, Signature, ID, Name string
	Input                                     json.RawMessage
}

// message decodes the parts of a Message the tests look at.
type message struct {
	ID         string         `json:"id"`
	Model      string         `json:"model"`
	StopReason string         `json:"stop_reason"`
	StopSeq    any            `json:"stop_sequence"`
	Content    []contentBlock `json:"content"`
	Usage      struct {
		Input  int `json:"input_tokens"`
		Output int `json:"output_tokens"`
	} `json:"usage"`
}

func TestAnthropicMessagesMatchFixture(t *testing.T) {
	_, srv := newServer(t, Options{})
	text := readFixture(t, "anthropic/messages-text.response.json")
	// No non-stream capture has thinking: the text answer with the thinking
	// block of messages-stream-thinking.sse in front.
	thinking := bytes.Replace(text, []byte(`"content":[`), []byte(`"content":[{"type":"thinking","thinking":"_","signature":"_"},`), 1)
	tools := readFixture(t, "anthropic/messages-tool-use.request.json")
	tests := []struct {
		name, body string
		want       []byte
	}{
		{"text", anthropicBody, text},
		{"thinking", strings.Replace(string(readFixture(t, "anthropic/messages-stream-thinking.request.json")), `"stream":true`, `"stream":false`, 1), thinking},
		{"tool use", string(tools), readFixture(t, "anthropic/messages-tool-use.response.json")},
		{"tool_choice none", strings.Replace(string(tools), `"type": "auto"`, `"type": "none"`, 1), text},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := mustSend(t, srv, anthropicCall("/v1/messages", tt.body))
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("status %d, Content-Type %q; want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			if diff := cmp.Diff(anthropicNormalize(tt.want), anthropicNormalize(body)); diff != "" {
				t.Errorf("body layout differs from the fixture (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAnthropicMessagesValues(t *testing.T) {
	_, srv := newServer(t, Options{})
	resp, body := mustSend(t, srv, anthropicCall("/v1/messages", anthropicBody))
	var m message
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if !msgIDRE.MatchString(m.ID) {
		t.Errorf("id = %q, want msg_01 and 22 base58 characters", m.ID)
	}
	if id := resp.Header.Get("request-id"); !requestIDRE.MatchString(id) {
		t.Errorf("request-id = %q, want req_011C and 20 base58 characters", id)
	}
	for _, h := range []string{"anthropic-ratelimit-requests-limit", "anthropic-ratelimit-tokens-remaining", "anthropic-ratelimit-input-tokens-reset", "anthropic-ratelimit-output-tokens-reset"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if reset, err := time.Parse(time.RFC3339, resp.Header.Get("anthropic-ratelimit-requests-reset")); err != nil || time.Since(reset).Abs() > time.Minute {
		t.Errorf("anthropic-ratelimit-requests-reset = %q, want an RFC 3339 time near now", resp.Header.Get("anthropic-ratelimit-requests-reset"))
	}
	// "What is the capital of Mexico?" is 30 characters: 7 input tokens; the
	// reply is 8 pieces.
	if m.Model != "claude-sonnet-4-5" || len(m.Content) != 1 || m.Content[0].Text != DefaultReply || m.StopReason != "end_turn" ||
		m.Usage.Input != 7 || m.Usage.Output != 8 {
		t.Errorf("message = %+v, want claude-sonnet-4-5 answering %q, end_turn, usage 7/8", m, DefaultReply)
	}
}

func TestAnthropicToolChoice(t *testing.T) {
	_, srv := newServer(t, Options{})
	tools := `"tools":[{"type":"web_search_20250305","name":"web_search"},{"name":"first","input_schema":{"type":"object"}},{"name":"second","input_schema":{"type":"object"}}]`
	tests := []struct {
		name, choice string
		want         string // tool called, "" for none
	}{
		{"default", ``, "first"},
		{"auto", `,"tool_choice":{"type":"auto"}`, "first"},
		{"any", `,"tool_choice":{"type":"any"}`, "first"},
		{"named", `,"tool_choice":{"type":"tool","name":"second"}`, "second"},
		{"none", `,"tool_choice":{"type":"none"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := mustSend(t, srv, anthropicCall("/v1/messages", `{"model":"m","max_tokens":100,"messages":[{"role":"user","content":"x"}],`+tools+tt.choice+`}`))
			var m message
			if err := json.Unmarshal(body, &m); err != nil {
				t.Fatal(err)
			}
			var got string
			for _, c := range m.Content {
				if c.Type == "tool_use" {
					got = c.Name
					if !toolIDRE.MatchString(c.ID) || string(c.Input) != "{}" {
						t.Errorf("tool_use id %q input %s, want toolu_01… and {}", c.ID, c.Input)
					}
				}
			}
			wantStop := "end_turn"
			if tt.want != "" {
				wantStop = "tool_use"
			}
			if got != tt.want || m.StopReason != wantStop {
				t.Errorf("called %q with stop_reason %q, want %q and %q", got, m.StopReason, tt.want, wantStop)
			}
		})
	}
}

func TestAnthropicStopReasons(t *testing.T) {
	_, srv := newServer(t, Options{})
	tests := []struct {
		name, extra, wantText, wantStop string
		wantSeq                         any
	}{
		{"stop sequence", `,"stop_sequences":["City","Mexico"]`, "The capital of ", "stop_sequence", "Mexico"},
		{"max_tokens", `,"max_tokens":3`, "The capital of", "max_tokens", nil},
		{"max_tokens beats tools", `,"max_tokens":2,"tools":[{"name":"f"}]`, "The capital", "max_tokens", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// extra follows the messages; a repeated max_tokens overrides
			// the first, as the last duplicate key wins in encoding/json.
			body := strings.Replace(anthropicBody, `}]}`, `}]`+tt.extra+`}`, 1)
			for _, stream := range []bool{false, true} {
				b := body
				if stream {
					b = strings.Replace(b, `}]`, `}],"stream":true`, 1)
				}
				_, got := mustSend(t, srv, anthropicCall("/v1/messages", b))
				var m message
				if stream {
					m = accumulate(t, got).message
				} else if err := json.Unmarshal(got, &m); err != nil {
					t.Fatal(err)
				}
				if len(m.Content) != 1 || m.Content[0].Text != tt.wantText || m.StopReason != tt.wantStop || m.StopSeq != tt.wantSeq {
					t.Errorf("stream=%v: content %+v, stop_reason %q, stop_sequence %v; want %q, %q, %v", stream, m.Content, m.StopReason, m.StopSeq, tt.wantText, tt.wantStop, tt.wantSeq)
				}
			}
		})
	}
}

func TestAnthropicStreamMatchesFixture(t *testing.T) {
	_, srv := newServer(t, Options{})
	toolUse := rawEvents(readFixture(t, "anthropic/messages-stream-tool-use.sse"))
	parallel := rawEvents(readFixture(t, "anthropic/messages-stream-parallel-tool-use.sse"))
	// A client tool after a text block: the text block of
	// messages-stream-tool-use.sse (whose other blocks are server tools)
	// inside the message_start, tool_use block (now index 1) and
	// message_delta of messages-stream-parallel-tool-use.sse.
	toolWant := parallel[0] + strings.Join(toolUse[1:6], "") + strings.Join(parallel[5:], "")
	tests := []struct {
		name, body string
		want       []byte
	}{
		{"text", string(readFixture(t, "anthropic/messages-stream-text.request.json")), readFixture(t, "anthropic/messages-stream-text.sse")},
		{"thinking", string(readFixture(t, "anthropic/messages-stream-thinking.request.json")), readFixture(t, "anthropic/messages-stream-thinking.sse")},
		{"tool use", string(readFixture(t, "anthropic/messages-stream-tool-use.request.json")), []byte(toolWant)},
		{"parallel tool use request", string(readFixture(t, "anthropic/messages-stream-parallel-tool-use.request.json")), []byte(toolWant)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := mustSend(t, srv, anthropicCall("/v1/messages", tt.body))
			for h, want := range map[string]string{"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if !requestIDRE.MatchString(resp.Header.Get("request-id")) || resp.Header.Get("anthropic-ratelimit-tokens-limit") == "" {
				t.Errorf("headers %v lack request-id or anthropic-ratelimit-*", resp.Header)
			}
			if diff := cmp.Diff(anthropicEvents(tt.want), anthropicEvents(body)); diff != "" {
				t.Errorf("stream differs from fixture (-want +got):\n%s", diff)
			}
			checkPadding(t, body)
		})
	}
}

// checkPadding checks the padding rule on every data line of an Anthropic
// stream: ping and error unpadded; any other payload compact JSON with 0–15
// spaces before its final '}'. It returns the paddings seen.
func checkPadding(t *testing.T, body []byte) []int {
	t.Helper()
	var pads []int
	for line := range strings.SplitSeq(string(body), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == `{"type": "ping"}` || strings.HasPrefix(data, `{"type": "error"`) {
			continue
		}
		core := strings.TrimRight(strings.TrimSuffix(data, "}"), " ") + "}"
		pad := len(data) - len(core)
		var compact bytes.Buffer
		if !strings.HasSuffix(data, "}") || pad > 15 || json.Compact(&compact, []byte(core)) != nil || compact.String() != core {
			t.Errorf("data line %q: want compact JSON with 0-15 spaces before the final }", line)
		}
		pads = append(pads, pad)
	}
	return pads
}

// The captures obey the rule the emulator follows.
func TestAnthropicFixturePadding(t *testing.T) {
	for _, name := range []string{"messages-stream-text.sse", "messages-stream-thinking.sse", "messages-stream-tool-use.sse",
		"messages-stream-parallel-tool-use.sse", "messages-stream-error-overloaded.sse", "messages-image-base64.sse"} {
		t.Run(name, func(t *testing.T) { checkPadding(t, readFixture(t, "anthropic/"+name)) })
	}
}

func TestAnthropicStreamPaddingVaries(t *testing.T) {
	_, srv := newServer(t, Options{})
	// 30 padded events: the chance that all draw the same padding is 16^-29.
	_, body := mustSend(t, srv, anthropicCall("/v1/messages", anthropicStream, "x-mock-reply", strings.Repeat("word ", 30)))
	pads := checkPadding(t, body)
	slices.Sort(pads)
	if len(pads) < 30 || len(slices.Compact(pads)) < 2 {
		t.Errorf("paddings %v: want 30 or more events with varying padding", pads)
	}
	if !strings.Contains(string(body), "event: ping\ndata: {\"type\": \"ping\"}\n\n") {
		t.Errorf("no ping event in %s", body)
	}
}

// streamed is a stream accumulated as a client SDK would.
type streamed struct {
	message
	types    []string // event types in order
	partials map[int]string
}

func accumulate(t *testing.T, body []byte) streamed {
	t.Helper()
	s := streamed{partials: map[int]string{}}
	for _, ev := range rawEvents(body) {
		if ev == "" {
			continue
		}
		typ, data, ok := strings.Cut(strings.TrimSuffix(ev, "\n\n"), "\ndata: ")
		typ, _ = strings.CutPrefix(typ, "event: ")
		var v struct {
			Type    string
			Index   int
			Message message
			Delta   struct {
				Type, Text, Thinking, Signature string
				PartialJSON                     string `json:"partial_json"`
				StopReason                      string `json:"stop_reason"`
				StopSequence                    any    `json:"stop_sequence"`
			}
			ContentBlock struct{ Type, ID, Name string } `json:"content_block"`
			Usage        struct {
				Input  int `json:"input_tokens"`
				Output int `json:"output_tokens"`
			}
		}
		if !ok || json.Unmarshal([]byte(data), &v) != nil || v.Type != typ {
			t.Fatalf("bad event %q", ev)
		}
		s.types = append(s.types, typ)
		switch typ {
		case "message_start":
			s.message = v.Message
		case "content_block_start":
			if v.Index != len(s.Content) {
				t.Errorf("content_block_start index %d, want %d", v.Index, len(s.Content))
			}
			s.Content = append(s.Content, contentBlock{Type: v.ContentBlock.Type, ID: v.ContentBlock.ID, Name: v.ContentBlock.Name})
		case "content_block_delta":
			c := &s.Content[v.Index]
			c.Text += v.Delta.Text
			c.Thinking += v.Delta.Thinking
			c.Signature += v.Delta.Signature
			s.partials[v.Index] += v.Delta.PartialJSON
		case "message_delta":
			s.StopReason, s.StopSeq = v.Delta.StopReason, v.Delta.StopSequence
			s.Usage.Input, s.Usage.Output = v.Usage.Input, v.Usage.Output
		}
	}
	return s
}

func TestAnthropicStreamValues(t *testing.T) {
	_, srv := newServer(t, Options{})
	body := `{"model":"claude-haiku-4-5","max_tokens":2048,"thinking":{"type":"enabled","budget_tokens":1024},"messages":[{"role":"user","content":"What is the capital of Mexico?"}],"tools":[{"name":"lookup"}],"stream":true}`
	_, got := mustSend(t, srv, anthropicCall("/v1/messages", body))
	s := accumulate(t, got)
	if len(s.Content) != 3 {
		t.Fatalf("%d content blocks, want thinking, text, tool_use", len(s.Content))
	}
	th, tx, tu := s.Content[0], s.Content[1], s.Content[2]
	if th.Type != "thinking" || th.Thinking != anthropicThinkingText || len(th.Signature) < 100 {
		t.Errorf("thinking block = %+v, want %q and a signature", th, anthropicThinkingText)
	}
	if tx.Type != "text" || tx.Text != DefaultReply {
		t.Errorf("text block = %+v, want %q", tx, DefaultReply)
	}
	if tu.Type != "tool_use" || tu.Name != "lookup" || !toolIDRE.MatchString(tu.ID) || s.partials[2] != "" {
		t.Errorf("tool_use block = %+v with input %q, want lookup, toolu_01…, \"\"", tu, s.partials[2])
	}
	// 14 thinking pieces + 8 text pieces + the tool call (2).
	if !msgIDRE.MatchString(s.ID) || s.Model != "claude-haiku-4-5" || s.StopReason != "tool_use" || s.Usage.Input != 7 || s.Usage.Output != 24 {
		t.Errorf("message %+v, want msg_01…, claude-haiku-4-5, tool_use, usage 7/24", s.message)
	}
	if first, last := s.types[0], s.types[len(s.types)-1]; first != "message_start" || last != "message_stop" {
		t.Errorf("events %v, want message_start … message_stop", s.types)
	}
}

func TestAnthropicCountTokens(t *testing.T) {
	_, srv := newServer(t, Options{})
	body := `{"model":"claude-sonnet-4-5","system":"Be brief.","messages":[{"role":"user","content":[{"type":"text","text":"What is the capital of Mexico?"}]},{"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"Mexico City"}]}]}`
	resp, got := mustSend(t, srv, anthropicCall("/v1/messages/count_tokens", body))
	// 9 + 30 + 11 characters.
	if want := `{"input_tokens":12}`; resp.StatusCode != 200 || string(got) != want || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("count_tokens = %d %q, want 200 %q", resp.StatusCode, got, want)
	}
	// The usage of the same request reports the same count.
	_, msg := mustSend(t, srv, anthropicCall("/v1/messages", strings.Replace(body, `{"model"`, `{"max_tokens":10,"model"`, 1)))
	var m message
	if err := json.Unmarshal(msg, &m); err != nil || m.Usage.Input != 12 {
		t.Errorf("messages usage.input_tokens = %d (%v), want 12", m.Usage.Input, err)
	}
}

// errorRequestIDRE matches the request_id member of an error body.
var errorRequestIDRE = regexp.MustCompile(`"request_id":"(req_[^"]*)"`)

// checkAnthropicError compares an error answer with want after blanking the
// request ids, and checks that the body's id is the request-id header's.
func checkAnthropicError(t *testing.T, resp *http.Response, body []byte, wantStatus int, want string) {
	t.Helper()
	if resp.StatusCode != wantStatus || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("status %d, Content-Type %q; want %d application/json", resp.StatusCode, resp.Header.Get("Content-Type"), wantStatus)
	}
	blank := func(s string) string { return errorRequestIDRE.ReplaceAllString(s, `"request_id":"_"`) }
	if diff := cmp.Diff(blank(want), blank(string(body))); diff != "" {
		t.Errorf("error body mismatch (-want +got):\n%s", diff)
	}
	m := errorRequestIDRE.FindStringSubmatch(string(body))
	if m == nil || !requestIDRE.MatchString(m[1]) || resp.Header.Get("request-id") != m[1] {
		t.Errorf("request_id in body %v, request-id header %q: want the same req_011C… id", m, resp.Header.Get("request-id"))
	}
}

func anthropicErrorBody(typ, message string) string {
	return `{"type":"error","error":{"type":"` + typ + `","message":"` + message + `"},"request_id":"req_011CSHoEeqs5C35K2UUqR7Fy"}`
}

func TestAnthropicAuth(t *testing.T) {
	_, srv := newServer(t, Options{APIKey: "sk-ant-test"})
	_, open := newServer(t, Options{})
	fixture401 := string(readFixture(t, "anthropic/error-401-authentication.response.json"))
	noVersion := anthropicErrorBody("invalid_request_error", anthropicVersionRequired)
	tests := []struct {
		name       string
		srv        string
		call       call
		wantStatus int
		wantBody   string // "" for a successful answer
	}{
		{"no key", "key", anthropicCall("/v1/messages", anthropicBody), 401, anthropicErrorBody("authentication_error", "x-api-key header is required")},
		{"wrong key", "key", anthropicCall("/v1/messages", anthropicBody, "x-api-key", "sk-wrong"), 401, fixture401},
		{"bearer is not enough", "key", anthropicCall("/v1/messages", anthropicBody, "Authorization", "Bearer sk-ant-test"), 401, anthropicErrorBody("authentication_error", "x-api-key header is required")},
		{"good key", "key", anthropicCall("/v1/messages", anthropicBody, "x-api-key", "sk-ant-test"), 200, ""},
		{"count_tokens wrong key", "key", anthropicCall("/v1/messages/count_tokens", anthropicBody, "x-api-key", "sk-wrong"), 401, fixture401},
		{"good key no version", "key", call{path: "/v1/messages", body: anthropicBody, header: map[string]string{"x-api-key": "sk-ant-test"}}, 400, noVersion},
		{"no version", "open", call{path: "/v1/messages", body: anthropicBody}, 400, noVersion},
		{"count_tokens no version", "open", call{path: "/v1/messages/count_tokens", body: anthropicBody}, 400, noVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := srv
			if tt.srv == "open" {
				s = open
			}
			resp, body := mustSend(t, s, tt.call)
			if tt.wantBody == "" {
				if resp.StatusCode != tt.wantStatus {
					t.Errorf("status = %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
				}
				return
			}
			checkAnthropicError(t, resp, body, tt.wantStatus, tt.wantBody)
		})
	}
}

func TestAnthropicValidation(t *testing.T) {
	_, srv := newServer(t, Options{})
	bad := func(message string) string { return anthropicErrorBody("invalid_request_error", message) }
	notFound := strings.Replace(string(readFixture(t, "anthropic/error-404-not-found.response.json")), "claude-sonet-4-5", "missing-claude", 1)
	tests := []struct {
		name       string
		call       call
		wantStatus int
		want       string
	}{
		{"no max_tokens", anthropicCall("/v1/messages", `{"model":"m","messages":[{"role":"user","content":"x"}]}`), 400, bad("max_tokens: Field required")},
		{"zero max_tokens", anthropicCall("/v1/messages", `{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}`), 400, bad("max_tokens: Input should be greater than or equal to 1")},
		{"no messages", anthropicCall("/v1/messages", `{"model":"m","max_tokens":10}`), 400, bad("messages: Field required")},
		{"empty messages", anthropicCall("/v1/messages", `{"model":"m","max_tokens":10,"messages":[]}`), 400, bad("messages: at least one message is required")},
		{"no model", anthropicCall("/v1/messages", `{"max_tokens":10,"messages":[{"role":"user","content":"x"}]}`), 400, bad("model: Field required")},
		{"count_tokens no model", anthropicCall("/v1/messages/count_tokens", `{"messages":[{"role":"user","content":"x"}]}`), 400, bad("model: Field required")},
		{"wrong type", anthropicCall("/v1/messages", `{"model":"m","max_tokens":"10","messages":[]}`), 400, bad("max_tokens: Input should be a valid integer")},
		{"wrong type stream", anthropicCall("/v1/messages", `{"model":"m","max_tokens":10,"messages":[],"stream":"yes"}`), 400, bad("stream: Input should be a valid boolean")},
		{"invalid json", anthropicCall("/v1/messages", "{\"model\":\"m\",\n \"max_tokens\": x}"), 400, bad("The request body is not valid JSON: unexpected character: line 2 column 16 (char 29)")},
		{"truncated json", anthropicCall("/v1/messages", `{"model":`), 400, bad("The request body is not valid JSON: unexpected end of data: line 1 column 10 (char 9)")},
		{"missing model", anthropicCall("/v1/messages", `{"model":"missing-claude","max_tokens":10,"messages":[{"role":"user","content":"x"}]}`), 404, notFound},
		{"unknown path", anthropicCall("/v1/messages/batches", anthropicBody), 404, anthropicErrorBody("not_found_error", "Not Found")},
		{"wrong method", call{method: "GET", path: "/v1/messages", header: map[string]string{"anthropic-version": "2023-06-01"}}, 405, anthropicErrorBody("invalid_request_error", "Method Not Allowed")},
		{"bad fault spec", anthropicCall("/v1/messages", anthropicBody, "x-mock-fault", "status=abc"), 400, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := mustSend(t, srv, tt.call)
			if tt.want == "" {
				if resp.StatusCode != tt.wantStatus || !strings.HasPrefix(string(body), `{"type":"error","error":{"type":"invalid_request_error","message":"Invalid x-mock-fault header`) {
					t.Errorf("status %d body %s, want %d in Anthropic's shape", resp.StatusCode, body, tt.wantStatus)
				}
				return
			}
			checkAnthropicError(t, resp, body, tt.wantStatus, tt.want)
		})
	}
}

func TestAnthropicFaultStatus(t *testing.T) {
	_, srv := newServer(t, Options{})
	fx := func(name string) string { return string(readFixture(t, "anthropic/"+name)) }
	tests := []struct {
		name, fault, body string
		wantStatus        int
		want              string
	}{
		{"400", "status=400", anthropicBody, 400, fx("error-400-invalid-request.response.json")},
		{"401", "status=401", anthropicBody, 401, fx("error-401-authentication.response.json")},
		{"404 names the model", "status=404", strings.Replace(anthropicBody, "claude-sonnet-4-5", "claude-sonet-4-5", 1), 404, fx("error-404-not-found.response.json")},
		{"429", "status=429", anthropicBody, 429, fx("error-429-rate-limit.response.json")},
		{"500", "status=500", anthropicBody, 500, fx("error-500-api-error.response.json")},
		{"529", "status=529", anthropicBody, 529, fx("error-529-overloaded.response.json")},
		{"529 on a stream", "status=529", anthropicStream, 529, fx("error-529-overloaded.response.json")},
		{"529 on count_tokens", "status=529", "", 529, fx("error-529-overloaded.response.json")},
		{"403", "status=403", anthropicBody, 403, anthropicErrorBody("permission_error", "Forbidden")},
		{"503", "status=503", anthropicBody, 503, anthropicErrorBody("api_error", "Service Unavailable")},
		{"code sets the type", "status=402;code=billing_error", anthropicBody, 402, anthropicErrorBody("billing_error", "Payment Required")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, body := "/v1/messages", tt.body
			if body == "" {
				path, body = "/v1/messages/count_tokens", anthropicBody
			}
			resp, got := mustSend(t, srv, anthropicCall(path, body, "x-mock-fault", tt.fault))
			checkAnthropicError(t, resp, got, tt.wantStatus, tt.want)
		})
	}
	t.Run("429 headers", func(t *testing.T) {
		resp, _ := mustSend(t, srv, anthropicCall("/v1/messages", anthropicBody, "x-mock-fault", "status=429"))
		want := fixtureHeaders("anthropic/error-429-rate-limit.headers.txt")
		for k := range want {
			if k != "Content-Type" && k != "Request-Id" && resp.Header.Get(k) == "" {
				t.Errorf("no %s header", k)
			}
		}
		for _, k := range []string{"Retry-After", "Anthropic-Ratelimit-Input-Tokens-Remaining", "Anthropic-Ratelimit-Requests-Remaining"} {
			if got := resp.Header.Get(k); got != want.Get(k) {
				t.Errorf("%s = %q, want %q", k, got, want.Get(k))
			}
		}
		// The exhausted limit resets retry-after (17s) from now.
		reset, err := time.Parse(time.RFC3339, resp.Header.Get("Anthropic-Ratelimit-Input-Tokens-Reset"))
		if d := time.Until(reset); err != nil || d < 14*time.Second || d > 18*time.Second {
			t.Errorf("input-tokens reset %q is %v away, want about 17s", resp.Header.Get("Anthropic-Ratelimit-Input-Tokens-Reset"), d)
		}
	})
}

func TestAnthropicErrorAfter(t *testing.T) {
	_, srv := newServer(t, Options{})
	errEvent := string(anthropicStreamError())
	t.Run("fixture", func(t *testing.T) {
		// One text delta, then the error: messages-stream-error-overloaded.sse.
		_, body, err := send(t, srv, anthropicCall("/v1/messages", anthropicStream, "x-mock-fault", "error_after=4", "x-mock-reply", "2"))
		if err != nil {
			t.Fatalf("stream ended with %v, want a clean EOF", err)
		}
		want := readFixture(t, "anthropic/messages-stream-error-overloaded.sse")
		if diff := cmp.Diff(anthropicNormalize(want), anthropicNormalize(body)); diff != "" {
			t.Errorf("stream differs from fixture (-want +got):\n%s", diff)
		}
		if !strings.HasSuffix(string(body), "\n\nevent: error\ndata: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n") {
			t.Errorf("stream does not end with the fixture's error event:\n%s", body)
		}
	})
	tests := []struct {
		fault      string
		wantEvents int // events before the error event
	}{
		{"error_after=0", 0},
		{"error_after=2", 2},
		{"error_after=100", 13}, // everything but message_stop: 8 text deltas + 5
	}
	for _, tt := range tests {
		t.Run(tt.fault, func(t *testing.T) {
			_, body, err := send(t, srv, anthropicCall("/v1/messages", anthropicStream, "x-mock-fault", tt.fault))
			if err != nil {
				t.Fatalf("stream ended with %v, want a clean EOF", err)
			}
			ev := rawEvents(body)
			if len(ev) != tt.wantEvents+2 || ev[len(ev)-2] != errEvent || ev[len(ev)-1] != "" {
				t.Errorf("got %d events, want %d then the error:\n%s", len(ev)-1, tt.wantEvents, body)
			}
			if strings.Contains(string(body), "message_stop") {
				t.Errorf("stream has message_stop after the error")
			}
		})
	}
}

func TestAnthropicCutAfter(t *testing.T) {
	done := make(chan Recorded, 2)
	_, srv := newServer(t, Options{OnDone: func(r Recorded) { done <- r }})
	t.Run("stream", func(t *testing.T) {
		resp, body, err := send(t, srv, anthropicCall("/v1/messages", anthropicStream, "x-mock-fault", "cut_after=3"))
		if err == nil {
			t.Fatalf("read the whole stream without error: %q", body)
		}
		if resp.StatusCode != 200 {
			t.Errorf("status = %d, want 200", resp.StatusCode)
		}
		if n := strings.Count(string(body), "event: "); n != 3 || !strings.HasSuffix(string(body), "event: ping\ndata: {\"type\": \"ping\"}\n\n") {
			t.Errorf("got %d events before the cut (want 3, through ping):\n%s", n, body)
		}
		if r := <-done; r.Canceled || r.Fault != "cut_after=3" {
			t.Errorf("recorded %+v, want not canceled with fault cut_after=3", r)
		}
	})
	t.Run("non-stream", func(t *testing.T) {
		_, body, err := send(t, srv, anthropicCall("/v1/messages", anthropicBody, "x-mock-fault", "cut_after=0"))
		if err == nil {
			t.Fatalf("read the whole body without error: %q", body)
		}
		<-done
	})
}

// The delivery faults are the dialect-independent machinery of faults.go;
// one case each shows they apply to Anthropic answers too.
func TestAnthropicDeliveryFaults(t *testing.T) {
	e, srv := newServer(t, Options{})
	tests := []struct {
		name, fault, body string
		check             func(t *testing.T, resp *http.Response, body []byte, took time.Duration)
	}{
		{"chunk_delay", "chunk_delay=10ms", anthropicStream, func(t *testing.T, _ *http.Response, body []byte, took time.Duration) {
			// "a" streams 7 events: 6 gaps.
			if n := len(rawEvents(body)) - 1; n != 7 || took < 60*time.Millisecond {
				t.Errorf("%d events in %v, want 7 in at least 60ms", n, took)
			}
		}},
		{"latency", "latency=30ms", anthropicBody, func(t *testing.T, resp *http.Response, _ []byte, took time.Duration) {
			if resp.StatusCode != 200 || took < 30*time.Millisecond {
				t.Errorf("status %d after %v, want 200 after 30ms", resp.StatusCode, took)
			}
		}},
		{"first_byte", "first_byte=30ms", anthropicBody, func(t *testing.T, resp *http.Response, body []byte, took time.Duration) {
			if !json.Valid(body) || took < 30*time.Millisecond {
				t.Errorf("body %s after %v, want a Message after 30ms", body, took)
			}
		}},
		{"html", "body=html;status=502", anthropicBody, func(t *testing.T, resp *http.Response, body []byte, _ time.Duration) {
			if resp.StatusCode != 502 || resp.Header.Get("Content-Type") != "text/html" || !requestIDRE.MatchString(resp.Header.Get("request-id")) {
				t.Errorf("status %d %q request-id %q, want a 502 HTML page with a request-id", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("request-id"))
			}
		}},
		{"truncated stream", "body=truncated", anthropicStream, func(t *testing.T, _ *http.Response, body []byte, _ time.Duration) {
			if !strings.HasPrefix(string(body), "event: message_start\ndata: {") || strings.Contains(string(body), "message_stop") {
				t.Errorf("truncated stream = %q, want half the events", body)
			}
		}},
		{"invalid", "body=invalid", anthropicBody, func(t *testing.T, _ *http.Response, body []byte, _ time.Duration) {
			if json.Valid(body) {
				t.Errorf("body %s is JSON, want garbage", body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := time.Now()
			resp, body := mustSend(t, srv, anthropicCall("/v1/messages", tt.body, "x-mock-fault", tt.fault, "x-mock-reply", "a"))
			tt.check(t, resp, body, time.Since(start))
		})
	}
	t.Run("reset", func(t *testing.T) {
		if _, _, err := send(t, srv, anthropicCall("/v1/messages", anthropicBody, "x-mock-fault", "reset")); err == nil {
			t.Error("reset: got an answer, want a connection error")
		}
	})
	t.Run("times", func(t *testing.T) {
		e.Reset()
		var got []int
		for range 3 {
			resp, _ := mustSend(t, srv, anthropicCall("/v1/messages", anthropicBody, "x-mock-fault", "status=529;times=2"))
			got = append(got, resp.StatusCode)
		}
		if diff := cmp.Diff([]int{529, 529, 200}, got); diff != "" {
			t.Errorf("statuses mismatch (-want +got):\n%s", diff)
		}
	})
}
