package openai

import (
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

func TestRewriteShaped(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    string
		shape Shape
		want  string
	}{
		{"no shape", `{"model":"a","messages":[{"role":"user"}],"max_tokens":9000}`, Shape{},
			`{"model":"m","messages":[{"role":"user"}],"max_tokens":9000}`},
		{"cap max_tokens", `{"model":"a","max_tokens":9000,"messages":[{"role":"user"}]}`, Shape{MaxMaxTokens: 4096},
			`{"model":"m","max_tokens":4096,"messages":[{"role":"user"}]}`},
		{"under the cap", `{"model":"a","max_tokens":100,"messages":[{"role":"user"}]}`, Shape{MaxMaxTokens: 4096},
			`{"model":"m","max_tokens":100,"messages":[{"role":"user"}]}`},
		{"cap max_completion_tokens", `{"messages":[{"role":"user"}],"max_completion_tokens": 5000 ,"model":"a"}`, Shape{MaxMaxTokens: 10},
			`{"messages":[{"role":"user"}],"max_completion_tokens": 10 ,"model":"m"}`},
		{"default inserted", `{"model":"a","messages":[{"role":"user"}]}`, Shape{DefaultMaxTokens: 256},
			`{"model":"m","messages":[{"role":"user"}],"max_tokens":256}`},
		{"default bounded by max", `{"model":"a","messages":[{"role":"user"}]}`, Shape{DefaultMaxTokens: 256, MaxMaxTokens: 100},
			`{"model":"m","messages":[{"role":"user"}],"max_tokens":100}`},
		{"default not over a given value", `{"model":"a","messages":[{"role":"user"}],"max_completion_tokens":7}`, Shape{DefaultMaxTokens: 256},
			`{"model":"m","messages":[{"role":"user"}],"max_completion_tokens":7}`},
		{"temperature capped", `{"temperature":1.9,"model":"a","messages":[{"role":"user"}]}`, Shape{MaxTemperature: 1},
			`{"temperature":1,"model":"m","messages":[{"role":"user"}]}`},
		{"temperature under cap", `{"temperature":0.2,"model":"a","messages":[{"role":"user"}]}`, Shape{MaxTemperature: 1},
			`{"temperature":0.2,"model":"m","messages":[{"role":"user"}]}`},
		{"everything with usage", `{"model":"a","stream":true,"temperature":2,"messages":[{"role":"user"}]}`, Shape{DefaultMaxTokens: 50, MaxTemperature: 0.7},
			`{"model":"m","stream":true,"temperature":0.7,"messages":[{"role":"user"}],"stream_options":{"include_usage":true},"max_tokens":50}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ScanChat([]byte(tc.in), nil)
			if err != nil {
				t.Fatalf("ScanChat: %v", err)
			}
			got := string(r.RewriteShaped(nil, []byte(tc.in), "m", true, tc.shape))
			if got != tc.want {
				t.Errorf("RewriteShaped =\n%s\nwant\n%s", got, tc.want)
			}
			if !jsontext.Value(got).IsValid() {
				t.Errorf("output is not valid JSON: %s", got)
			}
		})
	}
}

// TestRewritten: the gateway sends the client's bytes as they are exactly
// when the rewrite would give them back unchanged.
func TestRewritten(t *testing.T) {
	for _, tc := range []struct {
		name, in, model string
		forceUsage      bool
		shape           Shape
		want            bool
	}{
		{"same model", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, "gpt-4o", true, Shape{}, true},
		{"other model", `{"model":"fast","messages":[{"role":"user"}]}`, "gpt-4o", true, Shape{}, false},
		{"prefix of the model", `{"model":"gpt-4","messages":[{"role":"user"}]}`, "gpt-4o", false, Shape{}, false},
		{"escaped in the body", `{"model":"gpt\u002d4o","messages":[{"role":"user"}]}`, "gpt-4o", false, Shape{}, false},
		// Conservative: a model that needs escapes is always rewritten.
		{"model needing escapes", `{"model":"a\"b","messages":[{"role":"user"}]}`, `a"b`, false, Shape{}, false},
		{"stream without usage", `{"model":"m","stream":true,"messages":[{"role":"user"}]}`, "m", true, Shape{}, false},
		{"stream, usage not forced", `{"model":"m","stream":true,"messages":[{"role":"user"}]}`, "m", false, Shape{}, true},
		{"stream with usage", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user"}]}`, "m", true, Shape{}, true},
		{"default max_tokens", `{"model":"m","messages":[{"role":"user"}]}`, "m", false, Shape{DefaultMaxTokens: 10}, false},
		{"under the caps", `{"model":"m","max_tokens":5,"temperature":0.1,"messages":[{"role":"user"}]}`, "m", false, Shape{MaxMaxTokens: 10, MaxTemperature: 1}, true},
		{"over a cap", `{"model":"m","max_tokens":50,"messages":[{"role":"user"}]}`, "m", false, Shape{MaxMaxTokens: 10}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ScanChat([]byte(tc.in), nil)
			if err != nil {
				t.Fatalf("ScanChat: %v", err)
			}
			in := []byte(tc.in)
			out, changed := r.Rewritten(nil, in, tc.model, tc.forceUsage, tc.shape)
			if changed == tc.want {
				t.Fatalf("Rewritten changed = %v, want %v", changed, !tc.want)
			}
			if full := string(r.RewriteShaped(nil, in, tc.model, tc.forceUsage, tc.shape)); string(out) != full {
				t.Fatalf("Rewritten gives\n%s\nRewriteShaped\n%s", out, full)
			}
			if !changed && (len(out) != len(in) || &out[0] != &in[0]) {
				t.Fatalf("unchanged, but not the body itself")
			}
		})
	}
}

func TestMetadata(t *testing.T) {
	body := []byte(`{"model":"a","metadata":{"tier":"free","n":3,"who":"x\u00e9"},"messages":[{"role":"user"}]}`)
	r, err := ScanChat(body, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := r.Metadata(body)
	if m["tier"] != "free" || m["who"] != "xé" || len(m) != 2 {
		t.Errorf("Metadata = %v, want the string values", m)
	}
	r, _ = ScanChat([]byte(`{"model":"a","messages":[{"role":"user"}]}`), nil)
	if m := r.Metadata(nil); m != nil {
		t.Errorf("no metadata: %v", m)
	}
}

func TestFindField(t *testing.T) {
	body := []byte(`{"model":"a","logprobs":true,"messages":[{"role":"user","content":"logit_bias"}],"n":null}`)
	if got, ok := FindField(body, []string{"logit_bias", "logprobs"}); !ok || got != "logprobs" {
		t.Errorf("FindField = %q, %v; want logprobs", got, ok)
	}
	if got, ok := FindField(body, []string{"n", "logit_bias"}); ok {
		t.Errorf("FindField = %q; a nested string or a null member must not count", got)
	}
}
