package emulator

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newServer starts the emulator on a real listener for the test.
func newServer(t *testing.T, opts Options) (*Emulator, *httptest.Server) {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New(%+v) = %v", opts, err)
	}
	srv := httptest.NewServer(e)
	t.Cleanup(func() {
		srv.Client().Transport.(*http.Transport).CloseIdleConnections()
		srv.Close()
	})
	return e, srv
}

// call is one request to the emulator.
type call struct {
	method, path, body string
	header             map[string]string
}

// send issues c and reads the whole answer; err is the transport or body
// read error.
func send(t *testing.T, srv *httptest.Server, c call) (*http.Response, []byte, error) {
	t.Helper()
	return sendCtx(t, t.Context(), srv, c)
}

func sendCtx(t *testing.T, ctx context.Context, srv *httptest.Server, c call) (*http.Response, []byte, error) {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodPost
	}
	req, err := http.NewRequestWithContext(ctx, c.method, srv.URL+c.path, strings.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// mustSend is send that fails the test on a transport error.
func mustSend(t *testing.T, srv *httptest.Server, c call) (*http.Response, []byte) {
	t.Helper()
	resp, body, err := send(t, srv, c)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	return resp, body
}

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("fixtures/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// varRE matches the members whose values change from answer to answer (ids,
// times, models, texts, token counts, padding); normalize blanks them so
// that what remains — keys, order, spacing, newlines — can be compared
// byte for byte with a fixture.
var varRE = regexp.MustCompile(`("(?:id|created|model|content|prompt_tokens|completion_tokens|total_tokens|reasoning_tokens|system_fingerprint|obfuscation|name|arguments|embedding)":\s?)("(?:[^"\\]|\\.)*"|-?\d+)`)

func normalize(b []byte) string {
	return varRE.ReplaceAllString(string(b), `${1}"_"`)
}

// events splits an SSE body into its events, framing included.
func events(body string) []string {
	return strings.SplitAfter(body, "\n\n")
}

const (
	chatBody       = `{"model":"gpt-4o","messages":[{"role":"user","content":"What is the capital of Mexico?"}]}`
	streamBody     = `{"model":"gpt-4o","messages":[{"role":"user","content":"What is the capital of Mexico?"}],"stream":true,"stream_options":{"include_usage":true}}`
	azureChatPath  = "/openai/deployments/gpt-4o/chat/completions?api-version=2024-12-01-preview"
	azureEmbedPath = "/openai/deployments/embed-small/embeddings?api-version=2024-12-01-preview"
)

func TestRoutes(t *testing.T) {
	_, srv := newServer(t, Options{})
	tests := []struct {
		name       string
		call       call
		wantStatus int
		wantType   string
		wantBody   string // substring
	}{
		{"openai chat", call{path: "/v1/chat/completions", body: chatBody}, 200, "application/json", `"object": "chat.completion"`},
		{"openai stream", call{path: "/v1/chat/completions", body: streamBody}, 200, "text/event-stream; charset=utf-8", "data: [DONE]\n\n"},
		{"openai embeddings", call{path: "/v1/embeddings", body: `{"model":"text-embedding-3-small","input":"hi"}`}, 200, "application/json", `"object": "embedding"`},
		{"openai models", call{method: "GET", path: "/v1/models"}, 200, "application/json", `"id": "gpt-5-search-api"`},
		{"azure chat", call{path: azureChatPath, body: chatBody}, 200, "application/json", `"object":"chat.completion"`},
		{"azure embeddings", call{path: azureEmbedPath, body: `{"input":"hi"}`}, 200, "application/json", `"object":"embedding"`},
		{"unknown path", call{path: "/v1/nope", body: chatBody}, 404, "application/json", `"message": "Invalid URL (POST /v1/nope)"`},
		{"no v1 prefix", call{path: "/chat/completions", body: chatBody}, 404, "application/json", `"type": "invalid_request_error"`},
		{"wrong method", call{method: "GET", path: "/v1/chat/completions"}, 405, "application/json", `"message": "Invalid method for URL (GET /v1/chat/completions)"`},
		{"models by POST", call{path: "/v1/models"}, 405, "application/json", `Invalid method`},
		{"azure no api-version", call{path: "/openai/deployments/gpt-4o/chat/completions", body: chatBody}, 404, "application/json", `{"error":{"code":"404","message":"Resource not found"}}`},
		{"azure unknown path", call{path: "/openai/deployments/gpt-4o/completions?api-version=1", body: chatBody}, 404, "application/json", `"Resource not found"`},
		{"azure wrong method", call{method: "GET", path: azureChatPath}, 405, "application/json", `"code":"405"`},
		{"azure missing deployment", call{path: "/openai/deployments/missing-x/chat/completions?api-version=1", body: chatBody}, 404, "application/json", `"code":"DeploymentNotFound"`},
		{"invalid json", call{path: "/v1/chat/completions", body: `{"model":`}, 400, "application/json", `"message": "We could not parse the JSON body of your request.`},
		{"azure invalid json", call{path: azureChatPath, body: `nope`}, 400, "application/json", `"message":"We could not parse the JSON body of your request.`},
		{"wrong type", call{path: "/v1/chat/completions", body: `{"model":"gpt-4o","messages":[],"stream":"yes"}`}, 400, "application/json", `"param": "stream"`},
		{"no model", call{path: "/v1/chat/completions", body: `{"messages":[]}`}, 400, "application/json", `you must provide a model parameter`},
		{"no messages", call{path: "/v1/chat/completions", body: `{"model":"gpt-4o"}`}, 400, "application/json", `"code": "missing_required_parameter"`},
		{"missing model", call{path: "/v1/chat/completions", body: `{"model":"missing-model","messages":[]}`}, 404, "application/json", "The model `missing-model` does not exist"},
		{"missing embedding model", call{path: "/v1/embeddings", body: `{"model":"missing-embed","input":"x"}`}, 404, "application/json", `"code": "model_not_found"`},
		{"bad encoding_format", call{path: "/v1/embeddings", body: `{"model":"m","input":"x","encoding_format":"hex"}`}, 400, "application/json", `"param": "encoding_format"`},
		{"no input", call{path: "/v1/embeddings", body: `{"model":"m"}`}, 400, "application/json", `Missing required parameter: 'input'.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := mustSend(t, srv, tt.call)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body = %s, want it to contain %q", body, tt.wantBody)
			}
			if strings.HasPrefix(tt.call.path, "/openai/") {
				if resp.Header.Get("apim-request-id") == "" {
					t.Errorf("no apim-request-id header")
				}
			} else if !strings.HasPrefix(resp.Header.Get("x-request-id"), "req_") {
				t.Errorf("x-request-id = %q, want req_...", resp.Header.Get("x-request-id"))
			}
		})
	}
}

func TestModelNotFoundMatchesFixture(t *testing.T) {
	_, srv := newServer(t, Options{})
	_, body := mustSend(t, srv, call{path: "/v1/chat/completions", body: `{"model":"missing-model","messages":[]}`})
	want := strings.Replace(string(readFixture(t, "openai/error-404-model-not-found.response.json")), "gpt-5.2-proo", "missing-model", 1)
	if diff := cmp.Diff(want, string(body)); diff != "" {
		t.Errorf("404 body mismatch (-want +got):\n%s", diff)
	}
}

func TestAPIKey(t *testing.T) {
	_, srv := newServer(t, Options{APIKey: "sk-test"})
	openAI401 := string(readFixture(t, "openai/error-401-invalid-api-key.response.json"))
	tests := []struct {
		name       string
		call       call
		wantStatus int
		wantBody   string // exact, when set
	}{
		{"openai no key", call{path: "/v1/chat/completions", body: chatBody}, 401, openAI401},
		{"openai wrong key", call{path: "/v1/chat/completions", body: chatBody, header: map[string]string{"Authorization": "Bearer sk-wrong"}}, 401, openAI401},
		{"openai api-key header is not enough", call{path: "/v1/chat/completions", body: chatBody, header: map[string]string{"api-key": "sk-test"}}, 401, openAI401},
		{"openai good key", call{path: "/v1/chat/completions", body: chatBody, header: map[string]string{"Authorization": "Bearer sk-test"}}, 200, ""},
		{"openai models good key", call{method: "GET", path: "/v1/models", header: map[string]string{"Authorization": "Bearer sk-test"}}, 200, ""},
		{"azure no key", call{path: azureChatPath, body: chatBody}, 401, azureUnauthorizedBody},
		{"azure bearer is not enough", call{path: azureChatPath, body: chatBody, header: map[string]string{"Authorization": "Bearer sk-test"}}, 401, azureUnauthorizedBody},
		{"azure good key", call{path: azureChatPath, body: chatBody, header: map[string]string{"api-key": "sk-test"}}, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := mustSend(t, srv, tt.call)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantBody != "" {
				if diff := cmp.Diff(tt.wantBody, string(body)); diff != "" {
					t.Errorf("body mismatch (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func TestModels(t *testing.T) {
	t.Run("fixture verbatim", func(t *testing.T) {
		_, srv := newServer(t, Options{})
		_, body := mustSend(t, srv, call{method: "GET", path: "/v1/models"})
		if diff := cmp.Diff(string(readFixture(t, "openai/models-list.response.json")), string(body)); diff != "" {
			t.Errorf("models mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("configured", func(t *testing.T) {
		_, srv := newServer(t, Options{Models: []string{"gpt-4o", "demo"}})
		_, body := mustSend(t, srv, call{method: "GET", path: "/v1/models"})
		// The fixture's first two entries, renamed, are the expected layout.
		fx := string(readFixture(t, "openai/models-list.response.json"))
		entryRE := regexp.MustCompile(`(?s)\n    \{\n      "id": "[^"]*",\n      "object": "model",\n      "created": \d+,\n      "owned_by": "[^"]*"\n    \}`)
		entries := entryRE.FindAllString(fx, 2)
		want := "{\n  \"object\": \"list\",\n  \"data\": [" + entries[0] + "," + entries[1] + "\n  ]\n}\n"
		norm := regexp.MustCompile(`("(?:id|created|owned_by)": )("[^"]*"|\d+)`)
		if diff := cmp.Diff(norm.ReplaceAllString(want, `$1_`), norm.ReplaceAllString(string(body), `$1_`)); diff != "" {
			t.Errorf("models layout mismatch (-want +got):\n%s", diff)
		}
		if !strings.Contains(string(body), `"id": "gpt-4o"`) || !strings.Contains(string(body), `"id": "demo"`) {
			t.Errorf("models = %s, want gpt-4o and demo", body)
		}
	})
	t.Run("empty", func(t *testing.T) {
		_, srv := newServer(t, Options{Models: []string{}})
		_, body := mustSend(t, srv, call{method: "GET", path: "/v1/models"})
		if want := "{\n  \"object\": \"list\",\n  \"data\": []\n}\n"; string(body) != want {
			t.Errorf("models = %q, want %q", body, want)
		}
	})
}

func TestReplyText(t *testing.T) {
	_, srv := newServer(t, Options{Reply: "Configured reply."})
	tests := []struct {
		name   string
		header map[string]string
		want   string
	}{
		{"options", nil, `"content": "Configured reply."`},
		{"header", map[string]string{"x-mock-reply": "Héllo <b>"}, `"content": "H\u00e9llo <b>"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := mustSend(t, srv, call{path: "/v1/chat/completions", body: chatBody, header: tt.header})
			if !strings.Contains(string(body), tt.want) {
				t.Errorf("body = %s, want it to contain %s", body, tt.want)
			}
		})
	}
}

func TestRecording(t *testing.T) {
	done := make(chan Recorded, 10)
	e, srv := newServer(t, Options{OnDone: func(r Recorded) { done <- r }})
	mustSend(t, srv, call{path: "/v1/chat/completions?x=1", body: chatBody, header: map[string]string{"X-Test": "a"}})
	mustSend(t, srv, call{method: "GET", path: "/v1/models", header: map[string]string{"x-mock-fault": "header=x-a:b"}})

	got := e.Requests()
	if len(got) != 2 {
		t.Fatalf("Requests() has %d entries, want 2", len(got))
	}
	want := Recorded{Method: "POST", Path: "/v1/chat/completions", RawQuery: "x=1", Body: []byte(chatBody)}
	if diff := cmp.Diff(want, got[0], cmp.FilterPath(func(p cmp.Path) bool { return p.String() == "Header" }, cmp.Ignore())); diff != "" {
		t.Errorf("Requests()[0] mismatch (-want +got):\n%s", diff)
	}
	if got[0].Header.Get("X-Test") != "a" {
		t.Errorf("Requests()[0].Header = %v, want X-Test: a", got[0].Header)
	}
	if got[1].Method != "GET" || got[1].Fault != "header=x-a:b" {
		t.Errorf("Requests()[1] = %+v, want GET with Fault header=x-a:b", got[1])
	}
	for i := range 2 {
		select {
		case r := <-done:
			if r.Path != got[i].Path {
				t.Errorf("OnDone #%d path = %s, want %s", i, r.Path, got[i].Path)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("OnDone #%d not called", i)
		}
	}

	// Copies: changing them does not change the emulator's record.
	got[0].Body[0] = 'X'
	got[0].Header.Set("X-Test", "changed")
	again := e.Requests()
	if again[0].Body[0] != '{' || again[0].Header.Get("X-Test") != "a" {
		t.Errorf("Requests() returned shared memory")
	}

	e.Reset()
	if n := len(e.Requests()); n != 0 {
		t.Errorf("after Reset, Requests() has %d entries, want 0", n)
	}
}

func TestConcurrentRequests(t *testing.T) {
	e, srv := newServer(t, Options{})
	const n = 20
	errc := make(chan error, n)
	for range n {
		go func() {
			_, _, err := send(t, srv, call{path: "/v1/chat/completions", body: streamBody})
			errc <- err
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
	if err := e.SetFaults("status=500"); err != nil {
		t.Fatal(err)
	}
	if got := len(e.Requests()); got != n {
		t.Errorf("Requests() has %d entries, want %d", got, n)
	}
}
