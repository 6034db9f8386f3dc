package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/switchboard-gw/switchboard/internal/emulator"
)

// cloudConfig puts a Gemini API, a Vertex AI and a Bedrock provider on the
// emulator, which speaks all three.
const cloudConfig = `
routing: {backoff_base: 5ms, backoff_max: 10ms}
providers:
  - {name: gem, type: gemini, base_url: "{{UP}}", api_keys: ["gem-key-SECRET-123"]}
  - {name: vtx, type: vertex, base_url: "{{UP}}", project: proj-1, region: us-central1, api_keys: ["ya29.vertex-SECRET-token"]}
  - {name: brk, type: bedrock, base_url: "{{UP}}", region: us-east-1, aws: {access_key_id: AKIDEXAMPLE, secret_access_key: "aws-SECRET-key-123"}}
models:
  - {name: gemini, targets: [{provider: gem, model: gemini-2.5-flash}]}
  - {name: vertex, targets: [{provider: vtx, model: gemini-2.5-pro}]}
  - {name: nova, targets: [{provider: brk, model: "us.amazon.nova-micro-v1:0"}]}
`

// TestCloudProviders: an OpenAI client reaches Gemini, Vertex AI and
// Bedrock through the translators, with each one's URL and authentication,
// streamed and not.
func TestCloudProviders(t *testing.T) {
	up := newUpstream(t, emulator.Options{Reply: "Paris is the capital of France."})
	gw := newGateway(t, cloudConfig, up)
	client := openai.NewClient(option.WithBaseURL(gw.URL+"/v1"), option.WithAPIKey("x"), option.WithMaxRetries(0))
	ctx := ctxTimeout(t, 30*time.Second)
	for _, tc := range []struct {
		model, path, authHeader, authPrefix string
	}{
		{"gemini", "/v1beta/models/gemini-2.5-flash:generateContent", "X-Goog-Api-Key", "gem-key-SECRET-123"},
		{"vertex", "/v1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent", "Authorization", "Bearer ya29.vertex-SECRET-token"},
		{"nova", "/model/us.amazon.nova-micro-v1:0/converse", "Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"},
	} {
		t.Run(tc.model, func(t *testing.T) {
			params := openai.ChatCompletionNewParams{Model: tc.model, Messages: []openai.ChatCompletionMessageParamUnion{
				openai.SystemMessage("Be brief."), openai.UserMessage("What is the capital of France?")}}
			res, err := client.Chat.Completions.New(ctx, params)
			if err != nil {
				t.Fatalf("chat: %v", err)
			}
			if got := res.Choices[0].Message.Content; got != "Paris is the capital of France." || res.Usage.TotalTokens == 0 {
				t.Errorf("answer %q usage %+v", got, res.Usage)
			}
			rec := up.next(t)
			if rec.Path != tc.path && strings.ReplaceAll(rec.Path, "%3A", ":") != tc.path {
				t.Errorf("upstream path = %s, want %s", rec.Path, tc.path)
			}
			if h := rec.Header.Get(tc.authHeader); !strings.HasPrefix(h, tc.authPrefix) {
				t.Errorf("upstream %s = %q, want prefix %q", tc.authHeader, h, tc.authPrefix)
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
					t.Errorf("streamed %q", got)
				}
				if (acc.Usage.TotalTokens > 0) != askUsage {
					t.Errorf("usage shown %+v, asked %v", acc.Usage, askUsage)
				}
				up.next(t)
			}
		})
	}
	if strings.Contains(gw.log.String(), "SECRET") {
		t.Errorf("a provider secret reached the log")
	}
}

func TestCloudProviderFaults(t *testing.T) {
	for _, tc := range []struct {
		name, model, fault, body string
		status                   int
		inBody                   string
	}{
		{"gemini 503 retried", "gemini", "status=503;times=1", chatOf("gemini", false), 200, "capital"},
		{"gemini 400", "gemini", "status=400", chatOf("gemini", false), 400, "invalid_request_error"},
		{"gemini stream cut", "gemini", "cut_after=1", chatOf("gemini", true), 200, "incomplete"},
		{"bedrock throttled retried", "nova", "status=429;times=1", chatOf("nova", false), 200, "capital"},
		{"bedrock validation", "nova", "status=400", chatOf("nova", false), 400, "invalid_request_error"},
		{"bedrock stream exception", "nova", "error_after=2", chatOf("nova", true), 200, "error"},
		{"bedrock stream cut", "nova", "cut_after=2", chatOf("nova", true), 200, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t, emulator.Options{Faults: tc.fault})
			gw := newGateway(t, cloudConfig, up)
			res := do(t, "POST", gw.URL+"/v1/chat/completions", tc.body)
			if res.status != tc.status || !strings.Contains(res.body, tc.inBody) {
				t.Errorf("status %d body %s; want %d containing %q", res.status, res.body, tc.status, tc.inBody)
			}
			if strings.Contains(res.body, "SECRET") {
				t.Error("a provider secret leaked")
			}
		})
	}
}

func chatOf(model string, stream bool) string {
	s := "false"
	if stream {
		s = "true"
	}
	return `{"model":"` + model + `","stream":` + s + `,"messages":[{"role":"user","content":"What is the capital of France?"}]}`
}
