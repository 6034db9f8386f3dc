package gemini

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestFromGeminiFixtures(t *testing.T) {
	tests := []struct {
		name string
		want Usage
	}{
		// thoughtsTokenCount is in totalTokenCount, not candidatesTokenCount.
		{"generate-content", Usage{PromptTokens: 9, CompletionTokens: 43, ReasoningTokens: 34}},
		{"generate-content-function-call", Usage{PromptTokens: 33, CompletionTokens: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, usage, err := FromGemini(readFixture(t, "gemini/"+tt.name+".response.json"), "gpt-4o")
			if err != nil {
				t.Fatalf("FromGemini(%s): %v", tt.name, err)
			}
			checkCompact(t, out)
			if diff := cmp.Diff(tt.want, usage); diff != "" {
				t.Errorf("FromGemini(%s) usage mismatch (-want +got):\n%s", tt.name, diff)
			}
			golden(t, "fromgemini/"+tt.name+".want.json", indentJSON(t, out))
		})
	}
}

func TestFromGeminiCases(t *testing.T) {
	tests := []struct{ name, body string }{
		{"thinking-and-calls", `{"candidates":[{"content":{"parts":[{"text":"Let me see.","thought":true},{"text":"Checking."},{"functionCall":{"name":"a","args":{"x":[1, 2]}}},{"functionCall":{"name":"b"}}],"role":"model"},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":6,"cachedContentTokenCount":8,"thoughtsTokenCount":3,"totalTokenCount":19},"modelVersion":"gemini-2.5-pro","responseId":"abc"}`},
		{"max-tokens", `{"candidates":[{"content":{"parts":[{"text":"Once upon"}],"role":"model"},"finishReason":"MAX_TOKENS"}],"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":2,"totalTokenCount":4},"responseId":"def"}`},
		{"recitation", `{"candidates":[{"content":{"role":"model"},"finishReason":"RECITATION"}],"usageMetadata":{"promptTokenCount":2,"totalTokenCount":2},"responseId":"ghi"}`},
		{"prompt-blocked", `{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":7,"totalTokenCount":7},"responseId":"jkl"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, _, err := FromGemini([]byte(tt.body), "gpt-4o")
			if err != nil {
				t.Fatalf("FromGemini(%s): %v", tt.body, err)
			}
			checkCompact(t, out)
			golden(t, "fromgemini/"+tt.name+".want.json", indentJSON(t, out))
		})
	}
}

func TestFromGeminiErrors(t *testing.T) {
	for _, body := range []string{``, `{"candidates":[`, `[]`, `{}`, `{"candidates":[{"content":{"parts":[{"text":1}]}}]}`} {
		if out, _, err := FromGemini([]byte(body), "m"); err == nil {
			t.Errorf("FromGemini(%q) = %s, want an error", body, out)
		}
	}
	if _, _, err := FromGemini(readFixture(t, "gemini/error-404-not-found.response.json"), "m"); err == nil {
		t.Errorf("FromGemini(error body) succeeded")
	}
}

func TestFinishReason(t *testing.T) {
	for _, tt := range []struct {
		reason string
		calls  bool
		want   string
	}{
		{"STOP", false, "stop"}, {"STOP", true, "tool_calls"}, {"", true, "tool_calls"},
		{"MAX_TOKENS", false, "length"}, {"MAX_TOKENS", true, "length"},
		{"SAFETY", false, "content_filter"}, {"RECITATION", false, "content_filter"},
		{"BLOCKLIST", false, "content_filter"}, {"PROHIBITED_CONTENT", false, "content_filter"},
		{"SPII", false, "content_filter"}, {"OTHER", false, "stop"}, {"MALFORMED_FUNCTION_CALL", false, "stop"},
	} {
		if got := finishReason(tt.reason, tt.calls); got != tt.want {
			t.Errorf("finishReason(%q, %v) = %q, want %q", tt.reason, tt.calls, got, tt.want)
		}
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   []byte
		want   APIError
	}{
		{"api-key-invalid", 400, readFixture(t, "gemini/error-400-api-key-invalid.response.json"),
			APIError{Status: 401, Type: "authentication_error", Code: "invalid_api_key", Message: "API key not valid. Please pass a valid API key."}},
		{"not-found", 404, readFixture(t, "gemini/error-404-not-found.response.json"),
			APIError{Status: 404, Type: "invalid_request_error", Code: "not_found", Message: "models/gemini-3.6-flahs is not found for API version v1beta, or is not supported for generateContent. Call ModelService.ListModels to see the list of available models and their supported methods."}},
		{"retry-info-short", 429, readFixture(t, "gemini/error-429-retry-info-short.response.json"),
			APIError{Status: 429, Type: "rate_limit_error", Code: "rate_limit_exceeded", Message: "You exceeded your current quota, please check your plan.", RetryAfter: 34400 * time.Millisecond}},
		{"unavailable", 503, []byte(`{"error":{"code":503,"message":"The model is overloaded. Please try again later.","status":"UNAVAILABLE"}}`),
			APIError{Status: 503, Type: "server_error", Code: "overloaded", Message: "The model is overloaded. Please try again later."}},
		{"internal-array", 500, []byte(`[{"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}]`),
			APIError{Status: 500, Type: "server_error", Message: "An internal error has occurred."}},
		{"unauthenticated-vertex", 401, []byte(`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`),
			APIError{Status: 401, Type: "authentication_error", Code: "invalid_api_key", Message: "Request had invalid authentication credentials."}},
		{"unknown-status-name", 418, []byte(`{"error":{"code":418,"message":"teapot","status":"TEAPOT"}}`),
			APIError{Status: 418, Type: "teapot", Message: "teapot"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseError(tt.status, tt.body)
			if !ok {
				t.Fatalf("ParseError(%d, %s) not ok", tt.status, tt.body)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseError mismatch (-want +got):\n%s", diff)
			}
		})
	}
	got, ok := ParseError(429, readFixture(t, "gemini/error-429-resource-exhausted.response.json"))
	if !ok || got.RetryAfter != 33*time.Second || got.Status != http.StatusTooManyRequests {
		t.Errorf("ParseError(429 resource-exhausted) = %+v, %v; want 429 with RetryAfter 33s", got, ok)
	}
	for _, body := range []string{``, `<html>`, `{"error":{}}`, `{"message":"x"}`, `[]`} {
		if got, ok := ParseError(502, []byte(body)); ok {
			t.Errorf("ParseError(%q) = %+v, want not ok", body, got)
		}
	}
}
