package respcache

import (
	"fmt"
	"strings"
	"testing"
)

const baseBody = `{
  "model": "gpt-4o",
  "messages": [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is the capital of Mexico?"}
  ],
  "temperature": 0.2,
  "max_tokens": 100,
  "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}],
  "response_format": {"type": "json_object"},
  "seed": 7,
  "x_unknown": "a",
  "n": 1
}`

func mustKey(t *testing.T, model, endpoint, body string) string {
	t.Helper()
	k, err := Key(model, endpoint, []byte(body))
	if err != nil {
		t.Fatalf("Key(%s): %v", body, err)
	}
	if len(k) != 64 {
		t.Fatalf("Key length %d, want 64 hex digits", len(k))
	}
	return k
}

func TestKeySame(t *testing.T) {
	base := mustKey(t, "gpt-4o", "/v1/chat/completions", baseBody)
	same := map[string]string{
		"reordered members": `{"n":1,"x_unknown":"a","seed":7,"response_format":{"type":"json_object"},
			"tools":[{"function":{"parameters":{"properties":{"q":{"type":"string"}},"type":"object"},"name":"lookup"},"type":"function"}],
			"max_tokens":100,"temperature":0.2,
			"messages":[{"content":"You are terse.","role":"system"},{"content":"What is the capital of Mexico?","role":"user"}],
			"model":"gpt-4o"}`,
		"stream true":        strings.Replace(baseBody, `"n": 1`, `"n": 1, "stream": true, "stream_options": {"include_usage": true}`, 1),
		"stream false":       strings.Replace(baseBody, `"n": 1`, `"n": 1, "stream": false`, 1),
		"user":               strings.Replace(baseBody, `"n": 1`, `"n": 1, "user": "alice"`, 1),
		"other user":         strings.Replace(baseBody, `"n": 1`, `"n": 1, "user": "bob"`, 1),
		"metadata":           strings.Replace(baseBody, `"n": 1`, `"n": 1, "metadata": {"trace": "x"}`, 1),
		"store etc":          strings.Replace(baseBody, `"n": 1`, `"n": 1, "store": true, "service_tier": "flex", "safety_identifier": "s", "prompt_cache_key": "p"`, 1),
		"escaped ignored":    strings.Replace(baseBody, `"n": 1`, `"n": 1, "\u0075ser": "carol"`, 1),
		"1.0 for 1":          strings.Replace(baseBody, `"n": 1`, `"n": 1.0`, 1),
		"1e0 for 1":          strings.Replace(baseBody, `"n": 1`, `"n": 1e0`, 1),
		"0.20 for 0.2":       strings.Replace(baseBody, `0.2`, `0.20`, 1),
		"2e-1 for 0.2":       strings.Replace(baseBody, `0.2`, `2e-1`, 1),
		"100.0 for 100":      strings.Replace(baseBody, `100`, `1.00e2`, 1),
		"escaped string":     strings.Replace(baseBody, `"You are terse."`, `"You are \u0074erse\u002e"`, 1),
		"escaped name":       strings.Replace(baseBody, `"seed"`, `"s\u0065ed"`, 1),
		"compact whitespace": compactJSON(t, baseBody),
	}
	for name, body := range same {
		if k := mustKey(t, "gpt-4o", "/v1/chat/completions", body); k != base {
			c1, _ := canonical([]byte(baseBody))
			c2, _ := canonical([]byte(body))
			t.Errorf("%s: key differs\n%s\n%s", name, c1, c2)
		}
	}
}

func compactJSON(t *testing.T, s string) string {
	t.Helper()
	b, err := canonical([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestKeyDifferent(t *testing.T) {
	base := mustKey(t, "gpt-4o", "/v1/chat/completions", baseBody)
	seen := map[string]string{base: "base"}
	check := func(name, k string) {
		t.Helper()
		if prev, ok := seen[k]; ok {
			t.Errorf("%s: same key as %s", name, prev)
		}
		seen[k] = name
	}
	diff := map[string]string{
		"system message":   strings.Replace(baseBody, "You are terse.", "You are verbose.", 1),
		"user message":     strings.Replace(baseBody, "Mexico?", "Peru?", 1),
		"role":             strings.Replace(baseBody, `"role": "system"`, `"role": "developer"`, 1),
		"message order":    strings.Replace(strings.Replace(baseBody, `{"role": "system", "content": "You are terse."},`, ``, 1), `Mexico?"}`, `Mexico?"}, {"role": "system", "content": "You are terse."}`, 1),
		"extra message":    strings.Replace(baseBody, `Mexico?"}`, `Mexico?"}, {"role": "user", "content": "Hi"}`, 1),
		"temperature":      strings.Replace(baseBody, `0.2`, `0.3`, 1),
		"max_tokens":       strings.Replace(baseBody, `100`, `101`, 1),
		"tools":            strings.Replace(baseBody, `"lookup"`, `"search"`, 1),
		"tool schema":      strings.Replace(baseBody, `{"type": "string"}`, `{"type": "integer"}`, 1),
		"response_format":  strings.Replace(baseBody, `"json_object"`, `"text"`, 1),
		"seed":             strings.Replace(baseBody, `"seed": 7`, `"seed": 8`, 1),
		"big seed":         strings.Replace(baseBody, `"seed": 7`, `"seed": 9007199254740993`, 1),
		"big seed 2":       strings.Replace(baseBody, `"seed": 7`, `"seed": 9007199254740992`, 1),
		"seed string":      strings.Replace(baseBody, `"seed": 7`, `"seed": "7"`, 1),
		"unknown value":    strings.Replace(baseBody, `"x_unknown": "a"`, `"x_unknown": "b"`, 1),
		"unknown added":    strings.Replace(baseBody, `"n": 1`, `"n": 1, "x_other": null`, 1),
		"n":                strings.Replace(baseBody, `"n": 1`, `"n": 2`, 1),
		"top_p":            strings.Replace(baseBody, `"n": 1`, `"n": 1, "top_p": 0.5`, 1),
		"tool_choice":      strings.Replace(baseBody, `"n": 1`, `"n": 1, "tool_choice": "required"`, 1),
		"stop":             strings.Replace(baseBody, `"n": 1`, `"n": 1, "stop": ["\n"]`, 1),
		"logit_bias":       strings.Replace(baseBody, `"n": 1`, `"n": 1, "logit_bias": {"50256": -100}`, 1),
		"nested user kept": strings.Replace(baseBody, `"type": "json_object"`, `"type": "json_object", "user": "x"`, 1),
		"body model":       strings.Replace(baseBody, `"model": "gpt-4o"`, `"model": "fast"`, 1),
	}
	for name, body := range diff {
		check(name, mustKey(t, "gpt-4o", "/v1/chat/completions", body))
	}
	check("model", mustKey(t, "gpt-4o-mini", "/v1/chat/completions", baseBody))
	check("endpoint", mustKey(t, "gpt-4o", "/v1/responses", baseBody))
	// The model and endpoint are length-prefixed: moving a byte from one
	// to the other changes the key.
	check("model/endpoint boundary", mustKey(t, "gpt-4o/", "v1/chat/completions", baseBody))
}

func TestKeyInvalid(t *testing.T) {
	for _, body := range []string{
		``, `{`, `{"a":}`, `{"a":1}{}`, `{"a":1} x`, `{"a":1,"a":2}`, "{\"a\":\"\xff\"}", `[1,]`, `{'a':1}`, `nul`,
	} {
		if k, err := Key("m", "/e", []byte(body)); err == nil {
			t.Errorf("Key(%q) = %s, want an error", body, k)
		}
	}
	// Any valid JSON value is accepted, not only objects.
	for _, body := range []string{`[]`, `"x"`, `1`, `null`, ` {} `} {
		if _, err := Key("m", "/e", []byte(body)); err != nil {
			t.Errorf("Key(%q): %v", body, err)
		}
	}
}

func TestCanonicalNumbers(t *testing.T) {
	for in, want := range map[string]string{
		`1`: `1`, `1.0`: `1`, `-0`: `0`, `-0.0`: `0`, `1e2`: `100`, `0.5`: `0.5`, `5e-1`: `0.5`,
		`12345678901234567890123`: `12345678901234567890123`, `1e400`: `1e400`, `1.5e300`: `1.5e+300`,
		`-3.25`: `-3.25`,
	} {
		got, err := canonical([]byte(in))
		if err != nil || string(got) != want {
			t.Errorf("canonical(%s) = %s, %v; want %s", in, got, err, want)
		}
	}
}

// chatBody is a chat request of about size bytes.
func chatBody(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"model":"gpt-4o","stream":true,"temperature":0.7,"max_tokens":512,"user":"u-123","messages":[` +
		`{"role":"system","content":"You are a helpful assistant that answers briefly."}`)
	for i := 0; b.Len() < size-200; i++ {
		fmt.Fprintf(&b, `,{"role":"user","content":"Question %d: what is the weather like in city number %d today?"}`, i, i)
		fmt.Fprintf(&b, `,{"role":"assistant","content":"It is sunny in city %d, about %d.5 degrees."}`, i, 20+i)
	}
	b.WriteString(`],"tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]}`)
	return []byte(b.String())
}

func TestChatBodyValid(t *testing.T) {
	if _, err := Key("m", "/e", chatBody(2048)); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkKey(b *testing.B) {
	body := chatBody(2048)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Key("gpt-4o", "/v1/chat/completions", body); err != nil {
			b.Fatal(err)
		}
	}
}
