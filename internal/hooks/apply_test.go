package hooks

import (
	"bytes"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/go-cmp/cmp"
)

func msgs(ms ...string) []jsontext.Value {
	out := make([]jsontext.Value, len(ms))
	for i, m := range ms {
		out[i] = jsontext.Value(m)
	}
	return out
}

func TestApply(t *testing.T) {
	ctx := msgs(`{"role": "system", "content": "ctx"}`)
	tests := []struct {
		name, body string
		d          Decision
		want       string
	}{{
		name: "start with no system keeps other members verbatim",
		body: `{"model" : "m", "messages":[{"role":"user","content":"q"}], "temperature": 0.70, "x":{"k" : [1, 2]}}`,
		d:    Decision{Action: ActionModify, Messages: ctx},
		want: `{"model":"m","messages":[{"role":"system","content":"ctx"},{"role":"user","content":"q"}],"temperature":0.70,"x":{"k" : [1, 2]}}`,
	}, {
		name: "start after leading system only",
		body: `{"messages":[{"role":"system","content":"s"},{"role":"user","content":"q"},{"role":"system","content":"late"}]}`,
		d:    Decision{Action: ActionModify, Messages: ctx, Position: PositionStart},
		want: `{"messages":[{"role":"system","content":"s"},{"role":"system","content":"ctx"},{"role":"user","content":"q"},{"role":"system","content":"late"}]}`,
	}, {
		name: "start when all are system",
		body: `{"messages":[{"role":"system","content":"s"}]}`,
		d:    Decision{Action: ActionModify, Messages: ctx},
		want: `{"messages":[{"role":"system","content":"s"},{"role":"system","content":"ctx"}]}`,
	}, {
		name: "end",
		body: `{"messages":[{"role":"system","content":"s"},{"role":"user","content":"q"}],"model":"m"}`,
		d:    Decision{Action: ActionModify, Messages: msgs(`{"role":"user","content":"a"}`, `{"role":"user","content":"b"}`), Position: PositionEnd},
		want: `{"messages":[{"role":"system","content":"s"},{"role":"user","content":"q"},{"role":"user","content":"a"},{"role":"user","content":"b"}],"model":"m"}`,
	}, {
		name: "empty messages",
		body: `{"messages":[]}`,
		d:    Decision{Action: ActionModify, Messages: ctx},
		want: `{"messages":[{"role":"system","content":"ctx"}]}`,
	}, {
		name: "absent messages created",
		body: `{"model":"m"}`,
		d:    Decision{Action: ActionModify, Messages: ctx},
		want: `{"model":"m","messages":[{"role":"system","content":"ctx"}]}`,
	}, {
		name: "metadata into existing",
		body: `{"metadata":{"user":"u1","team":"c"},"model":"m"}`,
		d:    Decision{Action: ActionModify, Metadata: map[string]string{"team": "h", "b": "2", "a": "1"}},
		want: `{"metadata":{"user":"u1","team":"h","a":"1","b":"2"},"model":"m"}`,
	}, {
		name: "metadata into absent",
		body: `{"model":"m","messages":[]}`,
		d:    Decision{Action: ActionModify, Metadata: map[string]string{"rag": "v2", "q": "\"quoted\""}},
		want: `{"model":"m","messages":[],"metadata":{"q":"\"quoted\"","rag":"v2"}}`,
	}, {
		name: "metadata into null",
		body: `{"metadata":null}`,
		d:    Decision{Action: ActionModify, Metadata: map[string]string{"a": "1"}},
		want: `{"metadata":{"a":"1"}}`,
	}, {
		name: "escaped member names are recognised and kept",
		body: `{"messag\u0065s":[{"role":"user","content":"q"}]}`,
		d:    Decision{Action: ActionModify, Messages: ctx, Position: PositionEnd},
		want: `{"messag\u0065s":[{"role":"user","content":"q"},{"role":"system","content":"ctx"}]}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Apply([]byte(tt.body), tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if !jsontext.Value(got).IsValid() {
				t.Errorf("invalid JSON: %s", got)
			}
		})
	}
}

func TestApplyNoop(t *testing.T) {
	body := []byte(` {"weird" :  1 } `)
	for _, d := range []Decision{{Action: ActionAllow, Messages: msgs(`{"role":"user","content":"x"}`)}, {Action: ActionModify}, {}} {
		got, err := Apply(body, d)
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("Apply(%+v) = %s, %v", d, got, err)
		}
		got, err = ApplyAnthropic(body, d)
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("ApplyAnthropic(%+v) = %s, %v", d, got, err)
		}
	}
	// Anthropic ignores metadata.
	d := Decision{Action: ActionModify, Metadata: map[string]string{"a": "b"}}
	if got, err := ApplyAnthropic(body, d); err != nil || !bytes.Equal(got, body) {
		t.Errorf("ApplyAnthropic(metadata) = %s, %v", got, err)
	}
}

func TestApplyErrors(t *testing.T) {
	m := Decision{Action: ActionModify, Messages: msgs(`{"role":"user","content":"x"}`)}
	md := Decision{Action: ActionModify, Metadata: map[string]string{"a": "b"}}
	tests := []struct {
		name, body string
		d          Decision
	}{
		{"not an object", `[1]`, m},
		{"invalid", `{"messages":[`, m},
		{"trailing data", `{"messages":[]} {}`, m},
		{"duplicate member", `{"messages":[],"messages":[]}`, m},
		{"messages not array", `{"messages":{}}`, m},
		{"metadata not object", `{"metadata":"x"}`, md},
		{"bad hook message", `{"messages":[]}`, Decision{Action: ActionModify, Messages: msgs(`"hi"`)}},
		{"hook message without role", `{"messages":[]}`, Decision{Action: ActionModify, Messages: msgs(`{"content":"hi"}`)}},
		{"invalid hook message", `{"messages":[]}`, Decision{Action: ActionModify, Messages: msgs(`{"role":"user"`)}},
	}
	for _, tt := range tests {
		if got, err := Apply([]byte(tt.body), tt.d); err == nil {
			t.Errorf("%s: Apply = %s, want an error", tt.name, got)
		}
	}
}

func TestApplyAnthropic(t *testing.T) {
	sys := `{"role":"system","content":"Context: doc 1"}`
	user := `{"role":"user","content":"extra","name":"dropped"}`
	tests := []struct {
		name, body string
		d          Decision
		want       string
	}{{
		name: "string system",
		body: `{"model":"claude","system":"You are helpful.","messages":[{"role":"user","content":"q"}],"max_tokens":10}`,
		d:    Decision{Action: ActionModify, Messages: msgs(sys)},
		want: `{"model":"claude","system":"You are helpful.\n\nContext: doc 1","messages":[{"role":"user","content":"q"}],"max_tokens":10}`,
	}, {
		name: "block system",
		body: `{"system":[{"type":"text","text":"A","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":"q"}]}`,
		d:    Decision{Action: ActionModify, Messages: msgs(sys, `{"role":"developer","content":[{"type":"text","text":"B1"},{"type":"text","text":"B2"}]}`)},
		want: `{"system":[{"type":"text","text":"A","cache_control":{"type":"ephemeral"}},{"type":"text","text":"Context: doc 1"},{"type":"text","text":"B1\nB2"}],"messages":[{"role":"user","content":"q"}]}`,
	}, {
		name: "absent system",
		body: `{"model":"claude","messages":[{"role":"user","content":"q"}]}`,
		d:    Decision{Action: ActionModify, Messages: msgs(sys, `{"role":"system","content":"two"}`)},
		want: `{"model":"claude","messages":[{"role":"user","content":"q"}],"system":"Context: doc 1\n\ntwo"}`,
	}, {
		name: "null and empty system",
		body: `{"system":null,"messages":[]}`,
		d:    Decision{Action: ActionModify, Messages: msgs(sys)},
		want: `{"system":"Context: doc 1","messages":[]}`,
	}, {
		name: "empty string system",
		body: `{"system":"","messages":[]}`,
		d:    Decision{Action: ActionModify, Messages: msgs(sys)},
		want: `{"system":"Context: doc 1","messages":[]}`,
	}, {
		name: "user message at start",
		body: `{"system":"S","messages":[{"role":"user","content":"q"}]}`,
		d:    Decision{Action: ActionModify, Messages: msgs(user)},
		want: `{"system":"S","messages":[{"role":"user","content":"extra"},{"role":"user","content":"q"}]}`,
	}, {
		name: "mixed at end",
		body: `{"messages":[{"role":"user","content":[{"type":"text","text":"q"}]}]}`,
		d:    Decision{Action: ActionModify, Position: PositionEnd, Messages: msgs(`{"role":"assistant","content":[{"type":"text","text":"a"}]}`, sys)},
		want: `{"messages":[{"role":"user","content":[{"type":"text","text":"q"}]},{"role":"assistant","content":[{"type":"text","text":"a"}]}],"system":"Context: doc 1"}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ApplyAnthropic([]byte(tt.body), tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestApplyAnthropicErrors(t *testing.T) {
	tests := []struct {
		name, body string
		m          string
	}{
		{"tool role", `{"messages":[]}`, `{"role":"tool","content":"x"}`},
		{"no content", `{"messages":[]}`, `{"role":"user"}`},
		{"image system part", `{"messages":[]}`, `{"role":"system","content":[{"type":"image_url"}]}`},
		{"numeric system content", `{"messages":[]}`, `{"role":"system","content":3}`},
		{"system not string or array", `{"system":3,"messages":[]}`, `{"role":"system","content":"x"}`},
		{"messages not array", `{"messages":"x"}`, `{"role":"user","content":"x"}`},
		{"body not object", `null`, `{"role":"user","content":"x"}`},
	}
	for _, tt := range tests {
		d := Decision{Action: ActionModify, Messages: msgs(tt.m)}
		if got, err := ApplyAnthropic([]byte(tt.body), d); err == nil {
			t.Errorf("%s: = %s, want an error", tt.name, got)
		}
	}
}
