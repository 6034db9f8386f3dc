package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	wgemini "github.com/switchboard-gw/switchboard/internal/wire/gemini"
)

const (
	geminiBody  = `{"contents":[{"role":"user","parts":[{"text":"What is the capital of Mexico?"}]}],"systemInstruction":{"parts":[{"text":"Be brief."}]}}`
	geminiTools = `{"contents":[{"role":"user","parts":[{"text":"Weather?"}]}],"tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"OBJECT","properties":{}}},{"name":"other"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["other"]}}}`
)

// geminiVarRE matches the members whose values vary between answers.
var geminiVarRE = regexp.MustCompile(`("(?:text|promptTokenCount|candidatesTokenCount|totalTokenCount|tokenCount|thoughtsTokenCount|modelVersion|responseId)": )("(?:[^"\\]|\\.)*"|\d+)`)

func geminiNormalize(b []byte) string { return geminiVarRE.ReplaceAllString(string(b), `${1}"_"`) }

func geminiCall(path, body string, header ...string) call {
	h := map[string]string{}
	for i := 0; i+1 < len(header); i += 2 {
		h[header[i]] = header[i+1]
	}
	return call{path: path, body: body, header: h}
}

// TestGeminiGenerateMatchesFixture compares the non-stream answer's layout
// with generate-content.response.json byte for byte, values blanked.
func TestGeminiGenerateMatchesFixture(t *testing.T) {
	_, srv := newServer(t, Options{})
	resp, body := mustSend(t, srv, geminiCall("/v1beta/models/gemini-2.5-flash:generateContent", geminiBody))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json; charset=UTF-8" {
		t.Fatalf("status %d, content-type %q: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if got, want := geminiNormalize(body), geminiNormalize(readFixture(t, "gemini/generate-content.response.json")); got != want {
		t.Errorf("body layout differs from the fixture:\n%s\nwant:\n%s", got, want)
	}
	out, usage, err := wgemini.FromGemini(body, "gpt-4o")
	if err != nil || !bytes.Contains(out, []byte(DefaultReply)) || usage.ReasoningTokens == 0 {
		t.Errorf("FromGemini = %s, %+v, %v", out, usage, err)
	}
}

// TestGeminiSSEMatchesFixture compares the alt=sse stream with
// stream-text.sse: CRLF framing, payload spacing, member order.
func TestGeminiSSEMatchesFixture(t *testing.T) {
	_, srv := newServer(t, Options{})
	resp, body := mustSend(t, srv, geminiCall("/v1beta/models/gemini-2.0-flash-exp:streamGenerateContent?alt=sse", geminiBody))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("status %d, content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	collapse := func(b []byte) []string {
		var out []string
		for _, ev := range strings.SplitAfter(geminiNormalize(b), "\r\n\r\n") {
			if len(out) == 0 || out[len(out)-1] != ev {
				out = append(out, ev)
			}
		}
		return out
	}
	got, want := collapse(body), collapse(readFixture(t, "gemini/stream-text.sse"))
	if strings.Join(got, "") != strings.Join(want, "") {
		t.Errorf("stream layout differs from the fixture:\n%q\nwant:\n%q", got, want)
	}
	s := wgemini.NewStream("gpt-4o", true)
	var out []byte
	for ev := range strings.SplitSeq(strings.TrimSuffix(string(body), "\r\n\r\n"), "\r\n\r\n") {
		var err error
		if out, err = s.Event(out, []byte(strings.TrimPrefix(ev, "data: "))); err != nil {
			t.Fatal(err)
		}
	}
	if !s.Done() || !bytes.Contains(s.Finish(out), []byte("[DONE]")) {
		t.Errorf("translated stream incomplete:\n%s", out)
	}
}

func TestGeminiJSONArrayStream(t *testing.T) {
	_, srv := newServer(t, Options{})
	body := `{"contents":[{"role":"user","parts":[{"text":"Hi"}]}],"generationConfig":{"thinkingConfig":{"includeThoughts":true}}}`
	resp, got := mustSend(t, srv, geminiCall("/v1beta/models/gemini-2.5-flash:streamGenerateContent", body))
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json; charset=UTF-8" {
		t.Fatalf("status %d, content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !bytes.HasPrefix(got, []byte("[{\n")) || !bytes.HasSuffix(got, []byte("}\n]")) || !bytes.Contains(got, []byte("}\n,\r\n{\n")) {
		t.Errorf("not the JSON-array framing of stream-json-array.response.json:\n%q", got)
	}
	var elems []struct {
		Candidates []struct {
			Content struct {
				Parts []struct {
					Text    string `json:"text"`
					Thought bool   `json:"thought"`
				} `json:"parts"`
			} `json:"content"`
		} `json:"candidates"`
	}
	if err := json.Unmarshal(got, &elems); err != nil {
		t.Fatalf("not a JSON array: %v", err)
	}
	if !elems[0].Candidates[0].Content.Parts[0].Thought {
		t.Errorf("first element is not the thought: %+v", elems[0])
	}
}

func TestGeminiFunctionCall(t *testing.T) {
	_, srv := newServer(t, Options{})
	for _, path := range []string{"/v1beta/models/gemini-2.0-flash:generateContent", "/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse"} {
		_, body := mustSend(t, srv, geminiCall(path, geminiTools))
		if !strings.Contains(string(body), `"functionCall": {`) || !strings.Contains(string(body), `"name": "other"`) {
			t.Errorf("%s: no functionCall of the allowed function:\n%s", path, body)
		}
	}
	none := strings.Replace(geminiTools, `"ANY"`, `"NONE"`, 1)
	if _, body := mustSend(t, srv, geminiCall("/v1beta/models/gemini-2.0-flash:generateContent", none)); strings.Contains(string(body), "functionCall") {
		t.Errorf("mode NONE called a function:\n%s", body)
	}
}

func TestGeminiAuth(t *testing.T) {
	_, srv := newServer(t, Options{APIKey: "k"})
	const p = "/v1beta/models/gemini-2.5-flash:generateContent"
	const v = "/v1/projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent"
	tests := []struct {
		c    call
		want int
	}{
		{geminiCall(p, geminiBody, "x-goog-api-key", "k"), 200},
		{geminiCall(p+"?key=k", geminiBody), 200},
		{geminiCall(p, geminiBody, "x-goog-api-key", "bad"), 400},
		{geminiCall(p, geminiBody), 403},
		{geminiCall(v, geminiBody, "Authorization", "Bearer k"), 200},
		{geminiCall(v, geminiBody, "Authorization", "Bearer bad"), 401},
		{geminiCall(v, geminiBody, "x-goog-api-key", "k"), 401},
	}
	for _, tt := range tests {
		resp, body := mustSend(t, srv, tt.c)
		if resp.StatusCode != tt.want {
			t.Errorf("%s %v: status %d, want %d: %s", tt.c.path, tt.c.header, resp.StatusCode, tt.want, body)
		}
		if tt.want == 400 && string(body) != string(readFixture(t, "gemini/error-400-api-key-invalid.response.json")) {
			t.Errorf("bad key body differs from the fixture:\n%s", body)
		}
	}
}

func TestGeminiFaults(t *testing.T) {
	_, srv := newServer(t, Options{})
	const p = "/v1beta/models/gemini-2.5-flash:generateContent"
	resp, body := mustSend(t, srv, geminiCall(p, geminiBody, "x-mock-fault", "status=429"))
	if resp.StatusCode != 429 || string(body) != string(readFixture(t, "gemini/error-429-retry-info-short.response.json")) {
		t.Errorf("status=429: %d %s", resp.StatusCode, body)
	}
	if e, ok := wgemini.ParseError(resp.StatusCode, body); !ok || e.RetryAfter == 0 {
		t.Errorf("ParseError(429) = %+v, %v", e, ok)
	}
	for status, name := range map[int]string{400: "INVALID_ARGUMENT", 500: "INTERNAL", 503: "UNAVAILABLE", 404: "NOT_FOUND"} {
		resp, body := mustSend(t, srv, geminiCall(p, geminiBody, "x-mock-fault", "status="+strconv.Itoa(status)))
		if resp.StatusCode != status || !strings.Contains(string(body), `"status": "`+name+`"`) || !strings.HasSuffix(string(body), "}\n") {
			t.Errorf("status=%d: %d %s", status, resp.StatusCode, body)
		}
	}
	_, body = mustSend(t, srv, geminiCall("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", geminiBody, "x-mock-fault", "error_after=1"))
	evs := strings.Split(strings.TrimSuffix(string(body), "\r\n\r\n"), "\r\n\r\n")
	if len(evs) != 2 || !strings.HasPrefix(evs[1], `data: {"error": {"code": 503,`) {
		t.Errorf("error_after=1 stream:\n%q", body)
	}
	_, body = mustSend(t, srv, geminiCall("/v1beta/models/gemini-2.0-flash:streamGenerateContent", geminiBody, "x-mock-fault", "error_after=1"))
	var arr []json.RawMessage
	if err := json.Unmarshal(body, &arr); err != nil || len(arr) != 2 || !strings.Contains(string(arr[1]), "UNAVAILABLE") {
		t.Errorf("error_after=1 JSON array stream (%v):\n%s", err, body)
	}
	if _, _, err := send(t, srv, geminiCall("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse", geminiBody, "x-mock-fault", "cut_after=1")); err == nil {
		t.Errorf("cut_after=1 ended cleanly")
	}
	resp, body = mustSend(t, srv, geminiCall("/v1beta/models/missing-model:generateContent", geminiBody))
	if resp.StatusCode != 404 || !strings.Contains(string(body), "models/missing-model is not found") {
		t.Errorf("missing model: %d %s", resp.StatusCode, body)
	}
	resp, body = mustSend(t, srv, geminiCall(p, `{"contents":[],"foo":1}`))
	if resp.StatusCode != 400 || !strings.Contains(string(body), `Unknown name \"foo\"`) {
		t.Errorf("unknown field: %d %s", resp.StatusCode, body)
	}
}

func TestGeminiModels(t *testing.T) {
	_, srv := newServer(t, Options{})
	resp, body := mustSend(t, srv, call{method: http.MethodGet, path: "/v1beta/models"})
	if resp.StatusCode != 200 || string(body) != string(readFixture(t, "gemini/models-list.response.json")) {
		t.Errorf("GET /v1beta/models: %d %.200s", resp.StatusCode, body)
	}
	if resp, _ := mustSend(t, srv, geminiCall("/v1beta/models/gemini-2.5-flash:embedContent", geminiBody)); resp.StatusCode != 404 {
		t.Errorf("unknown method: status %d, want 404", resp.StatusCode)
	}
}
