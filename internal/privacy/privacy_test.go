package privacy

import "testing"

func TestText(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"openai request", `{"model":"gpt-4o","temperature":0.2,"messages":[{"role":"system","content":"Be terse."},{"role":"user","content":[{"type":"text","text":"What is 2+2?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]}]}`,
			"Be terse.\nWhat is 2+2?\n"},
		{"anthropic request", `{"model":"c","max_tokens":5,"system":"Answer in French.","messages":[{"role":"user","content":"Bonjour"}]}`,
			"Answer in French.\nBonjour\n"},
		{"embeddings", `{"model":"e","input":["a","b"]}`, "a\nb\n"},
		{"openai answer", `{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"4","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"q\":1}"}}]}}],"usage":{"prompt_tokens":3}}`,
			"4\n{\"q\":1}\n"},
		{"openai stream", "data: {\"id\":\"a\",\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\ndata: {\"id\":\"a\",\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"id\":\"a\",\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\ndata: [DONE]\n\n",
			"\nHel\nlo\n"},
		{"anthropic stream", "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n",
			"Hi\n"},
		{"not json", "<html>oops</html>", ""},
	} {
		if got := string(Text([]byte(tt.in))); got != tt.want {
			t.Errorf("%s: Text = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestSumIsKeyedAndStable(t *testing.T) {
	a := Sum([]byte("k1"), []byte("hello"))
	if a != Sum([]byte("k1"), []byte("hello")) || len(a) != 64 {
		t.Errorf("Sum not stable or not hex SHA-256: %q", a)
	}
	if a == Sum([]byte("k2"), []byte("hello")) || a == Sum([]byte("k1"), []byte("hello!")) {
		t.Error("Sum ignores its key or its text")
	}
	h := NewHasher([]byte("k1"))
	for range 3 { // reused states give the same answer
		if got := h.Sum([]byte("hello")); got != a {
			t.Errorf("Hasher.Sum = %s, want %s", got, a)
		}
	}
	for _, body := range []string{
		`{"messages":[{"role":"user","content":[{"type":"text","text":"caf\u00e9 \"q\""}]}],"system":"s"}`,
		"data: {\"choices\":[{\"delta\":{\"content\":\"Hel\"}}]}\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\ndata: [DONE]\n\n",
	} {
		if got, want := h.SumText([]byte(body)), Sum([]byte("k1"), Text([]byte(body))); got != want {
			t.Errorf("SumText(%q) = %s, want Sum(Text) = %s", body, got, want)
		}
	}
	// Same conversation, different settings: same prompt hash.
	p1 := Sum([]byte("k"), Text([]byte(`{"model":"a","temperature":1,"messages":[{"role":"user","content":"hi"}]}`)))
	p2 := Sum([]byte("k"), Text([]byte(`{"messages":[{"role":"user","content":"hi"}],"model":"b"}`)))
	if p1 != p2 {
		t.Error("prompt hash depends on fields other than the text")
	}
}

func TestDecide(t *testing.T) {
	if p := Decide(Hash, "", true, 1); p.Mode != Hash || !p.HashOn || p.Raw {
		t.Errorf("hash mode = %+v", p)
	}
	if p := Decide(Hash, Off, true, 1); p.Mode != Off || p.HashOn || p.Raw {
		t.Errorf("key off overrides = %+v", p)
	}
	if p := Decide(Sample, "", false, 1); p.Raw || !p.HashOn {
		t.Errorf("sample without consent keeps raw text: %+v", p)
	}
	// The rate is honoured: 20% of 20k draws, within 5 sigma.
	n := 0
	for range 20000 {
		if Decide(Sample, "", true, 0.2).Raw {
			n++
		}
	}
	if sigma := 56.6; float64(n) < 4000-5*sigma || float64(n) > 4000+5*sigma {
		t.Errorf("sampled %d of 20000 at rate 0.2, want about 4000", n)
	}
}

func BenchmarkText(b *testing.B) {
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"What is the capital of Mexico? Answer in one short sentence, please."}],"temperature":0.2}`)
	h := NewHasher([]byte("key"))
	b.ReportAllocs()
	for b.Loop() {
		h.SumText(body)
	}
}
