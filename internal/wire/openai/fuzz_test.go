package openai

import (
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

func FuzzScanChat(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user"}],"stream":true,"stream_options":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ScanChat(body, func(name string) bool { return name == "top_k" })
		if err != nil {
			if _, ok := err.(*SyntaxError); !ok {
				if _, ok := err.(*ParamError); !ok {
					t.Fatalf("ScanChat error %T %v, want *SyntaxError or *ParamError", err, err)
				}
			}
			return
		}
		if r.Model == "" {
			t.Fatalf("ScanChat succeeded with empty Model")
		}
		const model = "m\"x"
		out := r.Rewrite(nil, body, model, true)
		if !jsontext.Value(out).IsValid() {
			t.Fatalf("Rewrite output is not valid JSON:\n%s\ninput:\n%s", out, body)
		}
		r2, err := ScanChat(out, func(name string) bool { return name == "top_k" })
		if err != nil {
			t.Fatalf("re-scan of Rewrite output: %v\n%s", err, out)
		}
		if r2.Model != model {
			t.Fatalf("re-scanned Model = %q, want %q", r2.Model, model)
		}
		if r.Stream && !r2.IncludeUsage {
			t.Fatalf("re-scanned IncludeUsage = false for a stream:\n%s", out)
		}
		if r2.Stream != r.Stream || r2.MaxTokens != r.MaxTokens || r2.User != r.User {
			t.Fatalf("re-scan changed fields: %+v vs %+v", pub(r2), pub(r))
		}
		// Embeddings bodies go through the same Rewrite.
		if e, err := ScanEmbeddings(body, nil); err == nil {
			out := e.Rewrite(nil, body, model, true)
			if e2, err := ScanEmbeddings(out, nil); err != nil || e2.Model != model {
				t.Fatalf("embeddings re-scan = %q, %v", e2.Model, err)
			}
		}
	})
}

func FuzzScanChunk(f *testing.F) {
	f.Add([]byte(`{"choices":[],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}`))
	addScanSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		// The same result as the decoder-based reference, on any input.
		checkScan(t, data)
		c, err := ScanChunk(data)
		valid := jsontext.Value(data).IsValid()
		if err == nil && !valid {
			t.Fatalf("ScanChunk accepted invalid JSON: %q", data)
		}
		if err == nil && c.NoChoices && c.FinishReason != "" {
			t.Fatalf("NoChoices with a finish reason: %+v", c)
		}
		// The other readers must not panic on the same input.
		ScanResponse(data)
		if e, ok := ParseError(data); ok {
			// ParseError only accepts valid JSON, so e holds valid
			// UTF-8 and the round trip must be exact.
			back, ok := ParseError(AppendError(nil, e))
			if !ok || back != e {
				t.Fatalf("AppendError/ParseError round trip: %+v -> %+v", e, back)
			}
		}
	})
}
