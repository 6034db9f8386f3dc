package emulator

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestOpenAIChatMatchesFixture(t *testing.T) {
	_, srv := newServer(t, Options{})
	tests := []struct {
		name, body, fixture string
	}{
		{"text", string(readFixture(t, "openai/chat-text.request.json")), "openai/chat-text.response.json"},
		{"tools", string(readFixture(t, "openai/chat-tools.request.json")), "openai/chat-tools.response.json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := mustSend(t, srv, call{path: "/v1/chat/completions", body: tt.body})
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("status %d, Content-Type %q; want 200 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
			want := normalize(readFixture(t, tt.fixture))
			if diff := cmp.Diff(want, normalize(body)); diff != "" {
				t.Errorf("body layout differs from %s (-want +got):\n%s", tt.fixture, diff)
			}
		})
	}
}

func TestOpenAIChatValues(t *testing.T) {
	_, srv := newServer(t, Options{})
	_, body := mustSend(t, srv, call{path: "/v1/chat/completions", body: string(readFixture(t, "openai/chat-text.request.json"))})
	var got struct {
		ID      string `json:"id"`
		Model   string `json:"model"`
		Created int64  `json:"created"`
		Choices []struct {
			Message struct{ Content string } `json:"message"`
		} `json:"choices"`
		Usage struct {
			Prompt     int `json:"prompt_tokens"`
			Completion int `json:"completion_tokens"`
			Total      int `json:"total_tokens"`
		} `json:"usage"`
		Fingerprint string `json:"system_fingerprint"`
	}
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^chatcmpl-[A-Za-z0-9]{29}$`).MatchString(got.ID) {
		t.Errorf("id = %q, want chatcmpl- and 29 characters", got.ID)
	}
	if !regexp.MustCompile(`^fp_[0-9a-f]{10}$`).MatchString(got.Fingerprint) {
		t.Errorf("system_fingerprint = %q, want fp_ and 10 hex digits", got.Fingerprint)
	}
	if got.Model != "gpt-4o" || got.Created == 0 || got.Choices[0].Message.Content != DefaultReply {
		t.Errorf("model %q, created %d, content %q; want gpt-4o, now, %q", got.Model, got.Created, got.Choices[0].Message.Content, DefaultReply)
	}
	// "What is the capital of Mexico?" is 30 characters: 30/4 = 7 prompt tokens;
	// the reply is 8 pieces.
	if got.Usage.Prompt != 7 || got.Usage.Completion != 8 || got.Usage.Total != 15 {
		t.Errorf("usage = %+v, want 7 + 8 = 15", got.Usage)
	}
}

func TestOpenAIToolChoice(t *testing.T) {
	_, srv := newServer(t, Options{})
	tools := `"tools":[{"type":"function","function":{"name":"first"}},{"type":"function","function":{"name":"second"}}]`
	tests := []struct {
		name, choice, want string
	}{
		{"auto", ``, `"name": "first"`},
		{"required", `,"tool_choice":"required"`, `"name": "first"`},
		{"named", `,"tool_choice":{"type":"function","function":{"name":"second"}}`, `"name": "second"`},
		{"none", `,"tool_choice":"none"`, `"content": "The capital of Mexico is Mexico City."`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := mustSend(t, srv, call{path: "/v1/chat/completions", body: `{"model":"m","messages":[{"role":"user","content":"x"}],` + tools + tt.choice + `}`})
			if !strings.Contains(string(body), tt.want) {
				t.Errorf("body = %s, want it to contain %s", body, tt.want)
			}
		})
	}
}

// obfuscationRE matches the padding member (older captures lack it).
var obfuscationRE = regexp.MustCompile(`,"obfuscation":"[^"]*"`)

func TestOpenAIStreamMatchesFixture(t *testing.T) {
	_, srv := newServer(t, Options{})
	fx := string(readFixture(t, "openai/chat-stream-usage.sse"))
	tests := []struct {
		name, body, want string
	}{
		{"include_usage", streamBody, normalize([]byte(fx))},
		{
			// Without include_usage: no "usage" member and no usage chunk.
			"no usage",
			`{"model":"gpt-4o","messages":[{"role":"user","content":"What is the capital of Mexico?"}],"stream":true}`,
			strings.ReplaceAll(regexp.MustCompile(`data: [^\n]*"choices":\[\],[^\n]*\n\n`).ReplaceAllString(normalize([]byte(fx)), ""), `,"usage":null`, ""),
		},
		{
			"no obfuscation",
			`{"model":"gpt-4o","messages":[{"role":"user","content":"What is the capital of Mexico?"}],"stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false}}`,
			obfuscationRE.ReplaceAllString(normalize([]byte(fx)), ""),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := mustSend(t, srv, call{path: "/v1/chat/completions", body: tt.body})
			if got := resp.Header.Get("Content-Type"); got != "text/event-stream; charset=utf-8" {
				t.Errorf("Content-Type = %q", got)
			}
			for _, h := range []string{"x-request-id", "x-ratelimit-limit-requests", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests"} {
				if resp.Header.Get(h) == "" {
					t.Errorf("no %s header", h)
				}
			}
			if diff := cmp.Diff(events(tt.want), events(normalize(body))); diff != "" {
				t.Errorf("stream differs from fixture (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenAIStreamToolCalls(t *testing.T) {
	_, srv := newServer(t, Options{})
	_, body := mustSend(t, srv, call{path: "/v1/chat/completions", body: string(readFixture(t, "openai/chat-stream-tool-calls.request.json"))})
	got := events(obfuscationRE.ReplaceAllString(normalize(body), ""))
	fx := events(normalize(readFixture(t, "openai/chat-stream-tool-calls.sse")))
	// The fixture streams the arguments in 11 fragments, the emulator in one;
	// compare the opening, one fragment and the closing events.
	want := []string{fx[0], fx[1], fx[len(fx)-4], fx[len(fx)-3], fx[len(fx)-2], fx[len(fx)-1]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tool-call stream differs from fixture (-want +got):\n%s", diff)
	}
	if !strings.Contains(string(body), `"function":{"name":"multiply","arguments":""}`) {
		t.Errorf("first tool delta does not name multiply:\n%s", body)
	}
}

func TestPieces(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{DefaultReply, []string{"The", " capital", " of", " Mexico", " is", " Mexico", " City", "."}},
		{"Capital of Denmark.", []string{"Capital", " of", " Denmark", "."}},
		{"Hello, world!\nBye  now ", []string{"Hello", ",", " world", "!", "\n", "Bye", "  now", " "}},
		{"", nil},
		{"héllo wörld", []string{"héllo", " wörld"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, pieces(tt.in)); diff != "" {
			t.Errorf("pieces(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct {
		in          string
		ascii, want string
		raw         string
	}{
		{in: `a"b\c`, ascii: `"a\"b\\c"`, raw: `"a\"b\\c"`},
		{in: "x\n\t\x01<&>", ascii: `"x\n\t\u0001<&>"`, raw: `"x\n\t\u0001<&>"`},
		{in: "é😀", ascii: `"\u00e9\ud83d\ude00"`, raw: `"é😀"`},
	}
	for _, tt := range tests {
		if got := jsonString(tt.in, true); got != tt.ascii {
			t.Errorf("jsonString(%q, true) = %s, want %s", tt.in, got, tt.ascii)
		}
		if got := jsonString(tt.in, false); got != tt.raw {
			t.Errorf("jsonString(%q, false) = %s, want %s", tt.in, got, tt.raw)
		}
		var back string
		if err := json.Unmarshal([]byte(jsonString(tt.in, true)), &back); err != nil || back != tt.in {
			t.Errorf("jsonString(%q) does not round-trip: %q, %v", tt.in, back, err)
		}
	}
}

// floatLineRE matches one element of an indented float array.
var floatLineRE = regexp.MustCompile(`(?m)^        -?[0-9][0-9.e+-]*(,?)$`)

func TestOpenAIEmbeddingsMatchFixture(t *testing.T) {
	_, srv := newServer(t, Options{})
	t.Run("float", func(t *testing.T) {
		_, body := mustSend(t, srv, call{path: "/v1/embeddings", body: `{"model":"text-embedding-3-small","input":["a","b","c","d"],"encoding_format":"float"}`})
		want := floatLineRE.ReplaceAllString(normalize(readFixture(t, "openai/embeddings-float.response.json")), "        F$1")
		if diff := cmp.Diff(want, floatLineRE.ReplaceAllString(normalize(body), "        F$1")); diff != "" {
			t.Errorf("float embeddings layout differs (-want +got):\n%s", diff)
		}
	})
	t.Run("base64", func(t *testing.T) {
		resp, body := mustSend(t, srv, call{path: "/v1/embeddings", body: string(readFixture(t, "openai/embeddings-base64.request.json"))})
		if diff := cmp.Diff(normalize(readFixture(t, "openai/embeddings-base64.response.json")), normalize(body)); diff != "" {
			t.Errorf("base64 embeddings layout differs (-want +got):\n%s", diff)
		}
		if got := resp.Header.Get("openai-model"); got != "text-embedding-3-small" {
			t.Errorf("openai-model = %q", got)
		}
	})
}

// embeddingResponse decodes either encoding of an embeddings list.
type embeddingResponse struct {
	Data []struct {
		Index     int             `json:"index"`
		Embedding json.RawMessage `json:"embedding"`
	} `json:"data"`
	Usage struct {
		Prompt int `json:"prompt_tokens"`
		Total  int `json:"total_tokens"`
	} `json:"usage"`
}

func (r embeddingResponse) vectors(t *testing.T) [][]float32 {
	t.Helper()
	var out [][]float32
	for _, d := range r.Data {
		var v []float32
		var s string
		if json.Unmarshal(d.Embedding, &s) == nil {
			raw, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(raw); i += 4 {
				v = append(v, math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
			}
		} else if err := json.Unmarshal(d.Embedding, &v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestEmbeddingsInputs(t *testing.T) {
	_, srv := newServer(t, Options{})
	tests := []struct {
		name, path, body string
		wantN, wantDims  int
		wantTokens       int
	}{
		{"string", "/v1/embeddings", `{"model":"m","input":"Hello, world!"}`, 1, 1536, 3},
		{"strings", "/v1/embeddings", `{"model":"m","input":["a","b"],"dimensions":8}`, 2, 8, 2},
		{"tokens", "/v1/embeddings", `{"model":"m","input":[1,2,3],"dimensions":8}`, 1, 8, 3},
		{"token arrays", "/v1/embeddings", `{"model":"m","input":[[1,2],[3]],"dimensions":8,"encoding_format":"base64"}`, 2, 8, 3},
		{"azure", azureEmbedPath, `{"input":["a","b","c"],"dimensions":4,"encoding_format":"base64"}`, 3, 4, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := mustSend(t, srv, call{path: tt.path, body: tt.body})
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var r embeddingResponse
			if err := json.Unmarshal(body, &r); err != nil {
				t.Fatal(err)
			}
			vs := r.vectors(t)
			if len(vs) != tt.wantN {
				t.Fatalf("%d vectors, want %d", len(vs), tt.wantN)
			}
			for i, v := range vs {
				if len(v) != tt.wantDims {
					t.Errorf("vector %d has %d dimensions, want %d", i, len(v), tt.wantDims)
				}
				var norm float64
				for _, f := range v {
					norm += float64(f) * float64(f)
				}
				if math.Abs(norm-1) > 1e-4 {
					t.Errorf("vector %d has norm² %v, want 1", i, norm)
				}
				if r.Data[i].Index != i {
					t.Errorf("data[%d].index = %d", i, r.Data[i].Index)
				}
			}
			if r.Usage.Prompt != tt.wantTokens || r.Usage.Total != tt.wantTokens {
				t.Errorf("usage = %+v, want %d", r.Usage, tt.wantTokens)
			}
		})
	}

	// Deterministic per input, different across inputs, equal in both encodings.
	get := func(body string) [][]float32 {
		_, b := mustSend(t, srv, call{path: "/v1/embeddings", body: body})
		var r embeddingResponse
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		return r.vectors(t)
	}
	a := get(`{"model":"m","input":["same","other"],"dimensions":16}`)
	b := get(`{"model":"m","input":"same","dimensions":16,"encoding_format":"base64"}`)
	if diff := cmp.Diff(a[0], b[0]); diff != "" {
		t.Errorf("same input embeds differently (-float +base64):\n%s", diff)
	}
	if cmp.Equal(a[0], a[1]) {
		t.Errorf("different inputs embed the same")
	}
}
