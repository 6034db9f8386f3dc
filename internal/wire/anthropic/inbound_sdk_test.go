package anthropic

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdk "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// sdkClient returns an official Anthropic SDK client whose every request
// is answered with status and body.
func sdkClient(t *testing.T, status int, contentType string, body []byte) sdk.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return sdk.NewClient(option.WithBaseURL(srv.URL), option.WithAPIKey("test"), option.WithMaxRetries(0))
}

var sdkParams = sdk.MessageNewParams{
	Model:     "claude-sonnet-4-5",
	MaxTokens: 100,
	Messages:  []sdk.MessageParam{sdk.NewUserMessage(sdk.NewTextBlock("Hi"))},
}

// fromSDK converts the SDK's Message to the tests' comparable form.
func fromSDK(t *testing.T, m *sdk.Message) accMessage {
	t.Helper()
	out := accMessage{
		ID:         m.ID,
		Model:      string(m.Model),
		StopReason: string(m.StopReason),
		Usage: accUsage{
			InputTokens:              m.Usage.InputTokens,
			CacheCreationInputTokens: m.Usage.CacheCreationInputTokens,
			CacheReadInputTokens:     m.Usage.CacheReadInputTokens,
			OutputTokens:             m.Usage.OutputTokens,
		},
	}
	for _, b := range m.Content {
		ab := accBlock{Type: b.Type, Text: b.Text, Thinking: b.Thinking, ID: b.ID, Name: b.Name}
		if b.Type == "tool_use" {
			ab.Input = jsontext.Value(bytes.Clone(b.Input))
			if err := ab.Input.Compact(); err != nil {
				t.Errorf("SDK tool input %q: %v", b.Input, err)
			}
		}
		out.Content = append(out.Content, ab)
	}
	return out
}

// TestInboundStreamSDK streams each translated answer to the official
// Anthropic SDK and checks that its accumulator builds the message that
// ToMessage makes of the answer delivered whole.
func TestInboundStreamSDK(t *testing.T) {
	for name, body := range inboundStreams(t) {
		t.Run(name, func(t *testing.T) {
			_, out := translateInbound(t, body)
			client := sdkClient(t, 200, "text/event-stream", out)
			stream := client.Messages.NewStreaming(context.Background(), sdkParams)
			var acc sdk.Message
			for stream.Next() {
				if err := acc.Accumulate(stream.Current()); err != nil {
					t.Fatalf("SDK Accumulate: %v", err)
				}
			}
			err := stream.Err()
			if strings.HasPrefix(name, "error-") {
				if err == nil {
					t.Fatalf("SDK stream error = nil, want the upstream error")
				}
				return
			}
			if err != nil {
				t.Fatalf("SDK stream: %v", err)
			}
			got := fromSDK(t, &acc)
			want := checkAnthropicStream(t, out, true).msg
			if !strings.Contains(name, "no-index") {
				whole, _, err := ToMessage(wholeFromChunks(t, body), "claude-sonnet-4-5")
				if err != nil {
					t.Fatal(err)
				}
				want = decodeMessage(t, whole)
			}
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("SDK-accumulated message mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestToMessageSDK has the official SDK decode ToMessage's answers.
func TestToMessageSDK(t *testing.T) {
	for _, f := range toMessageFixtures {
		t.Run(f, func(t *testing.T) {
			out, _, err := ToMessage(readFixture(t, f), "claude-sonnet-4-5")
			if err != nil {
				t.Fatal(err)
			}
			client := sdkClient(t, 200, "application/json", out)
			m, err := client.Messages.New(context.Background(), sdkParams)
			if err != nil {
				t.Fatalf("SDK: %v", err)
			}
			if diff := cmp.Diff(decodeMessage(t, out), fromSDK(t, m), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("SDK-decoded message mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAppendErrorSDK has the official SDK read AppendError's body.
func TestAppendErrorSDK(t *testing.T) {
	for _, status := range []int{400, 401, 403, 404, 413, 429, 500, 503, 529} {
		typ := ErrorType(status)
		client := sdkClient(t, status, "application/json", AppendError(nil, typ, "upstream said no", "req_123"))
		_, err := client.Messages.New(context.Background(), sdkParams)
		var apiErr *sdk.Error
		if !errors.As(err, &apiErr) {
			t.Fatalf("status %d: SDK error = %v, want *anthropic.Error", status, err)
		}
		if apiErr.StatusCode != status || string(apiErr.Type()) != typ {
			t.Errorf("status %d: SDK error = %+v", status, apiErr)
		}
		if !strings.Contains(apiErr.RawJSON(), "upstream said no") || !strings.Contains(apiErr.RawJSON(), `"request_id":"req_123"`) {
			t.Errorf("status %d: SDK error %q, raw %s: want type %s and the message", status, err, apiErr.RawJSON(), typ)
		}
	}
}
