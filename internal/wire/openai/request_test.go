package openai

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
)

const fixtures = "../../emulator/fixtures"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// public is the exported part of a Request, for comparisons.
type public struct {
	Model        string
	Stream       bool
	IncludeUsage bool
	MaxTokens    int64
	User         string
}

func pub(r Request) public {
	return public{r.Model, r.Stream, r.IncludeUsage, r.MaxTokens, r.User}
}

func TestScanFixtures(t *testing.T) {
	tests := []struct {
		file       string
		embeddings bool
		want       public
	}{
		{"openai/chat-text.request.json", false, public{Model: "gpt-4o"}},
		{"openai/chat-stream-usage.request.json", false, public{Model: "gpt-4o", Stream: true, IncludeUsage: true}},
		{"openai/chat-stream-tool-calls.request.json", false, public{Model: "gpt-4o-mini", Stream: true, IncludeUsage: true}},
		{"openai/chat-stream-parallel-tool-calls.request.json", false, public{Model: "gpt-4o", Stream: true, IncludeUsage: true}},
		{"openai/chat-tools.request.json", false, public{Model: "gpt-4o-mini"}},
		{"openai/chat-image-input.request.json", false, public{Model: "gpt-5.4", MaxTokens: 300}},
		{"openai/chat-image-base64.request.json", false, public{Model: "gpt-4o-mini", MaxTokens: 300}},
		{"openai/error-400-invalid-request.request.json", false, public{Model: "gpt-4o"}},
		{"azure/chat-completions.request.json", false, public{Model: "gpt-4o"}},
		{"openai/embeddings-base64.request.json", true, public{Model: "text-embedding-3-small"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			body := readFixture(t, tt.file)
			scan := ScanChat
			if tt.embeddings {
				scan = ScanEmbeddings
			}
			got, err := scan(body, nil)
			if err != nil {
				t.Fatalf("scan: %v", err)
			}
			if diff := cmp.Diff(tt.want, pub(got)); diff != "" {
				t.Errorf("scan mismatch (-want +got):\n%s", diff)
			}
			// A rewrite to the same model with no forced usage is the
			// identity, byte for byte.
			if out := got.Rewrite(nil, body, got.Model, false); string(out) != string(body) {
				t.Errorf("Rewrite(same model) changed the body:\n%s", out)
			}
		})
	}
}

func TestScanChatMaxTokens(t *testing.T) {
	tests := []struct {
		name string
		body string
		want int64
	}{
		{"absent", `{"model":"m","messages":[{"role":"user"}]}`, 0},
		{"max_tokens", `{"model":"m","messages":[{"role":"user"}],"max_tokens":100}`, 100},
		{"max_completion_tokens wins", `{"max_completion_tokens":7,"model":"m","messages":[{"role":"user"}],"max_tokens":100}`, 7},
		{"null completion falls back", `{"max_completion_tokens":null,"model":"m","messages":[{"role":"user"}],"max_tokens":100}`, 100},
		{"integral float", `{"model":"m","messages":[{"role":"user"}],"max_tokens":1.0e2}`, 100},
		{"user", `{"model":"m","messages":[{"role":"user"}],"user":"u\u00e9"}`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ScanChat([]byte(tt.body), nil)
			if err != nil {
				t.Fatalf("ScanChat: %v", err)
			}
			if r.MaxTokens != tt.want {
				t.Errorf("MaxTokens = %d, want %d", r.MaxTokens, tt.want)
			}
		})
	}
	r, _ := ScanChat([]byte(`{"model":"a\"b\u00e9","messages":[{"role":"user"}],"user":"u\u00e9"}`), nil)
	if r.User != "ué" || r.Model != `a"bé` {
		t.Errorf("unescaping: Model = %q, User = %q; want %q, %q", r.Model, r.User, `a"bé`, "ué")
	}
}

func TestScanErrors(t *testing.T) {
	const msgs = `"messages":[{"role":"user","content":"hi"}]`
	tests := []struct {
		name       string
		body       string
		embeddings bool
		extra      func(string) bool
		wantParam  string // ParamError.Param; "" means a SyntaxError is wanted
		wantMsg    string // substring of the message
	}{
		{"unknown param", `{"model":"m",` + msgs + `,"foo":1}`, false, nil, "foo", `unknown parameter "foo"`},
		{"unknown param not allowed by extra", `{"model":"m",` + msgs + `,"foo":1}`, false, func(n string) bool { return n == "bar" }, "foo", `unknown parameter "foo"`},
		{"unknown embeddings param", `{"model":"m","input":"x","messages":[]}`, true, nil, "messages", `unknown parameter "messages"`},
		{"temperature string", `{"model":"m",` + msgs + `,"temperature":"0.5"}`, false, nil, "temperature", `"temperature" must be a number, got string`},
		{"stream string", `{"model":"m",` + msgs + `,"stream":"true"}`, false, nil, "stream", `"stream" must be a boolean, got string`},
		{"n fractional", `{"model":"m",` + msgs + `,"n":1.5}`, false, nil, "n", `"n" must be an integer, got 1.5`},
		{"max_tokens too big", `{"model":"m",` + msgs + `,"max_tokens":1e30}`, false, nil, "max_tokens", `must be an integer`},
		{"stop number", `{"model":"m",` + msgs + `,"stop":5}`, false, nil, "stop", `"stop" must be a string or an array, got number`},
		{"tool_choice array", `{"model":"m",` + msgs + `,"tool_choice":[]}`, false, nil, "tool_choice", `"tool_choice" must be a string or an object, got array`},
		{"tools object", `{"model":"m",` + msgs + `,"tools":{}}`, false, nil, "tools", `"tools" must be an array, got object`},
		{"stream_options array", `{"model":"m",` + msgs + `,"stream_options":[]}`, false, nil, "stream_options", `"stream_options" must be an object, got array`},
		{"include_usage string", `{"model":"m",` + msgs + `,"stream_options":{"include_usage":"yes"}}`, false, nil, "stream_options.include_usage", `must be a boolean, got string`},
		{"model missing", `{` + msgs + `}`, false, nil, "model", `"model" must be a non-empty string`},
		{"model empty", `{"model":"",` + msgs + `}`, false, nil, "model", `"model" must be a non-empty string`},
		{"model null", `{"model":null,` + msgs + `}`, false, nil, "model", `"model" must be a non-empty string`},
		{"model number", `{"model":4,` + msgs + `}`, false, nil, "model", `"model" must be a non-empty string`},
		{"messages missing", `{"model":"m"}`, false, nil, "messages", `"messages" is required`},
		{"messages null", `{"model":"m","messages":null}`, false, nil, "messages", `"messages" is required`},
		{"messages empty", `{"model":"m","messages":[]}`, false, nil, "messages", `"messages" must be a non-empty array`},
		{"messages object", `{"model":"m","messages":{}}`, false, nil, "messages", `"messages" must be an array, got object`},
		{"message without role", `{"model":"m","messages":[{"role":"user"},{"content":"x"}]}`, false, nil, "messages[1].role", `"messages[1].role" is required`},
		{"message role number", `{"model":"m","messages":[{"role":1}]}`, false, nil, "messages[0].role", `"messages[0].role" must be a string, got number`},
		{"message not object", `{"model":"m","messages":["hi"]}`, false, nil, "messages[0]", `"messages[0]" must be an object, got string`},
		{"input missing", `{"model":"m"}`, true, nil, "input", `"input" is required`},
		{"input number", `{"model":"m","input":1}`, true, nil, "input", `"input" must be a string or an array, got number`},
		{"encoding_format bad", `{"model":"m","input":"x","encoding_format":"int8"}`, true, nil, "encoding_format", `must be "float" or "base64", got "int8"`},
		{"dimensions fractional", `{"model":"m","input":"x","dimensions":1.5}`, true, nil, "dimensions", `"dimensions" must be an integer`},
		{"truncated", `{"model":"m",` + msgs, false, nil, "", "invalid JSON at byte"},
		{"truncated in messages", `{"model":"m","messages":[{"role":"us`, false, nil, "", "invalid JSON at byte"},
		{"trailing garbage", `{"model":"m",` + msgs + `} x`, false, nil, "", "invalid JSON at byte"},
		{"second object", `{"model":"m",` + msgs + `}{}`, false, nil, "", "unexpected data after the top-level value"},
		{"top-level array", `[{"model":"m"}]`, false, nil, "", "must be a JSON object, got array"},
		{"top-level string", `"x"`, false, nil, "", "must be a JSON object, got string"},
		{"empty body", ``, false, nil, "", "the request body is empty"},
		{"whitespace body", " \n", false, nil, "", "the request body is empty"},
		{"duplicate key", `{"model":"m","model":"n",` + msgs + `}`, false, nil, "", `duplicate key "model"`},
		{"duplicate nested key", `{"model":"m","messages":[{"role":"user","role":"x"}]}`, false, nil, "", `duplicate key "role"`},
		{"invalid utf8", "{\"model\":\"m\xff\"," + msgs + "}", false, nil, "", "invalid JSON at byte"},
		{"bad literal", `{"model":"m",` + msgs + `,"stream":tru}`, false, nil, "", "invalid JSON at byte"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			scan := ScanChat
			if tt.embeddings {
				scan = ScanEmbeddings
			}
			r, err := scan([]byte(tt.body), tt.extra)
			if err == nil {
				t.Fatalf("scan(%s) = %+v, want error", tt.body, pub(r))
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantMsg)
			}
			pe, isParam := errors.AsType[*ParamError](err)
			_, isSyntax := errors.AsType[*SyntaxError](err)
			switch {
			case tt.wantParam == "" && !isSyntax:
				t.Errorf("error %T %q, want *SyntaxError", err, err)
			case tt.wantParam != "" && !isParam:
				t.Errorf("error %T %q, want *ParamError", err, err)
			case isParam && pe.Param != tt.wantParam:
				t.Errorf("Param = %q, want %q", pe.Param, tt.wantParam)
			}
		})
	}
}

func TestSyntaxErrorDetails(t *testing.T) {
	_, err := ScanChat([]byte(`{"model":"m","model":"n"}`), nil)
	if !errors.Is(err, jsontext.ErrDuplicateName) {
		t.Errorf("errors.Is(%v, ErrDuplicateName) = false, want true", err)
	}
	_, err = ScanChat([]byte(`{"model":"m", "messages": [`), nil)
	se, ok := errors.AsType[*SyntaxError](err)
	if !ok || se.Offset != 27 {
		t.Errorf("error = %#v, want *SyntaxError at offset 27", err)
	}
}

func TestScanExtra(t *testing.T) {
	extra := func(name string) bool { return name == "top_k" || name == "repetition_penalty" }
	body := `{"model":"m","messages":[{"role":"user"}],"top_k":{"deep":[1,2]},"repetition_penalty":1.1}`
	if _, err := ScanChat([]byte(body), extra); err != nil {
		t.Fatalf("ScanChat with extra: %v", err)
	}
	if _, err := ScanChat([]byte(body), nil); err == nil {
		t.Fatalf("ScanChat without extra succeeded, want unknown parameter")
	}
}

func TestNullOptionals(t *testing.T) {
	names := []string{"stream", "stream_options", "temperature", "top_p", "presence_penalty", "frequency_penalty", "n", "max_tokens", "max_completion_tokens", "seed", "top_logprobs", "stop", "logit_bias", "logprobs", "user", "tools", "tool_choice", "parallel_tool_calls", "functions", "function_call", "response_format", "service_tier", "store", "metadata", "reasoning_effort", "modalities", "audio", "prediction", "web_search_options", "safety_identifier", "prompt_cache_key", "verbosity"}
	for _, n := range names {
		body := `{"model":"m","messages":[{"role":"user"}],"` + n + `":null}`
		if _, err := ScanChat([]byte(body), nil); err != nil {
			t.Errorf("ScanChat(%s): %v", body, err)
		}
	}
}

func TestRewrite(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		model      string
		forceUsage bool
		want       string
	}{
		{"model only", `{"model":"gpt-4o","messages":[{"role":"user"}]}`, "gpt-4o-2024", true, `{"model":"gpt-4o-2024","messages":[{"role":"user"}]}`},
		{"model needs escaping", `{ "model" : "x" , "messages":[{"role":"user"}]}`, `we"ird\é`, false, `{ "model" : "we\"ird\\é" , "messages":[{"role":"user"}]}`},
		{"control char in model", `{"model":"x","messages":[{"role":"user"}]}`, "a\nb", false, `{"model":"a\nb","messages":[{"role":"user"}]}`},
		{"escaped model replaced", `{"model":"g\u0070t","messages":[{"role":"user"}]}`, "m", false, `{"model":"m","messages":[{"role":"user"}]}`},
		{"usage inserted when absent", `{"model":"x","messages":[{"role":"user"}],"stream":true}`, "m", true, `{"model":"m","messages":[{"role":"user"}],"stream":true,"stream_options":{"include_usage":true}}`},
		{"usage inserted keeps trailing whitespace", "{\"stream\":true,\"model\":\"x\",\"messages\":[{\"role\":\"user\"}]\n}\n", "m", true, "{\"stream\":true,\"model\":\"m\",\"messages\":[{\"role\":\"user\"}],\"stream_options\":{\"include_usage\":true}\n}\n"},
		{"usage false set true", `{"stream_options":{"include_usage":false},"model":"x","messages":[{"role":"user"}],"stream":true}`, "m", true, `{"stream_options":{"include_usage":true},"model":"m","messages":[{"role":"user"}],"stream":true}`},
		{"usage null set true", `{"model":"x","stream_options":{"include_usage":null,"include_obfuscation":false},"messages":[{"role":"user"}],"stream":true}`, "m", true, `{"model":"m","stream_options":{"include_usage":true,"include_obfuscation":false},"messages":[{"role":"user"}],"stream":true}`},
		{"usage added to other members", `{"model":"x","stream_options":{"include_obfuscation":false},"messages":[{"role":"user"}],"stream":true}`, "m", true, `{"model":"m","stream_options":{"include_usage":true,"include_obfuscation":false},"messages":[{"role":"user"}],"stream":true}`},
		{"usage added to empty object", `{"model":"x","stream_options":{ },"messages":[{"role":"user"}],"stream":true}`, "m", true, `{"model":"m","stream_options":{"include_usage":true },"messages":[{"role":"user"}],"stream":true}`},
		{"stream_options null replaced", `{"model":"x","stream_options":null,"messages":[{"role":"user"}],"stream":true}`, "m", true, `{"model":"m","stream_options":{"include_usage":true},"messages":[{"role":"user"}],"stream":true}`},
		{"usage already true", `{"model":"x","messages":[{"role":"user"}],"stream":true,"stream_options":{"include_usage":true}}`, "m", true, `{"model":"m","messages":[{"role":"user"}],"stream":true,"stream_options":{"include_usage":true}}`},
		{"stream false no change", `{"model":"x","messages":[{"role":"user"}],"stream":false,"stream_options":{"include_usage":false}}`, "m", true, `{"model":"m","messages":[{"role":"user"}],"stream":false,"stream_options":{"include_usage":false}}`},
		{"stream absent no change", `{"model":"x","messages":[{"role":"user"}]}`, "m", true, `{"model":"m","messages":[{"role":"user"}]}`},
		{"forceUsage false no change", `{"model":"x","messages":[{"role":"user"}],"stream":true}`, "m", false, `{"model":"m","messages":[{"role":"user"}],"stream":true}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ScanChat([]byte(tt.body), nil)
			if err != nil {
				t.Fatalf("ScanChat: %v", err)
			}
			out := r.Rewrite([]byte("prefix:"), []byte(tt.body), tt.model, tt.forceUsage)
			got, ok := strings.CutPrefix(string(out), "prefix:")
			if !ok {
				t.Fatalf("Rewrite did not append to dst: %q", out)
			}
			if got != tt.want {
				t.Errorf("Rewrite =\n%s\nwant\n%s", got, tt.want)
			}
			if !jsontext.Value(got).IsValid() {
				t.Errorf("Rewrite output is not valid JSON: %s", got)
			}
			r2, err := ScanChat([]byte(got), nil)
			if err != nil {
				t.Fatalf("re-scan: %v", err)
			}
			if r2.Model != tt.model {
				t.Errorf("re-scanned Model = %q, want %q", r2.Model, tt.model)
			}
			if tt.forceUsage && r.Stream && !r2.IncludeUsage {
				t.Errorf("re-scanned IncludeUsage = false, want true")
			}
		})
	}
}

// TestRewriteFixtures checks that Rewrite changes only the model span of
// every fixture body.
func TestRewriteFixtures(t *testing.T) {
	for _, file := range []string{"openai/chat-text.request.json", "openai/chat-stream-usage.request.json", "openai/chat-stream-parallel-tool-calls.request.json", "openai/chat-tools.request.json", "azure/chat-completions.request.json"} {
		t.Run(file, func(t *testing.T) {
			body := readFixture(t, file)
			r, err := ScanChat(body, nil)
			if err != nil {
				t.Fatal(err)
			}
			out := r.Rewrite(nil, body, "new/model\u2028\"", true)
			want := string(body[:r.modelStart]) + `"new/model` + "\u2028" + `\""` + string(body[r.modelEnd:])
			if r.Stream && !r.IncludeUsage {
				t.Fatalf("fixture streams without include_usage; update this test")
			}
			if string(out) != want {
				t.Errorf("Rewrite changed more than the model:\n%s", out)
			}
		})
	}
	// A stream without stream_options gets it appended after the last
	// member, everything else unchanged.
	body := readFixture(t, "openai/chat-text.request.json")
	streaming := []byte(strings.Replace(string(body), `"stream": false`, `"stream": true`, 1))
	r, err := ScanChat(streaming, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := r.Rewrite(nil, streaming, "gpt-4o", true)
	want := strings.Replace(string(streaming), `"stream": true`, `"stream": true,"stream_options":{"include_usage":true}`, 1)
	if string(out) != want {
		t.Errorf("Rewrite =\n%s\nwant\n%s", out, want)
	}
}

func TestRewriteUnscanned(t *testing.T) {
	var r Request
	body := []byte(`{"model":"x"}`)
	if got := r.Rewrite(nil, body, "m", true); string(got) != string(body) {
		t.Errorf("zero Request Rewrite = %s, want body unchanged", got)
	}
}
