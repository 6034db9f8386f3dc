package server_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/switchboard-gw/switchboard/internal/emulator"
)

// TestOpenAISDK drives the gateway with the official OpenAI Go client: what a
// user sees when they only change the base URL.
func TestOpenAISDK(t *testing.T) {
	up := newUpstream(t, emulator.Options{APIKey: upstreamKey, Reply: "Mexico City is the capital."})
	gw := newGateway(t, basicConfig+"keys:\n  - {name: sdk, key: \"${GATEWAY_KEY}\"}\n", up)
	client := openai.NewClient(
		option.WithBaseURL(gw.URL+"/v1"),
		option.WithAPIKey(gatewayKey),
		option.WithMaxRetries(0),
	)
	ctx := ctxTimeout(t, 30*time.Second)
	msgs := []openai.ChatCompletionMessageParamUnion{openai.UserMessage("What is the capital of Mexico?")}

	t.Run("chat", func(t *testing.T) {
		res, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: msgs})
		if err != nil {
			t.Fatalf("Chat.Completions.New: %v", err)
		}
		if got := res.Choices[0].Message.Content; got != "Mexico City is the capital." {
			t.Errorf("content = %q", got)
		}
		if res.Usage.TotalTokens == 0 {
			t.Errorf("usage = %+v, want tokens", res.Usage)
		}
	})

	t.Run("stream", func(t *testing.T) {
		for _, askUsage := range []bool{false, true} {
			params := openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: msgs}
			if askUsage {
				params.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
			}
			stream := client.Chat.Completions.NewStreaming(ctx, params)
			acc := openai.ChatCompletionAccumulator{}
			for stream.Next() {
				acc.AddChunk(stream.Current())
			}
			if err := stream.Err(); err != nil {
				t.Fatalf("stream (usage %v): %v", askUsage, err)
			}
			if got := acc.Choices[0].Message.Content; got != "Mexico City is the capital." {
				t.Errorf("streamed content = %q", got)
			}
			if got := acc.Usage.TotalTokens > 0; got != askUsage {
				t.Errorf("usage shown = %v (%+v), want %v", got, acc.Usage, askUsage)
			}
		}
	})

	t.Run("stream cut mid-way", func(t *testing.T) {
		if err := up.SetFaults("cut_after=3"); err != nil {
			t.Fatal(err)
		}
		defer up.SetFaults("")
		stream := client.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: msgs})
		n := 0
		for stream.Next() {
			n++
		}
		err := stream.Err()
		if err == nil || !strings.Contains(err.Error(), "incomplete") {
			t.Errorf("after %d chunks, stream error = %v; want the gateway's in-band error", n, err)
		}
	})

	t.Run("embeddings", func(t *testing.T) {
		res, err := client.Embeddings.New(ctx, openai.EmbeddingNewParams{
			Model: "embed",
			Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b"}},
		})
		if err != nil {
			t.Fatalf("Embeddings.New: %v", err)
		}
		if len(res.Data) != 2 || len(res.Data[0].Embedding) == 0 {
			t.Errorf("embeddings = %d items", len(res.Data))
		}
	})

	t.Run("models", func(t *testing.T) {
		page, err := client.Models.List(ctx)
		if err != nil {
			t.Fatalf("Models.List: %v", err)
		}
		if len(page.Data) != 4 || page.Data[0].ID != "gpt-4o" {
			t.Errorf("models = %+v", page.Data)
		}
	})

	t.Run("errors", func(t *testing.T) {
		_, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "no-such-model", Messages: msgs})
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
			t.Errorf("unknown model: err = %v, want a 404 model_not_found *openai.Error", err)
		}
		bad := openai.NewClient(option.WithBaseURL(gw.URL+"/v1"), option.WithAPIKey("wrong"), option.WithMaxRetries(0))
		_, err = bad.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: msgs})
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
			t.Errorf("bad key: err = %v, want 401", err)
		}
		if err := up.SetFaults("status=429;header=retry-after:3"); err != nil {
			t.Fatal(err)
		}
		defer up.SetFaults("")
		_, err = client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: msgs})
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Response.Header.Get("Retry-After") != "3" {
			t.Errorf("upstream 429: err = %v, want 429 with retry-after 3", err)
		}
	})
}
