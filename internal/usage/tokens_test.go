package usage

import (
	"fmt"
	"strings"
	"testing"
)

func TestCountText(t *testing.T) {
	tests := []struct {
		s    string
		want int64
	}{
		{"", 0},
		{"hello world", 2},
		{"Hello, world!", 4},
		{strings.Repeat("hello ", 100), 101}, // the trailing space is a token,
	}
	for _, tt := range tests {
		if got := CountText(tt.s); got != tt.want {
			t.Errorf("CountText(%q) = %d, want %d", tt.s, got, tt.want)
		}
	}
}

func TestEstimateInputOpenAI(t *testing.T) {
	body := `{"model":"gpt-4o","stream":true,"temperature":0.2,
	  "messages":[
	    {"role":"system","content":"You are a terse assistant."},
	    {"role":"user","content":[{"type":"text","text":"What is in this image?"},
	      {"type":"image_url","image_url":{"url":"data:image/png;base64,` + strings.Repeat("QUFB", 5000) + `"}}]},
	    {"role":"assistant","content":"A cat.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"lookup","arguments":"{\"q\":\"cat\"}"}}]}
	  ],
	  "tools":[{"type":"function","function":{"name":"lookup","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}],
	  "metadata":{"ignored":"this is not sent to the model"}}`
	text := "You are a terse assistant.\nWhat is in this image?\nA cat.\nlookup\n{\"q\":\"cat\"}\n"
	tools := "type\nfunction\nfunction\nname\nlookup\nparameters\ntype\nobject\nproperties\nq\ntype\nstring"
	want := CountText(text+tools) + 3*perMessageTokens + replyPrimingTokens
	if got := EstimateInput([]byte(body)); got != want {
		t.Errorf("EstimateInput = %d, want %d", got, want)
	}
}

func TestEstimateInputAnthropic(t *testing.T) {
	body := `{"model":"claude-sonnet-4-5","max_tokens":1024,
	  "system":[{"type":"text","text":"Answer in French.","cache_control":{"type":"ephemeral"}}],
	  "messages":[
	    {"role":"user","content":"Bonjour, comment \u00e7a va ?"},
	    {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"weather","input":{"city":"Paris"}}]},
	    {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"22C, sunny"},
	      {"type":"image","source":{"type":"base64","media_type":"image/png","data":"` + strings.Repeat("QUFB", 5000) + `"}}]}
	  ]}`
	text := "Answer in French.\nBonjour, comment ça va ?\nweather\nParis\n22C, sunny"
	want := CountText(text) + 3*perMessageTokens + replyPrimingTokens
	if got := EstimateInput([]byte(body)); got != want {
		t.Errorf("EstimateInput = %d, want %d", got, want)
	}
}

func TestEstimateInputEmbeddingsAndPrompt(t *testing.T) {
	for _, tt := range []struct {
		body string
		want int64
	}{
		{`{"model":"text-embedding-3-small","input":"hello world"}`, 2},
		{`{"model":"text-embedding-3-small","input":["hello world","hello world"]}`, 5}, // joined by a newline,
		{`{"model":"gpt-3.5-turbo-instruct","prompt":"Hello, world!"}`, 4},
		{`{"model":"x"}`, 0},
		{`not json at all!`, int64(len(`not json at all!`) / 4)},
		{`["array"]`, int64(len(`["array"]`) / 4)},
	} {
		if got := EstimateInput([]byte(tt.body)); got != tt.want {
			t.Errorf("EstimateInput(%s) = %d, want %d", tt.body, got, tt.want)
		}
	}
}

func TestEstimateInputLargeBody(t *testing.T) {
	content := strings.Repeat("lorem ipsum dolor sit amet ", 12_000) // ~320 KiB
	body := fmt.Sprintf(`{"messages":[{"role":"user","content":%q}]}`, content)
	want := int64(len(content))/4 + perMessageTokens + replyPrimingTokens
	if got := EstimateInput([]byte(body)); got != want {
		t.Errorf("EstimateInput(large) = %d, want %d", got, want)
	}
}

// chatBody is a typical ~2 KB chat completion request.
func chatBody() []byte {
	para := "The quick brown fox jumps over the lazy dog while the gateway counts tokens for rate limiting. "
	return fmt.Appendf(nil, `{"model":"gpt-4o-mini","temperature":0.7,"stream":true,"messages":[`+
		`{"role":"system","content":"You are a helpful assistant that answers precisely and briefly."},`+
		`{"role":"user","content":%q},{"role":"assistant","content":%q},{"role":"user","content":%q}]}`,
		strings.Repeat(para, 8), strings.Repeat(para, 6), strings.Repeat(para, 6))
}

func TestChatBodySize(t *testing.T) {
	if n := len(chatBody()); n < 1800 || n > 2300 {
		t.Errorf("benchmark body is %d bytes, want ~2 KB", n)
	}
}

func BenchmarkEstimateInput(b *testing.B) {
	body := chatBody()
	EstimateInput(body) // load the codec outside the timing
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		EstimateInput(body)
	}
}

func BenchmarkEstimateInputParallel(b *testing.B) {
	body := chatBody()
	EstimateInput(body)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			EstimateInput(body)
		}
	})
}
