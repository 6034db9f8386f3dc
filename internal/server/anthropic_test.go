package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/switchboard-gw/switchboard/internal/emulator"
)

const anthropicKey = "sk-ant-test-SECRET-5566778899"

// anthropicConfig has an OpenAI-facing model served by an Anthropic provider
// (the emulator's Messages dialect).
const anthropicConfig = `
routing: {backoff_base: 5ms, backoff_max: 10ms}
providers:
  - name: claude
    type: anthropic
    base_url: "{{UP}}"
    api_keys: ["${ANTHROPIC_KEY}"]
    default_max_tokens: 333
    timeouts: {first_byte: 2s, total: 10s}
models:
  - name: sonnet
    targets: [{provider: claude, model: claude-sonnet-4-5}]
`

func anthropicGateway(t *testing.T, opts emulator.Options) (*gateway, *upstream) {
	t.Helper()
	opts.APIKey = anthropicKey
	up := newUpstream(t, opts)
	cfg := strings.ReplaceAll(anthropicConfig, "${ANTHROPIC_KEY}", anthropicKey)
	return newGateway(t, cfg, up), up
}

// TestAnthropicProvider: an OpenAI client reaches an Anthropic provider
// through the translator, streamed and not, with the official SDK.
func TestAnthropicProvider(t *testing.T) {
	gw, up := anthropicGateway(t, emulator.Options{Reply: "Paris is the capital of France."})
	client := openai.NewClient(option.WithBaseURL(gw.URL+"/v1"), option.WithAPIKey("x"), option.WithMaxRetries(0))
	ctx := ctxTimeout(t, 30*time.Second)
	params := openai.ChatCompletionNewParams{
		Model: "sonnet",
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("Be brief."),
			openai.UserMessage("What is the capital of France?"),
		},
	}
	res, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("chat: %v", err)
	}
	if got := res.Choices[0].Message.Content; got != "Paris is the capital of France." || res.Choices[0].FinishReason != "stop" {
		t.Errorf("answer = %q (%s)", got, res.Choices[0].FinishReason)
	}
	if res.Usage.PromptTokens == 0 || res.Usage.CompletionTokens == 0 {
		t.Errorf("usage = %+v", res.Usage)
	}
	rec := up.next(t)
	var sent struct {
		Model     string
		System    json.RawMessage
		MaxTokens int `json:"max_tokens"`
	}
	json.Unmarshal(rec.Body, &sent)
	if rec.Path != "/v1/messages" || rec.Header.Get("X-Api-Key") != anthropicKey || rec.Header.Get("Anthropic-Version") == "" {
		t.Errorf("upstream request %s with headers %v", rec.Path, rec.Header)
	}
	if sent.Model != "claude-sonnet-4-5" || sent.MaxTokens != 333 || !strings.Contains(string(sent.System), "Be brief.") {
		t.Errorf("upstream body = %s", rec.Body)
	}

	for _, askUsage := range []bool{false, true} {
		p := params
		if askUsage {
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		}
		stream := client.Chat.Completions.NewStreaming(ctx, p)
		acc := openai.ChatCompletionAccumulator{}
		for stream.Next() {
			acc.AddChunk(stream.Current())
		}
		if err := stream.Err(); err != nil {
			t.Fatalf("stream: %v", err)
		}
		if got := acc.Choices[0].Message.Content; got != "Paris is the capital of France." {
			t.Errorf("streamed = %q", got)
		}
		if (acc.Usage.TotalTokens > 0) != askUsage {
			t.Errorf("usage shown = %+v, asked %v", acc.Usage, askUsage)
		}
		up.next(t)
	}
}

func TestAnthropicProviderFaults(t *testing.T) {
	for _, tc := range []struct {
		name, fault, body string
		status            int
		inBody            string
		attempts          string
	}{
		{"overloaded is retried", "status=529;times=1", chatSonnet(false), 200, "capital", "2"},
		{"rate limit mapped", "status=429", chatSonnet(false), 429, "rate_limit", ""},
		{"bad request mapped", "status=400", chatSonnet(false), 400, "invalid_request_error", "1"},
		{"stream error event", "error_after=2", chatSonnet(true), 200, "Overloaded", ""},
		{"stream cut", "cut_after=2", chatSonnet(true), 200, "incomplete", ""},
		{"html", "body=html", chatSonnet(false), 502, "text/html", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gw, _ := anthropicGateway(t, emulator.Options{Faults: tc.fault})
			res := do(t, "POST", gw.URL+"/v1/chat/completions", tc.body)
			if res.status != tc.status || !strings.Contains(res.body, tc.inBody) {
				t.Errorf("status %d body %s; want %d containing %q", res.status, res.body, tc.status, tc.inBody)
			}
			if tc.attempts != "" && res.header.Get("X-Switchboard-Attempts") != tc.attempts {
				t.Errorf("attempts = %s, want %s", res.header.Get("X-Switchboard-Attempts"), tc.attempts)
			}
			if strings.Contains(res.body, anthropicKey) || strings.Contains(gw.log.String(), anthropicKey) {
				t.Error("the Anthropic key leaked")
			}
		})
	}
}

func TestAnthropicProviderRejects(t *testing.T) {
	gw, _ := anthropicGateway(t, emulator.Options{})
	for _, tc := range []struct{ name, path, body, param string }{
		{"n > 1", "/v1/chat/completions", `{"model":"sonnet","n":2,"messages":[{"role":"user","content":"x"}]}`, "n"},
		{"logprobs", "/v1/chat/completions", `{"model":"sonnet","logprobs":true,"messages":[{"role":"user","content":"x"}]}`, "logprobs"},
		{"embeddings", "/v1/embeddings", `{"model":"sonnet","input":"x"}`, "model"},
	} {
		res := do(t, "POST", gw.URL+tc.path, tc.body)
		if res.status != 400 || !strings.Contains(res.body, `"param":"`+tc.param+`"`) {
			t.Errorf("%s: %d %s, want a 400 naming %s", tc.name, res.status, res.body, tc.param)
		}
	}
}

func chatSonnet(stream bool) string {
	s := "false"
	if stream {
		s = "true"
	}
	return `{"model":"sonnet","stream":` + s + `,"messages":[{"role":"user","content":"What is the capital of France?"}]}`
}
