package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		wantErr    []string // substrings of the error; nil means success
	}{
		{"prompt shorthand", `
- name: capital
  prompt: "What is the capital of Mexico?"
  system: Answer briefly.
  max_tokens: 64
  temperature: 0
  expect: {contains: [Mexico City], not_contains: Paris}
`, nil},
		{"messages", `
- name: chat
  messages: [{role: user, content: hi}]
  expect: {regex: "(?i)hello", equals: "Hello.", json: false}
`, nil},
		{"json file", `[{"name": "j", "prompt": "p", "expect": {"json": true}}]`, nil},
		{"unknown key", `
- name: capital
  prompt: hi
  expect: {contains: [x]}
- name: typo
  prompt: hi
  expct: {contains: [x]}
`, []string{`case 2 ("typo")`, `"expct"`, "golden.yaml:7:"}},
		{"unknown expect key", `
- name: capital
  prompt: hi
  expect: {contain: [x]}
`, []string{`case 1 ("capital")`, `"contain"`}},
		{"missing expect", `
- name: capital
  prompt: hi
`, []string{`case 1 ("capital")`, "no expect"}},
		{"empty expect", `
- name: capital
  prompt: hi
  expect: {}
`, []string{"expect is empty"}},
		{"prompt and messages", `
- name: both
  prompt: hi
  messages: [{role: user, content: hi}]
  expect: {contains: [x]}
`, []string{`case 1 ("both")`, "both prompt and messages"}},
		{"neither prompt nor messages", `
- name: none
  expect: {contains: [x]}
`, []string{"no prompt or messages"}},
		{"bad regex", `
- prompt: hi
  expect: {regex: "("}
`, []string{"case 1", "expect.regex"}},
		{"duplicate name", `
- {name: a, prompt: hi, expect: {contains: [x]}}
- {name: a, prompt: hi, expect: {contains: [x]}}
`, []string{`case 2 ("a")`, "already used"}},
		{"not a list", `name: a`, []string{"want a list of cases"}},
		{"empty", ``, []string{"no cases"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "golden.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			cases, err := Load(path)
			if tc.wantErr == nil {
				if err != nil || len(cases) == 0 {
					t.Fatalf("Load = %v, %v; want cases", cases, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load succeeded; want an error with %q", tc.wantErr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Load error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestLoadShapes(t *testing.T) {
	cases, err := Parse([]byte(`
- name: capital
  prompt: "What is the capital of Mexico?"
  system: Answer briefly.
  max_tokens: 64
  temperature: 0.5
  expect: {contains: "Mexico City"}
- messages: [{role: user, content: hi}, {role: assistant, content: hello}, {role: user, content: again}]
  expect: {equals: " Hi. "}
`), "g.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := cases[0]
	if len(c.Messages) != 2 || c.Messages[0] != (Message{"system", "Answer briefly."}) || c.Messages[1] != (Message{"user", "What is the capital of Mexico?"}) {
		t.Errorf("prompt shorthand + system = %+v", c.Messages)
	}
	if c.MaxTokens == nil || *c.MaxTokens != 64 || c.Temperature == nil || *c.Temperature != 0.5 {
		t.Errorf("max_tokens/temperature = %v/%v", c.MaxTokens, c.Temperature)
	}
	if len(c.Expect.Contains) != 1 || c.Expect.Contains[0] != "Mexico City" {
		t.Errorf("contains as a single string = %q", c.Expect.Contains)
	}
	if cases[1].Name != "case-2" || len(cases[1].Messages) != 3 || cases[1].MaxTokens != nil {
		t.Errorf("second case = %+v", cases[1])
	}
}

func TestExpectCheck(t *testing.T) {
	s := func(v string) *string { return &v }
	for _, tc := range []struct {
		name   string
		e      Expect
		answer string
		pass   bool
		reason string
	}{
		{"contains", Expect{Contains: []string{"mexico city", "CAPITAL"}}, "The capital is Mexico City.", true, ""},
		{"contains fails", Expect{Contains: []string{"Mexico City", "Paris"}}, "Mexico City", false, `contains "Paris"`},
		{"not_contains", Expect{NotContains: []string{"paris"}}, "Mexico City", true, ""},
		{"not_contains fails", Expect{NotContains: []string{"paris"}}, "PARIS", false, `not_contains "paris"`},
		{"regex", Expect{Regex: regexp.MustCompile(`(?i)mexico\s+city`)}, "MEXICO  city", true, ""},
		{"regex is case-sensitive as written", Expect{Regex: regexp.MustCompile(`mexico`)}, "Mexico", false, "regex"},
		{"equals trims space", Expect{Equals: s("Mexico City.")}, "  Mexico City.\n", true, ""},
		{"equals is exact", Expect{Equals: s("Mexico City.")}, "mexico city.", false, "equals"},
		{"json", Expect{JSON: true}, ` {"a": [1, 2]} `, true, ""},
		{"json fails", Expect{JSON: true}, `{"a": `, false, "json"},
		{"all must hold", Expect{Contains: []string{"a"}, JSON: true}, `"a"`, true, ""},
	} {
		pass, reason := tc.e.Check(tc.answer)
		if pass != tc.pass || !strings.Contains(reason, tc.reason) || (pass && reason != "") {
			t.Errorf("%s: Check(%q) = %v %q; want %v and a reason with %q", tc.name, tc.answer, pass, reason, tc.pass, tc.reason)
		}
	}
}

func TestPercentile(t *testing.T) {
	lat := make([]float64, 100)
	for i := range lat {
		lat[i] = float64(i + 1) // 1..100 ms
	}
	if p50, p95 := Percentile(lat, 50), Percentile(lat, 95); p50 != 50 || p95 != 95 {
		t.Errorf("p50, p95 of 1..100 = %v, %v; want 50, 95", p50, p95)
	}
	if p50, p95 := Percentile([]float64{10, 20, 30}, 50), Percentile([]float64{10, 20, 30}, 95); p50 != 20 || p95 != 30 {
		t.Errorf("p50, p95 of 10,20,30 = %v, %v; want 20, 30", p50, p95)
	}
	if Percentile([]float64{7}, 95) != 7 || Percentile(nil, 50) != 0 {
		t.Errorf("Percentile of one or none is wrong")
	}
	s := summarize("m", []Result{{Pass: true, LatencyMS: 30}, {LatencyMS: 10}, {Pass: true, LatencyMS: 20}, {Error: true, LatencyMS: 1000}})
	if s.P50MS != 20 || s.P95MS != 30 || s.Passed != 2 || s.Failed != 1 || s.Errors != 1 || s.PassRate != 50 {
		t.Errorf("summarize = %+v; want p50 20, p95 30 (errors left out), 2 passed, 1 failed, 1 error, 50%%", s)
	}
}

// fakeGateway answers like the gateway: model "good" says Mexico City,
// model "bad" says Paris, and case "limited" gets a 429 from model "bad".
// Both honour the system message of case "system".
func fakeGateway(t *testing.T, auth *atomic.Value) *httptest.Server {
	t.Helper()
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			http.NotFound(w, r)
			return
		}
		auth.Store(r.Header.Get("Authorization"))
		var req chatRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Stream {
			http.Error(w, "bad request", 400)
			return
		}
		last := req.Messages[len(req.Messages)-1].Content
		w.Header().Set("Content-Type", "application/json")
		if req.Model == "bad" && strings.Contains(last, "limited") {
			w.WriteHeader(429)
			fmt.Fprint(w, `{"error":{"message":"rate limit exceeded for key","type":"rate_limit_error"}}`)
			return
		}
		answer, upstream := "The capital is Mexico City.", "gpt-4o-mini-2024-07-18"
		if req.Model == "bad" {
			answer, upstream = "Paris.", "no-such-priced-model"
		}
		if req.MaxTokens != nil && *req.MaxTokens == 7 && req.Messages[0].Role == "system" {
			answer += " (system seen)"
		}
		w.Header().Set("X-Switchboard-Model", upstream)
		fmt.Fprintf(w, `{"id":"x","object":"chat.completion","model":%q,"choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500}}`, req.Model, answer)
	}))
}

func testCases(t *testing.T) []Case {
	t.Helper()
	cases, err := Parse([]byte(`
- name: capital
  prompt: What is the capital of Mexico?
  expect: {contains: [Mexico City], not_contains: [Paris]}
- name: system
  system: be brief
  max_tokens: 7
  prompt: capital?
  expect: {contains: ["system seen"]}
- name: limited
  prompt: limited
  expect: {regex: "(?i)mexico"}
`), "golden.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

func TestRun(t *testing.T) {
	var auth atomic.Value
	srv := fakeGateway(t, &auth)
	defer srv.Close()
	rep, err := Run(context.Background(), Options{URL: srv.URL + "/", Key: "sk-test", Models: []string{"good", "bad"}, Cases: testCases(t), Golden: "golden.yaml", Concurrency: 3})
	if err != nil {
		t.Fatal(err)
	}
	if auth.Load() != "Bearer sk-test" {
		t.Errorf("Authorization = %v", auth.Load())
	}
	if len(rep.Models) != 2 || rep.Models[0].Model != "good" || rep.Models[1].Model != "bad" {
		t.Fatalf("models = %+v", rep.Models)
	}
	good, bad := rep.Models[0], rep.Models[1]
	if good.Cases != 3 || good.Passed != 3 || good.PassRate != 100 || good.Errors != 0 || good.Tokens != 4500 || good.Unpriced != 0 {
		t.Errorf("good = %+v", good)
	}
	// gpt-4o-mini: $0.15 in, $0.60 out per million.
	if want := 3 * (1000*0.15 + 500*0.60) / 1e6; good.CostUSD < want*0.5 || good.CostUSD > want*2 {
		t.Errorf("good cost = %v, want about %v", good.CostUSD, want)
	}
	if bad.Cases != 3 || bad.Passed != 1 || bad.Failed != 1 || bad.Errors != 1 || bad.PassRate != 33.3 || bad.Tokens != 3000 || bad.CostUSD != 0 || bad.Unpriced != 2 {
		t.Errorf("bad = %+v", bad)
	}
	if good.P50MS <= 0 || good.P95MS < good.P50MS {
		t.Errorf("good latency p50 %v p95 %v; want 0 < p50 <= p95", good.P50MS, good.P95MS)
	}
	r := rep.Cases[0].Results["bad"]
	if r.Pass || r.Error || !strings.Contains(r.Reason, `contains "Mexico City"`) || !strings.Contains(r.Reason, "Paris") || r.CostUSD != nil || r.UpstreamModel != "no-such-priced-model" {
		t.Errorf("capital on bad = %+v", r)
	}
	r = rep.Cases[2].Results["bad"]
	if r.Pass || !r.Error || r.Status != 429 || !strings.Contains(r.Reason, "HTTP 429: rate limit exceeded") {
		t.Errorf("limited on bad = %+v", r)
	}
	if r := rep.Cases[1].Results["good"]; !r.Pass || r.CostUSD == nil || r.UpstreamModel != "gpt-4o-mini-2024-07-18" {
		t.Errorf("system on good = %+v", r)
	}

	var text bytes.Buffer
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, want := range []string{
		"MODEL", "PASS RATE", "P50 MS", "P95 MS", "COST USD",
		"100.0%", "33.3%",
		"no price for no-such-priced-model",
		"ERROR [", "FAIL [",
		`capital / bad: contains "Mexico City"`,
		"limited / bad: HTTP 429",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^bad\s+3\s+1\s+33\.3%\s+1\s+\S+\s+\S+\s+3000\s+\?$`).MatchString(out) {
		t.Errorf("bad's summary row is not 3 cases, 1 passed, 33.3%%, 1 error, 3000 tokens, cost ?:\n%s", out)
	}
	if !regexp.MustCompile(`(?m)^capital\s+PASS\s+FAIL \[1\]$`).MatchString(out) {
		t.Errorf("per-case row for capital is not PASS / FAIL [1]:\n%s", out)
	}

	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var shape struct {
		Models []map[string]any `json:"models"`
		Cases  []struct {
			Name    string                    `json:"name"`
			Results map[string]map[string]any `json:"results"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(js.Bytes(), &shape); err != nil {
		t.Fatal(err)
	}
	if len(shape.Models) != 2 || shape.Models[0]["model"] != "good" || shape.Models[0]["pass_rate"] != 100.0 || len(shape.Cases) != 3 || shape.Cases[0].Name != "capital" {
		t.Fatalf("JSON shape: %s", js.String())
	}
	res := shape.Cases[0].Results["bad"]
	for _, k := range []string{"pass", "reason", "latency_ms", "tokens", "cost_usd"} {
		if _, ok := res[k]; !ok {
			t.Errorf("JSON result lacks %q: %v", k, res)
		}
	}
	if res["pass"] != false || res["cost_usd"] != nil || res["tokens"] != 1500.0 {
		t.Errorf("JSON result for capital/bad = %v", res)
	}
	if c := shape.Cases[0].Results["good"]["cost_usd"]; c == nil {
		t.Errorf("JSON cost_usd of a priced answer is null")
	}
}

func TestRunUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	rep, err := Run(context.Background(), Options{URL: url, Models: []string{"m"}, Cases: testCases(t), Timeout: 5 * time.Second})
	if err == nil || !strings.Contains(err.Error(), "could not be reached") {
		t.Fatalf("Run against a closed port = %v; want a could-not-be-reached error", err)
	}
	if len(rep.Models) != 1 || rep.Models[0].Errors != 3 {
		t.Errorf("report = %+v", rep.Models)
	}
}

func TestRunTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cases := testCases(t)[:1]
	_, err := Run(context.Background(), Options{URL: srv.URL, Models: []string{"m"}, Cases: cases, Timeout: 50 * time.Millisecond})
	// A timeout with no response at all: the gateway was not reached.
	if err == nil || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("Run with a hanging gateway = %v; want a deadline error", err)
	}
}
