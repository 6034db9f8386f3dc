package server_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	anthropicsdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/switchboard-gw/switchboard/internal/emulator"
)

// messagesConfig serves an Anthropic model (pass-through) and an OpenAI one
// (translated) on the same emulator, which speaks both dialects.
const messagesConfig = `
routing: {backoff_base: 5ms, backoff_max: 10ms}
providers:
  - {name: claude, type: anthropic, base_url: "{{UP}}", api_keys: ["` + anthropicKey + `"]}
  - {name: oai, type: openai, base_url: "{{UP}}/v1", api_keys: ["${UPSTREAM_KEY}"]}
models:
  - {name: sonnet, targets: [{provider: claude, model: claude-sonnet-4-5}]}
  - {name: gpt, targets: [{provider: oai, model: gpt-4o-mini}]}
keys:
  - {name: sdk, key: "${GATEWAY_KEY}"}
`

// TestMessagesEndpointSDK drives POST /v1/messages with the official
// Anthropic Go SDK: to an Anthropic provider (bytes pass through, model
// rewritten) and to an OpenAI one (translated both ways), streamed and not.
func TestMessagesEndpointSDK(t *testing.T) {
	up := newUpstream(t, emulator.Options{Reply: "Paris is the capital of France."})
	gw := newGateway(t, messagesConfig, up)
	client := anthropicsdk.NewClient(option.WithBaseURL(gw.URL), option.WithAPIKey(gatewayKey), option.WithMaxRetries(0))
	ctx := ctxTimeout(t, 30*time.Second)

	for _, tc := range []struct{ model, wantPath, wantUpstreamModel string }{
		{"sonnet", "/v1/messages", "claude-sonnet-4-5"},
		{"gpt", "/v1/chat/completions", "gpt-4o-mini"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			params := anthropicsdk.MessageNewParams{
				Model:     tc.model,
				MaxTokens: 200,
				System:    []anthropicsdk.TextBlockParam{{Text: "Be brief."}},
				Messages:  []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("What is the capital of France?"))},
			}
			msg, err := client.Messages.New(ctx, params)
			if err != nil {
				t.Fatalf("Messages.New: %v", err)
			}
			if len(msg.Content) == 0 || msg.Content[0].Text != "Paris is the capital of France." || msg.StopReason != "end_turn" {
				t.Errorf("message = %+v", msg)
			}
			if msg.Usage.InputTokens == 0 || msg.Usage.OutputTokens == 0 {
				t.Errorf("usage = %+v", msg.Usage)
			}
			rec := up.next(t)
			var sent struct{ Model string }
			json.Unmarshal(rec.Body, &sent)
			if rec.Path != tc.wantPath || sent.Model != tc.wantUpstreamModel {
				t.Errorf("upstream got %s model %q, want %s model %q", rec.Path, sent.Model, tc.wantPath, tc.wantUpstreamModel)
			}

			stream := client.Messages.NewStreaming(ctx, params)
			var acc anthropicsdk.Message
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatalf("Accumulate: %v", err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if len(acc.Content) == 0 || acc.Content[0].Text != "Paris is the capital of France." || acc.Usage.OutputTokens == 0 {
				t.Errorf("streamed message = %+v", acc)
			}
			up.next(t)
		})
	}
}

// TestMessagesPassThroughBytes: to an Anthropic provider the body reaches
// the upstream as sent, with only the model rewritten.
func TestMessagesPassThroughBytes(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	gw := newGateway(t, messagesConfig, up)
	body := "{\"max_tokens\": 50,\n \"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9\"}], \"model\" : \"sonnet\", \"cache_thing\": {\"x\":1}}"
	res := do(t, "POST", gw.URL+"/v1/messages", body, "X-Api-Key", gatewayKey, "Anthropic-Version", "2023-06-01", "Anthropic-Beta", "prompt-caching-2024-07-31")
	rec := up.next(t)
	want := strings.Replace(body, `"sonnet"`, `"claude-sonnet-4-5"`, 1)
	if string(rec.Body) != want {
		t.Errorf("upstream body =\n%s\nwant\n%s", rec.Body, want)
	}
	if rec.Header.Get("Anthropic-Beta") != "prompt-caching-2024-07-31" {
		t.Errorf("anthropic-beta not passed through: %v", rec.Header)
	}
	_ = res
}

// TestMessagesErrors: errors on /v1/messages use Anthropic's shape, from the
// gateway and from either kind of upstream.
func TestMessagesErrors(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	gw := newGateway(t, messagesConfig, up)
	client := anthropicsdk.NewClient(option.WithBaseURL(gw.URL), option.WithAPIKey(gatewayKey), option.WithMaxRetries(0))
	ctx := ctxTimeout(t, 30*time.Second)
	for _, tc := range []struct {
		name, model, fault string
		status             int
		typ                string
	}{
		{"unknown model", "nope", "", 404, "not_found_error"},
		{"anthropic 429", "sonnet", "status=429;header=retry-after:0", 429, "rate_limit_error"},
		{"anthropic overloaded", "sonnet", "status=529", 503, "overloaded_error"},
		{"openai 400", "gpt", "status=400", 400, "invalid_request_error"},
		{"openai html", "gpt", "body=html", 502, "api_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up.SetFaults(tc.fault)
			defer up.SetFaults("")
			_, err := client.Messages.New(ctx, anthropicsdk.MessageNewParams{
				Model: tc.model, MaxTokens: 10,
				Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))},
			})
			var apiErr *anthropicsdk.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tc.status {
				t.Fatalf("err = %v, want an API error with status %d", err, tc.status)
			}
			var body struct {
				Type      string
				Error     struct{ Type, Message string }
				RequestID string `json:"request_id"`
			}
			if err := json.Unmarshal([]byte(apiErr.RawJSON()), &body); err != nil || body.Type != "error" || body.Error.Type != tc.typ || body.RequestID == "" {
				t.Errorf("error body = %s, want Anthropic shape with type %s and a request id", apiErr.RawJSON(), tc.typ)
			}
		})
	}
	res := do(t, "POST", gw.URL+"/v1/messages", `{"model":"sonnet"`, "X-Api-Key", gatewayKey)
	if res.status != 400 || !strings.Contains(res.body, `"type":"error"`) || !strings.Contains(res.body, "invalid_request_error") {
		t.Errorf("malformed JSON: %d %s", res.status, res.body)
	}
	res = do(t, "POST", gw.URL+"/v1/messages", `{"model":"sonnet","max_tokens":5,"messages":[]}`)
	if res.status != 401 || !strings.Contains(res.body, "authentication_error") {
		t.Errorf("no key: %d %s", res.status, res.body)
	}
}

func TestMessagesStreamFailures(t *testing.T) {
	for _, tc := range []struct{ name, model, fault, want string }{
		{"anthropic error event passed on", "sonnet", "error_after=2", "overloaded_error"},
		{"anthropic cut", "sonnet", "cut_after=2", "incomplete"},
		{"openai cut", "gpt", "cut_after=2", "incomplete"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, emulator.Options{Faults: tc.fault})
			gw := newGateway(t, messagesConfig, up)
			res := do(t, "POST", gw.URL+"/v1/messages", `{"model":"`+tc.model+`","max_tokens":50,"stream":true,"messages":[{"role":"user","content":"hi"}]}`, "X-Api-Key", gatewayKey)
			if res.status != 200 || !strings.Contains(res.body, "event: error") || !strings.Contains(res.body, tc.want) {
				t.Errorf("status %d body:\n%s\nwant a stream ending in an error event with %q", res.status, res.body, tc.want)
			}
			if strings.Count(res.body, "event: message_start") != 1 {
				t.Errorf("message_start count != 1: the stream was replayed or never started")
			}
		})
	}
}

func TestCountTokens(t *testing.T) {
	up := newUpstream(t, emulator.Options{})
	gw := newGateway(t, messagesConfig, up)
	client := anthropicsdk.NewClient(option.WithBaseURL(gw.URL), option.WithAPIKey(gatewayKey), option.WithMaxRetries(0))
	n, err := client.Messages.CountTokens(ctxTimeout(t, 10*time.Second), anthropicsdk.MessageCountTokensParams{
		Model:    "sonnet",
		Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("What is the capital of France?"))},
	})
	if err != nil || n.InputTokens <= 0 {
		t.Fatalf("CountTokens = %+v, %v", n, err)
	}
	if rec := up.next(t); rec.Path != "/v1/messages/count_tokens" || !strings.Contains(string(rec.Body), "claude-sonnet-4-5") {
		t.Errorf("upstream got %s %s", rec.Path, rec.Body)
	}
	res := do(t, "POST", gw.URL+"/v1/messages/count_tokens", `{"model":"gpt","messages":[{"role":"user","content":"x"}]}`, "X-Api-Key", gatewayKey)
	if res.status != 400 || !strings.Contains(res.body, "Anthropic providers only") {
		t.Errorf("count_tokens on an OpenAI model: %d %s", res.status, res.body)
	}
}

// TestMessagesToCloudProviders: Anthropic clients reach Gemini and Bedrock
// models, the two translations chained through the OpenAI form.
func TestMessagesToCloudProviders(t *testing.T) {
	up := newUpstream(t, emulator.Options{Reply: "Paris is the capital of France."})
	gw := newGateway(t, cloudConfig+"keys:\n  - {name: sdk, key: \"${GATEWAY_KEY}\"}\n", up)
	client := anthropicsdk.NewClient(option.WithBaseURL(gw.URL), option.WithAPIKey(gatewayKey), option.WithMaxRetries(0))
	ctx := ctxTimeout(t, 30*time.Second)
	for _, model := range []string{"gemini", "nova"} {
		t.Run(model, func(t *testing.T) {
			params := anthropicsdk.MessageNewParams{
				Model: model, MaxTokens: 200,
				Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("What is the capital of France?"))},
			}
			msg, err := client.Messages.New(ctx, params)
			if err != nil {
				t.Fatalf("Messages.New: %v", err)
			}
			if len(msg.Content) == 0 || msg.Content[0].Text != "Paris is the capital of France." || msg.Usage.OutputTokens == 0 {
				t.Errorf("message = %+v", msg)
			}
			stream := client.Messages.NewStreaming(ctx, params)
			var acc anthropicsdk.Message
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatalf("Accumulate: %v", err)
				}
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream: %v", err)
			}
			if len(acc.Content) == 0 || acc.Content[0].Text != "Paris is the capital of France." {
				t.Errorf("streamed message = %+v", acc)
			}
		})
	}
	up.SetFaults("status=400")
	_, err := client.Messages.New(ctx, anthropicsdk.MessageNewParams{Model: "gemini", MaxTokens: 10,
		Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))}})
	var apiErr *anthropicsdk.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.RawJSON(), `"type":"error"`) {
		t.Errorf("a Gemini 400 on /v1/messages: %v, want an Anthropic-shaped 400", err)
	}
}
