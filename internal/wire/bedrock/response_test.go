package bedrock

import (
	"net/http"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
)

func TestFromConverseFixtures(t *testing.T) {
	tests := map[string]Usage{
		"converse":           {PromptTokens: 7, CompletionTokens: 30},
		"converse-tool-use":  {PromptTokens: 571, CompletionTokens: 22},
		"converse-reasoning": {PromptTokens: 42, CompletionTokens: 313},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			out, usage, err := FromConverse(readFixture(t, "bedrock/"+name+".response.json"), "gpt-4o")
			if err != nil {
				t.Fatal(err)
			}
			checkCompact(t, out)
			golden(t, "fromconverse/"+name+".want.json", indentJSON(t, out))
			if diff := cmp.Diff(want, usage); diff != "" {
				t.Errorf("usage mismatch (-want +got):\n%s", diff)
			}
		})
	}
	if _, _, err := FromConverse(readFixture(t, "bedrock/error-400-validation.response.json"), "m"); err == nil {
		t.Error("FromConverse(error body) succeeded")
	}
}

func TestFinishReason(t *testing.T) {
	for in, want := range map[string]string{"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
		"tool_use": "tool_calls", "guardrail_intervened": "content_filter", "content_filtered": "content_filter", "new": "stop"} {
		if got := finishReason(in); got != want {
			t.Errorf("finishReason(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseError(t *testing.T) {
	hdr := func(typ string) http.Header {
		h := http.Header{}
		if typ != "" {
			h.Set("X-Amzn-ErrorType", typ+":http://internal.amazon.com/coral/com.amazon.bedrock/")
		}
		return h
	}
	tests := []struct {
		name   string
		status int
		h      http.Header
		body   string
		want   APIError
	}{
		{"validation fixture", 400, hdr("ValidationException"), string(readFixture(t, "bedrock/error-400-validation.response.json")),
			APIError{400, "invalid_request_error", "", "The provided model identifier is invalid.", "ValidationException"}},
		{"throttling fixture", 429, hdr("ThrottlingException"), string(readFixture(t, "bedrock/error-429-throttling.response.json")),
			APIError{429, "rate_limit_error", "rate_limit_exceeded", "Too many requests, please wait before trying again.", "ThrottlingException"}},
		{"context", 400, hdr("ValidationException"), `{"message":"Input is too long for requested model."}`,
			APIError{400, "invalid_request_error", "context_length_exceeded", "Input is too long for requested model.", "ValidationException"}},
		{"access", 403, hdr("AccessDeniedException"), `{"message":"no"}`, APIError{403, "permission_error", "", "no", "AccessDeniedException"}},
		{"bad key", 403, hdr("UnrecognizedClientException"), `{"message":"bad"}`, APIError{401, "authentication_error", "invalid_api_key", "bad", "UnrecognizedClientException"}},
		{"not found", 404, hdr("ResourceNotFoundException"), `{"message":"x"}`, APIError{404, "invalid_request_error", "not_found", "x", "ResourceNotFoundException"}},
		{"unavailable", 503, hdr("ServiceUnavailableException"), `{"message":"x"}`, APIError{503, "server_error", "service_unavailable", "x", "ServiceUnavailableException"}},
		{"not ready", 429, hdr("ModelNotReadyException"), `{"message":"x"}`, APIError{503, "server_error", "service_unavailable", "x", "ModelNotReadyException"}},
		{"internal", 500, hdr("InternalServerException"), `{"message":"x"}`, APIError{500, "server_error", "", "x", "InternalServerException"}},
		{"timeout", 408, hdr("ModelTimeoutException"), `{"message":"x"}`, APIError{504, "server_error", "timeout", "x", "ModelTimeoutException"}},
		{"__type", 400, hdr(""), `{"__type":"com.amazon.coral.validate#ThrottlingException","Message":"slow"}`, APIError{429, "rate_limit_error", "rate_limit_exceeded", "slow", "ThrottlingException"}},
		{"no type", 503, hdr(""), `{"message":"x"}`, APIError{503, "server_error", "service_unavailable", "x", ""}},
	}
	for _, tt := range tests {
		got, ok := ParseError(tt.status, tt.h, []byte(tt.body))
		if !ok {
			t.Errorf("%s: ParseError not ok", tt.name)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s: ParseError mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
	for _, body := range []string{"<html>", `{"error":"x"}`, ``} {
		if _, ok := ParseError(502, http.Header{}, []byte(body)); ok {
			t.Errorf("ParseError(%q) ok, want not ok", body)
		}
	}
	_ = strings.ToLower
}

// TestFromConverseJSON covers answers to requests sent with
// response_format: the forced tool's call is the content.
func TestFromConverseJSON(t *testing.T) {
	tests := []struct{ name, tool, body string }{
		{"json-schema", "city", `{"output":{"message":{"role":"assistant","content":[{"toolUse":{"toolUseId":"tooluse_j","name":"city","input":{"name": "Paris",
 "country": "France"}}}]}},"stopReason":"tool_use","usage":{"inputTokens":50,"outputTokens":20,"totalTokens":70}}`},
		{"json-object-text-dropped", "json_response", `{"output":{"message":{"role":"assistant","content":[{"text":"<thinking>A greeting.</thinking>"},{"toolUse":{"toolUseId":"tooluse_k","name":"json_response","input":{"greeting":"hi"}}}]}},"stopReason":"tool_use","usage":{"inputTokens":40,"outputTokens":15,"totalTokens":55}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := FromConverseJSON([]byte(tt.body), "gpt-4o", tt.tool)
			if err != nil {
				t.Fatalf("FromConverseJSON(%s) error: %v", tt.body, err)
			}
			checkCompact(t, out)
			golden(t, "fromconverse/"+tt.name+".want.json", indentJSON(t, out))
		})
	}

	// The recorded tool call, read as the JSON tool's.
	body := readFixture(t, "bedrock/converse-tool-use.response.json")
	out, usage, err := FromConverseJSON(body, "gpt-4o", "temperature")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Choices []struct {
			Message struct {
				Content   *string `json:"content"`
				ToolCalls []any   `json:"tool_calls"`
			} `json:"message"`
			FinishReason string `json:"finish_reason"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	m := got.Choices[0].Message
	if m.Content == nil || !jsontext.Value(*m.Content).IsValid() || len(m.ToolCalls) != 0 || got.Choices[0].FinishReason != "stop" {
		t.Errorf("FromConverseJSON(converse-tool-use, temperature) = %s; want the input as content, no tool_calls, finish_reason stop", out)
	}
	if want := (Usage{PromptTokens: 571, CompletionTokens: 22}); usage != want {
		t.Errorf("usage = %+v, want %+v", usage, want)
	}
	plain, _, _ := FromConverse(body, "gpt-4o")
	if again, _, _ := FromConverseJSON(body, "gpt-4o", ""); string(again) != string(plain) {
		t.Errorf("FromConverseJSON(…, \"\") = %s, want FromConverse's %s", again, plain)
	}
}

func TestJSONToolName(t *testing.T) {
	for body, want := range map[string]string{
		`{"messages":[]}`:                                                          "",
		`{"response_format":{"type":"text"}}`:                                      "",
		`{"response_format":{"type":"json_object"}}`:                               "json_response",
		`{"response_format":{"type":"json_schema","json_schema":{"name":"city"}}}`: "city",
		`{"response_format":{"type":"json_schema","json_schema":{"schema":{}}}}`:   "json_response",
	} {
		got, ok := JSONToolName([]byte(body))
		if got != want || ok != (want != "") {
			t.Errorf("JSONToolName(%s) = %q, %v; want %q, %v", body, got, ok, want, want != "")
		}
	}
}
