package anthropic

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseErrorFixtures(t *testing.T) {
	tests := []struct {
		file   string
		status int
		want   APIError
	}{
		{"error-400-invalid-request", 400, APIError{400, "invalid_request_error", "", "This model does not support effort level 'xhigh'. Supported levels: high, low, max, medium."}},
		{"error-401-authentication", 401, APIError{401, "authentication_error", "invalid_api_key", "invalid x-api-key"}},
		{"error-404-not-found", 404, APIError{404, "invalid_request_error", "not_found", "model: claude-sonet-4-5"}},
		{"error-429-rate-limit", 429, APIError{429, "rate_limit_error", "rate_limit_exceeded", "This request would exceed your account's rate limit. Please try again later."}},
		{"error-500-api-error", 500, APIError{500, "server_error", "", "Internal server error"}},
		{"error-529-overloaded", 529, APIError{503, "server_error", "overloaded", "Overloaded"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, ok := ParseError(tt.status, readFixture(t, "anthropic/"+tt.file+".response.json"))
			if !ok {
				t.Fatalf("ParseError(%d, %s) not ok", tt.status, tt.file)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseError(%d, %s) mismatch (-want +got):\n%s", tt.status, tt.file, diff)
			}
		})
	}
}

func TestParseErrorCases(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   APIError
		ok     bool
	}{
		{"403", 403, `{"type":"error","error":{"type":"permission_error","message":"no"}}`, APIError{403, "permission_error", "", "no"}, true},
		{"413", 413, `{"type":"error","error":{"type":"request_too_large","message":"big"}}`, APIError{413, "invalid_request_error", "request_too_large", "big"}, true},
		{"504", 504, `{"type":"error","error":{"type":"timeout_error","message":"slow"}}`, APIError{504, "server_error", "timeout", "slow"}, true},
		{"type wins over status", 500, `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`, APIError{503, "server_error", "overloaded", "Overloaded"}, true},
		{"unknown type, known status", 429, `{"type":"error","error":{"type":"new_limit_error","message":"m"}}`, APIError{429, "new_limit_error", "rate_limit_exceeded", "m"}, true},
		{"unknown type, other status", 402, `{"type":"error","error":{"type":"billing_error","message":"pay"}}`, APIError{402, "billing_error", "", "pay"}, true},
		{"unknown type, bad status", 200, `{"type":"error","error":{"type":"weird","message":"m"}}`, APIError{500, "weird", "", "m"}, true},
		{"no type", 529, `{"error":{"message":"busy"}}`, APIError{503, "server_error", "overloaded", "busy"}, true},
		{"html", 502, `<html>Bad gateway</html>`, APIError{}, false},
		{"empty", 500, ``, APIError{}, false},
		{"no error object", 400, `{"type":"error"}`, APIError{}, false},
		{"error is a string", 400, `{"error":"bad"}`, APIError{}, false},
		{"empty error", 400, `{"error":{}}`, APIError{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseError(tt.status, []byte(tt.body))
			if ok != tt.ok {
				t.Fatalf("ParseError(%d, %s) ok = %v, want %v", tt.status, tt.body, ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseError(%d, %s) mismatch (-want +got):\n%s", tt.status, tt.body, diff)
			}
		})
	}
}
