package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-gw/switchboard/internal/usage"
)

// Options configure Run.
type Options struct {
	// URL is the gateway's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// Key is sent as "Authorization: Bearer KEY" when not empty.
	Key string
	// Models are the routes to compare, each run on every case.
	Models []string
	Cases  []Case
	// Golden names the golden file in the report (optional).
	Golden string
	// Concurrency is how many requests are in flight at once (default 4).
	Concurrency int
	// Timeout bounds each request (default 60s).
	Timeout time.Duration
	// Client sends the requests (default: a plain http.Client).
	Client *http.Client
	// Prices prices the answers (default usage.NewPrices(nil)).
	Prices *usage.Prices
}

// Result is the outcome of one case on one model.
type Result struct {
	Pass bool `json:"pass"`
	// Error is set when no answer came back: an HTTP error status or a
	// failed request. Reason then says what happened.
	Error bool `json:"error,omitempty"`
	// Reason says which expectation failed, or the error.
	Reason           string  `json:"reason,omitempty"`
	Status           int     `json:"status,omitempty"`
	LatencyMS        float64 `json:"latency_ms"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	Tokens           int64   `json:"tokens"`
	// CostUSD is nil when the upstream model has no known price.
	CostUSD *float64 `json:"cost_usd"`
	// UpstreamModel is the gateway's x-switchboard-model header (else the
	// response's model field).
	UpstreamModel string `json:"upstream_model,omitempty"`
	Answer        string `json:"answer,omitempty"`

	unreachable bool // the request never got an HTTP response
}

// Summary is one model's totals.
type Summary struct {
	Model    string  `json:"model"`
	Cases    int     `json:"cases"`
	Passed   int     `json:"passed"`
	Failed   int     `json:"failed"` // answered, but an expectation failed
	Errors   int     `json:"errors"` // no answer: HTTP error or failed request
	PassRate float64 `json:"pass_rate"`
	// P50MS and P95MS are latency percentiles (nearest rank) of the
	// answered requests; 0 when none was answered.
	P50MS            float64 `json:"p50_ms"`
	P95MS            float64 `json:"p95_ms"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	Tokens           int64   `json:"tokens"`
	// CostUSD totals the priced answers only.
	CostUSD float64 `json:"cost_usd"`
	// Unpriced counts answers whose upstream model has no known price;
	// their cost is not in CostUSD.
	Unpriced       int      `json:"unpriced"`
	UnpricedModels []string `json:"unpriced_models,omitempty"`
}

// CaseResults is one case across the models.
type CaseResults struct {
	Name    string            `json:"name"`
	Results map[string]Result `json:"results"`
}

// Report is the outcome of Run.
type Report struct {
	URL    string        `json:"url"`
	Golden string        `json:"golden,omitempty"`
	Models []Summary     `json:"models"`
	Cases  []CaseResults `json:"cases"`
}

// Run sends every case to every model through the gateway. Failed
// expectations and HTTP errors are results, not errors: Run returns an error
// only for invalid options, a cancelled ctx, or when not one request reached
// the gateway (the report is returned as far as it got).
func Run(ctx context.Context, o Options) (Report, error) {
	if o.URL == "" {
		return Report{}, errors.New("eval: no gateway URL")
	}
	if len(o.Models) == 0 {
		return Report{}, errors.New("eval: no models")
	}
	if len(o.Cases) == 0 {
		return Report{}, errors.New("eval: no cases")
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Prices == nil {
		o.Prices = usage.NewPrices(nil)
	}
	o.URL = strings.TrimRight(o.URL, "/")
	endpoint := o.URL + "/v1/chat/completions"

	results := make([][]Result, len(o.Models)) // [model][case]
	for i := range results {
		results[i] = make([]Result, len(o.Cases))
	}
	type job struct{ m, c int }
	jobs := make(chan job)
	var wg sync.WaitGroup
	for range min(o.Concurrency, len(o.Models)*len(o.Cases)) {
		wg.Go(func() {
			for j := range jobs {
				results[j.m][j.c] = runOne(ctx, o, endpoint, o.Models[j.m], o.Cases[j.c])
			}
		})
	}
feed:
	for c := range o.Cases {
		for m := range o.Models {
			select {
			case jobs <- job{m, c}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()

	rep := Report{URL: o.URL, Golden: o.Golden}
	for c, cs := range o.Cases {
		cr := CaseResults{Name: cs.Name, Results: make(map[string]Result, len(o.Models))}
		for m, model := range o.Models {
			cr.Results[model] = results[m][c]
		}
		rep.Cases = append(rep.Cases, cr)
	}
	for m, model := range o.Models {
		rep.Models = append(rep.Models, summarize(model, results[m]))
	}
	if err := ctx.Err(); err != nil {
		return rep, err
	}
	var first *Result
	for m := range results {
		for c := range results[m] {
			r := &results[m][c]
			if !r.unreachable {
				return rep, nil
			}
			if first == nil {
				first = r
			}
		}
	}
	return rep, fmt.Errorf("eval: the gateway at %s could not be reached: %s", o.URL, first.Reason)
}

type chatRequest struct {
	Model       string    `json:"model"`
	Messages    []Message `json:"messages"`
	MaxTokens   *int      `json:"max_tokens,omitempty"`
	Temperature *float64  `json:"temperature,omitempty"`
	Stream      bool      `json:"stream"`
}

type chatResponse struct {
	Model   string `json:"model"`
	Choices []struct {
		Message struct {
			Content json.RawMessage `json:"content"`
			Refusal string          `json:"refusal"`
		} `json:"message"`
	} `json:"choices"`
	Usage struct {
		PromptTokens        int64 `json:"prompt_tokens"`
		CompletionTokens    int64 `json:"completion_tokens"`
		PromptTokensDetails struct {
			CachedTokens int64 `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
	} `json:"usage"`
}

func runOne(ctx context.Context, o Options, endpoint, model string, c Case) Result {
	body, err := json.Marshal(chatRequest{Model: model, Messages: c.Messages, MaxTokens: c.MaxTokens, Temperature: c.Temperature})
	if err != nil {
		return Result{Error: true, Reason: err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return Result{Error: true, Reason: err.Error(), unreachable: true}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if o.Key != "" {
		req.Header.Set("Authorization", "Bearer "+o.Key)
	}
	start := time.Now()
	resp, err := o.Client.Do(req)
	if err != nil {
		return Result{Error: true, Reason: "request failed: " + err.Error(), LatencyMS: ms(time.Since(start)), unreachable: true}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	resp.Body.Close()
	r := Result{Status: resp.StatusCode, LatencyMS: ms(time.Since(start))}
	if err != nil {
		r.Error, r.Reason = true, "reading the response: "+err.Error()
		return r
	}
	if resp.StatusCode != http.StatusOK {
		r.Error, r.Reason = true, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, errorMessage(data))
		return r
	}
	var cr chatResponse
	if err := json.Unmarshal(data, &cr); err != nil {
		r.Error, r.Reason = true, "decoding the response: "+err.Error()
		return r
	}
	if len(cr.Choices) == 0 {
		r.Error, r.Reason = true, "the response has no choices"
		return r
	}
	r.PromptTokens, r.CompletionTokens = cr.Usage.PromptTokens, cr.Usage.CompletionTokens
	r.Tokens = r.PromptTokens + r.CompletionTokens
	r.UpstreamModel = resp.Header.Get("X-Switchboard-Model")
	if r.UpstreamModel == "" {
		r.UpstreamModel = cr.Model
	}
	if r.UpstreamModel == "" {
		r.UpstreamModel = model
	}
	if usd, known := o.Prices.Cost(r.UpstreamModel, r.PromptTokens, r.CompletionTokens, cr.Usage.PromptTokensDetails.CachedTokens); known {
		r.CostUSD = &usd
	}
	msg := cr.Choices[0].Message
	r.Answer = content(msg.Content)
	if r.Answer == "" && msg.Refusal != "" {
		r.Answer = msg.Refusal
	}
	r.Pass, r.Reason = c.Expect.Check(r.Answer)
	if !r.Pass {
		r.Reason += "; answer: " + quoteShort(r.Answer, 80)
	}
	return r
}

// content is a message's text: a string, or the text parts of an array.
func content(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var parts []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	if json.Unmarshal(raw, &parts) != nil {
		return ""
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

// errorMessage is the message of an OpenAI-style error body, else the body.
func errorMessage(data []byte) string {
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
		return e.Error.Message
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return "(empty body)"
	}
	return quoteShort(s, 200)
}

func quoteShort(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*10) / 10
}

func summarize(model string, rs []Result) Summary {
	s := Summary{Model: model, Cases: len(rs)}
	var lat []float64
	for _, r := range rs {
		switch {
		case r.Pass:
			s.Passed++
		case r.Error:
			s.Errors++
		default:
			s.Failed++
		}
		if r.Error {
			continue
		}
		lat = append(lat, r.LatencyMS)
		s.PromptTokens += r.PromptTokens
		s.CompletionTokens += r.CompletionTokens
		if r.CostUSD != nil {
			s.CostUSD += *r.CostUSD
		} else {
			s.Unpriced++
			if !slices.Contains(s.UnpricedModels, r.UpstreamModel) {
				s.UnpricedModels = append(s.UnpricedModels, r.UpstreamModel)
			}
		}
	}
	s.Tokens = s.PromptTokens + s.CompletionTokens
	if s.Cases > 0 {
		s.PassRate = math.Round(float64(s.Passed)/float64(s.Cases)*1000) / 10
	}
	slices.Sort(lat)
	s.P50MS, s.P95MS = Percentile(lat, 50), Percentile(lat, 95)
	slices.Sort(s.UnpricedModels)
	return s
}

// Percentile is the nearest-rank p-th percentile (0 < p ≤ 100) of sorted
// values; 0 for none.
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
