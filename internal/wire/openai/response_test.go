package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/switchboard-gw/switchboard/internal/sse"
)

// streamChunks returns the data of every event of an SSE fixture except
// the [DONE] sentinel.
func streamChunks(t testing.TB, file string) [][]byte {
	t.Helper()
	r := sse.NewReader(bytes.NewReader(readFixture(t, file)))
	var out [][]byte
	for {
		e, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if string(e.Data) == "[DONE]" {
			continue
		}
		out = append(out, bytes.Clone(e.Data))
	}
}

func TestScanChunkFixtures(t *testing.T) {
	tests := []struct {
		file      string
		chunks    int
		usageAt   int // index of the usage chunk
		usage     Usage
		noChoices []int // indexes of chunks with "choices":[]
		finishAt  int
		finish    string
	}{
		{"openai/chat-stream-usage.sse", 11, 10, Usage{PromptTokens: 14, CompletionTokens: 8, TotalTokens: 22}, []int{10}, 9, "stop"},
		{"openai/chat-stream-tool-calls.sse", 14, 13, Usage{}, []int{13}, 12, "tool_calls"},
		{"openai/chat-stream-parallel-tool-calls.sse", 11, 10, Usage{}, []int{10}, 9, "tool_calls"},
		{"azure/chat-stream-content-filter.sse", 8, 7, Usage{PromptTokens: 15, CompletionTokens: 78, TotalTokens: 93, ReasoningTokens: 64}, []int{0, 7}, 6, "stop"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			chunks := streamChunks(t, tt.file)
			if len(chunks) != tt.chunks {
				t.Fatalf("got %d chunks, want %d", len(chunks), tt.chunks)
			}
			var noChoices []int
			for i, data := range chunks {
				c, err := ScanChunk(data)
				if err != nil {
					t.Fatalf("ScanChunk(chunk %d): %v", i, err)
				}
				if c.NoChoices {
					noChoices = append(noChoices, i)
				}
				if c.IsError {
					t.Errorf("chunk %d: IsError = true", i)
				}
				if c.HasUsage != (i == tt.usageAt) {
					t.Errorf("chunk %d: HasUsage = %v, want %v", i, c.HasUsage, i == tt.usageAt)
				}
				if i == tt.usageAt && tt.usage != (Usage{}) {
					if diff := cmp.Diff(tt.usage, c.Usage); diff != "" {
						t.Errorf("chunk %d usage (-want +got):\n%s", i, diff)
					}
				}
				if i == tt.usageAt {
					if err := checkUsageAgainstJSON(data, c.Usage); err != nil {
						t.Errorf("chunk %d: %v", i, err)
					}
				}
				wantFinish := ""
				if i == tt.finishAt {
					wantFinish = tt.finish
				}
				if c.FinishReason != wantFinish {
					t.Errorf("chunk %d: FinishReason = %q, want %q", i, c.FinishReason, wantFinish)
				}
			}
			if diff := cmp.Diff(tt.noChoices, noChoices); diff != "" {
				t.Errorf("chunks with empty choices (-want +got):\n%s", diff)
			}
		})
	}
}

// checkUsageAgainstJSON compares u with a reflection-based decoding of the
// body's usage (a test-only oracle).
func checkUsageAgainstJSON(body []byte, u Usage) error {
	var v struct {
		Usage struct {
			PromptTokens     int64 `json:"prompt_tokens"`
			CompletionTokens int64 `json:"completion_tokens"`
			TotalTokens      int64 `json:"total_tokens"`
			PromptDetails    struct {
				CachedTokens int64 `json:"cached_tokens"`
			} `json:"prompt_tokens_details"`
			CompletionDetails struct {
				ReasoningTokens int64 `json:"reasoning_tokens"`
			} `json:"completion_tokens_details"`
		} `json:"usage"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return err
	}
	want := Usage{v.Usage.PromptTokens, v.Usage.CompletionTokens, v.Usage.TotalTokens, v.Usage.PromptDetails.CachedTokens, v.Usage.CompletionDetails.ReasoningTokens}
	if want != u {
		return errors.New("usage " + cmp.Diff(want, u))
	}
	return nil
}

func TestScanChunk(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    Chunk
		wantErr bool
	}{
		{"usage first", `{"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5,"prompt_tokens_details":{"cached_tokens":1},"completion_tokens_details":{"reasoning_tokens":1}},"choices":[]}`,
			Chunk{Usage: Usage{3, 2, 5, 1, 1}, HasUsage: true, NoChoices: true}, false},
		{"null usage", `{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":null}],"usage":null}`, Chunk{}, false},
		{"null details", `{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":null,"total_tokens":3,"prompt_tokens_details":null}}`,
			Chunk{Usage: Usage{PromptTokens: 3, TotalTokens: 3}, HasUsage: true, NoChoices: true}, false},
		{"groq float timings ignored", `{"choices":[],"usage":{"queue_time":0.19,"prompt_tokens":30,"completion_tokens":10,"total_tokens":40},"x_groq":{"usage":{"prompt_tokens":1}}}`,
			Chunk{Usage: Usage{PromptTokens: 30, CompletionTokens: 10, TotalTokens: 40}, HasUsage: true, NoChoices: true}, false},
		{"error event", `{"error":{"message":"overloaded","type":"server_error"}}`, Chunk{IsError: true}, false},
		{"finish in second choice ignored", `{"choices":[{"index":0,"finish_reason":null},{"index":1,"finish_reason":"length"}]}`, Chunk{}, false},
		{"unusual finish reason", `{"choices":[{"finish_reason":"eos\u0021"}]}`, Chunk{FinishReason: "eos!"}, false},
		{"content_filter", `{"choices":[{"finish_reason":"content_filter"}]}`, Chunk{FinishReason: "content_filter"}, false},
		{"choices null", `{"choices":null}`, Chunk{}, false},
		{"fractional token count", `{"usage":{"prompt_tokens":1.5}}`, Chunk{}, true},
		{"done sentinel", `[DONE]`, Chunk{}, true},
		{"truncated", `{"choices":[{"delta":`, Chunk{}, true},
		{"trailing data", `{"choices":[]} {}`, Chunk{}, true},
		{"array", `[]`, Chunk{}, true},
		{"empty", ``, Chunk{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ScanChunk([]byte(tt.data))
			if (err != nil) != tt.wantErr {
				t.Fatalf("ScanChunk(%s) error = %v, wantErr %v", tt.data, err, tt.wantErr)
			}
			if err != nil {
				if !strings.HasPrefix(err.Error(), "openai: scan chunk: ") {
					t.Errorf("error %q lacks the package prefix", err)
				}
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ScanChunk(%s) mismatch (-want +got):\n%s", tt.data, diff)
			}
		})
	}
}

func TestScanResponseFixtures(t *testing.T) {
	tests := []struct {
		file string
		want Response
	}{
		{"openai/chat-text.response.json", Response{Usage{14, 8, 22, 0, 0}, true, "gpt-4o-2024-08-06"}},
		{"openai/chat-text-raw.response.json", Response{Usage{20, 18, 38, 0, 0}, true, "gpt-5.1-chat-latest"}},
		{"openai/chat-tools.response.json", Response{Usage{92, 17, 109, 0, 0}, true, "gpt-4o-mini-2024-07-18"}},
		{"openai/chat-image-input.response.json", Response{Usage{1117, 46, 1163, 0, 0}, true, "gpt-5.4"}},
		{"openai/embeddings-base64.response.json", Response{Usage{PromptTokens: 4, TotalTokens: 4}, true, "text-embedding-3-small"}},
		{"openai/embeddings-float.response.json", Response{Usage{PromptTokens: 56, TotalTokens: 56}, true, "text-embedding-3-small"}},
		{"azure/chat-completions.response.json", Response{Usage{14, 9, 23, 0, 0}, true, "gpt-4o-2024-11-20"}},
		{"azure/chat-completion-filtered-output.response.json", Response{Usage{14, 9, 23, 0, 0}, true, "gpt-4o-2024-11-20"}},
		{"groq/chat-text.response.json", Response{Usage{30, 10, 40, 0, 0}, true, "moonshotai/kimi-k2-instruct-0905"}},
		{"mistral/chat-text.response.json", Response{Usage{7, 61, 68, 0, 0}, true, "mistral-large-latest"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readFixture(t, tt.file)
			got, err := ScanResponse(body)
			if err != nil {
				t.Fatalf("ScanResponse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ScanResponse mismatch (-want +got):\n%s", diff)
			}
			// Every proper prefix of the body is an error.
			trimmed := bytes.TrimRight(body, "\n")
			for _, n := range []int{0, 1, len(trimmed) / 2, len(trimmed) - 1} {
				if _, err := ScanResponse(trimmed[:n]); err == nil {
					t.Errorf("ScanResponse(body[:%d]) succeeded, want error", n)
				}
			}
		})
	}
}

func TestScanResponseErrors(t *testing.T) {
	for _, body := range []string{``, `<html>502 Bad Gateway</html>`, `{"usage":{"prompt_tokens":1}`, `{"model":"m"} trailing`, `[]`, `{"usage":{"total_tokens":"5"}}x`} {
		if r, err := ScanResponse([]byte(body)); err == nil {
			t.Errorf("ScanResponse(%q) = %+v, want error", body, r)
		} else if !strings.HasPrefix(err.Error(), "openai: scan response: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
	r, err := ScanResponse([]byte(`{"model":"m","usage":null}`))
	if err != nil || r.HasUsage || r.Model != "m" {
		t.Errorf("ScanResponse(null usage) = %+v, %v; want model m, no usage", r, err)
	}
}

func TestParseErrorFixtures(t *testing.T) {
	tests := []struct {
		file string
		want APIError
	}{
		{"openai/error-400-invalid-request.response.json", APIError{"Web search options not supported with this model.", "invalid_request_error", "web_search_options", ""}},
		{"openai/error-400-unsupported-parameter.response.json", APIError{"Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.", "invalid_request_error", "max_tokens", "unsupported_parameter"}},
		{"openai/error-404-model-not-found.response.json", APIError{"The model `gpt-5.2-proo` does not exist or you do not have access to it.", "invalid_request_error", "", "model_not_found"}},
		{"openai/error-500-server-error.response.json", APIError{"The server had an error while processing your request. Sorry about that!", "server_error", "", ""}},
		{"openai/error-401-invalid-api-key.response.json", APIError{}},
		{"openai/error-429-insufficient-quota.response.json", APIError{}},
		{"openai/error-429-rate-limit.response.json", APIError{}},
		{"azure/error-400-content-filter.response.json", APIError{}},
		{"groq/error-400-tool-use-failed.response.json", APIError{}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readFixture(t, tt.file)
			got, ok := ParseError(body)
			if !ok {
				t.Fatalf("ParseError: ok = false")
			}
			want := tt.want
			if want == (APIError{}) {
				want = oracleError(t, body)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("ParseError mismatch (-want +got):\n%s", diff)
			}
			if got.Message == "" {
				t.Errorf("ParseError: empty message")
			}
		})
	}
}

// oracleError decodes an OpenAI error body with encoding/json (test only).
func oracleError(t *testing.T, body []byte) APIError {
	var v struct {
		Error struct {
			Message, Type, Param *string
			Code                 any
		}
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	e := APIError{Message: s(v.Error.Message), Type: s(v.Error.Type), Param: s(v.Error.Param)}
	switch c := v.Error.Code.(type) {
	case string:
		e.Code = c
	case float64:
		b, _ := json.Marshal(c)
		e.Code = string(b)
	}
	return e
}

func TestParseError(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		want   APIError
		wantOK bool
	}{
		{"numeric code", `{"error":{"message":"m","type":"t","param":null,"code":429}}`, APIError{"m", "t", "", "429"}, true},
		{"ollama", `{"error":"model \"llama9\" not found, try pulling it first"}`, APIError{Message: `model "llama9" not found, try pulling it first`}, true},
		{"vllm", `{"object":"error","message":"The model does not exist.","type":"NotFoundError","param":null,"code":404}`, APIError{"The model does not exist.", "NotFoundError", "", "404"}, true},
		{"bedrock message", `{"message":"The provided model identifier is invalid."}`, APIError{Message: "The provided model identifier is invalid."}, true},
		{"gemini status", "{\n  \"error\": {\n    \"code\": 400,\n    \"message\": \"API key not valid.\",\n    \"status\": \"INVALID_ARGUMENT\"\n  }\n}\n", APIError{"API key not valid.", "INVALID_ARGUMENT", "", "400"}, true},
		{"error object wins over message", `{"message":"outer","error":{"message":"inner"}}`, APIError{Message: "inner"}, true},
		{"html", `<html><body>502</body></html>`, APIError{}, false},
		{"empty", ``, APIError{}, false},
		{"success body", `{"id":"x","choices":[]}`, APIError{}, false},
		{"truncated", `{"error":{"message":"m"`, APIError{}, false},
		{"error number", `{"error":5}`, APIError{}, false},
		{"array", `[{"error":"x"}]`, APIError{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseError([]byte(tt.body))
			if ok != tt.wantOK {
				t.Fatalf("ParseError(%s) ok = %v, want %v", tt.body, ok, tt.wantOK)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseError(%s) mismatch (-want +got):\n%s", tt.body, diff)
			}
		})
	}
}

func TestAppendError(t *testing.T) {
	tests := []struct {
		name string
		e    APIError
		want string
	}{
		{"nulls", APIError{Message: "bad", Type: "invalid_request_error"}, `{"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}}`},
		{"escaping", APIError{Message: "say \"hi\"\n<now> \\ é\u2028", Type: "t", Param: "messages[0].role", Code: "c"}, `{"error":{"message":"say \"hi\"\n<now> \\ é` + "\u2028" + `","type":"t","param":"messages[0].role","code":"c"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendError([]byte("x"), tt.e)
			if string(got) != "x"+tt.want {
				t.Errorf("AppendError = %s, want x%s", got, tt.want)
			}
			back, ok := ParseError(got[1:])
			if !ok {
				t.Fatalf("ParseError(AppendError) ok = false")
			}
			if diff := cmp.Diff(tt.e, back); diff != "" {
				t.Errorf("round trip mismatch (-want +got):\n%s", diff)
			}
		})
	}
	// Invalid UTF-8 is replaced, and the output stays valid JSON.
	got := AppendError(nil, APIError{Message: "a\xffb", Type: "t"})
	if back, ok := ParseError(got); !ok || back.Message != "a\uFFFDb" {
		t.Errorf("invalid UTF-8: ParseError(%s) = %+v, %v", got, back, ok)
	}
}
