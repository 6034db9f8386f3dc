package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Target is one endpoint the load is sent to: the emulator directly or the
// gateway in front of it.
type Target struct {
	// Name labels the target in the report: "direct" or "gateway".
	Name string
	// URL is the chat completions URL, e.g. http://127.0.0.1:9090/v1/chat/completions.
	URL string
	// Key is sent as "Authorization: Bearer Key"; "" sends none.
	Key string
	// Client sends the requests; nil means a client from [NewClient](1024).
	Client *http.Client
}

// NewClient returns the load generator's HTTP client: one keep-alive
// Transport that keeps up to maxConns idle connections per host (so a
// closed-loop run of that concurrency never re-dials), opens at most maxConns
// per host (an overloaded target queues requests in the client, and an open
// loop counts the queueing in the latency because it measures from the
// scheduled send time), uses no proxy, and does not ask for compression.
func NewClient(maxConns int) *http.Client {
	maxConns = max(maxConns, 1024)
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil, // loopback benchmarks never go through $HTTP_PROXY
			DialContext:         d.DialContext,
			MaxIdleConns:        0,
			MaxIdleConnsPerHost: maxConns,
			MaxConnsPerHost:     maxConns,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
			WriteBufferSize:     32 << 10,
			ReadBufferSize:      32 << 10,
		},
	}
}

// ChatBody returns an OpenAI chat completions request for model whose body is
// at least promptBytes long (the user message is padded with words), or a
// short "Hello" prompt when promptBytes is small. Streaming requests ask for
// usage, which the gateway asks the upstream for anyway, so that both targets
// answer with the same events.
func ChatBody(model string, promptBytes int, stream bool) []byte {
	var b bytes.Buffer
	b.WriteString(`{"model":"`)
	b.WriteString(model)
	b.WriteString(`","messages":[{"role":"user","content":"Hello`)
	const tail = `"}]}`
	const word = " lorem ipsum"
	for b.Len()+len(tail) < promptBytes {
		b.WriteString(word)
	}
	b.WriteString(`"}]`)
	if stream {
		b.WriteString(`,"stream":true,"stream_options":{"include_usage":true}`)
	}
	b.WriteString(`}`)
	return b.Bytes()
}

// sample is the outcome of one request. Times are measured from the moment
// the request was due (open loop) or sent (closed loop).
type sample struct {
	latency time.Duration // until the whole body was read
	ttfb    time.Duration // streams: until the first data event
	gap     time.Duration // streams: mean time between data events; 0 with fewer than two
	err     error
}

var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 8<<10) }}

// do sends one request and reads the whole answer; from is the time the
// request counts from.
func (t *Target) do(ctx context.Context, body []byte, stream bool, from time.Time) sample {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(body))
	if err != nil {
		return sample{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	if t.Key != "" {
		req.Header.Set("Authorization", "Bearer "+t.Key)
	}
	resp, err := t.Client.Do(req)
	if err != nil {
		return sample{err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return sample{err: fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(msg))}
	}
	if !stream {
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return sample{err: err}
		}
		return sample{latency: time.Since(from)}
	}

	br := readers.Get().(*bufio.Reader)
	br.Reset(resp.Body)
	defer func() { br.Reset(nil); readers.Put(br) }()
	var s sample
	var first, last time.Time
	events, done := 0, false
	for {
		line, err := br.ReadSlice('\n')
		if bytes.HasPrefix(line, []byte("data:")) {
			now := time.Now()
			if events == 0 {
				first = now
				s.ttfb = now.Sub(from)
			}
			last = now
			events++
			if bytes.Equal(bytes.TrimSpace(line[5:]), []byte("[DONE]")) {
				done = true
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue // a long line: its start was seen above
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return sample{err: err}
		}
	}
	if !done {
		return sample{err: errors.New("stream ended without data: [DONE]")}
	}
	s.latency = time.Since(from)
	if events > 1 {
		s.gap = last.Sub(first) / time.Duration(events-1)
	}
	return s
}

// outcome is one run's samples and timing.
type outcome struct {
	planned  int
	samples  []sample
	lags     []time.Duration // open loop: how late each request left
	elapsed  time.Duration   // from the first send until the last answer
	duration time.Duration   // the sending period
}

// openLoop sends rate requests per second for d, each on its own goroutine at
// its planned time whether or not earlier ones have been answered, so a slow
// target cannot slow the load down (no coordinated omission); each latency is
// measured from the planned send time, so time a request spent waiting for
// the scheduler or for a connection counts. It plans floor(rate·d) requests
// and sends them all unless ctx ends first.
func openLoop(ctx context.Context, t *Target, body []byte, stream bool, rate float64, d time.Duration) outcome {
	n := int(rate * d.Seconds())
	o := outcome{planned: n, samples: make([]sample, 0, n), lags: make([]time.Duration, 0, n), duration: d}
	results := make([]sample, n)
	var wg sync.WaitGroup
	start := time.Now()
	sent := 0
	for i := range n {
		due := start.Add(time.Duration(float64(i) * float64(time.Second) / rate))
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		if ctx.Err() != nil {
			break
		}
		o.lags = append(o.lags, time.Since(due))
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = t.do(ctx, body, stream, due)
		}()
		sent++
	}
	wg.Wait()
	o.elapsed = time.Since(start)
	o.samples = append(o.samples, results[:sent]...)
	return o
}

// closedLoop runs concurrency workers that each send a request, read the
// answer and send the next, for d; it measures the most the target answers
// rather than latency at a given load.
func closedLoop(ctx context.Context, t *Target, body []byte, stream bool, concurrency int, d time.Duration) outcome {
	per := make([][]sample, concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(stop) {
				per[w] = append(per[w], t.do(ctx, body, stream, time.Now()))
			}
		}()
	}
	wg.Wait()
	o := outcome{elapsed: time.Since(start), duration: d}
	for _, s := range per {
		o.samples = append(o.samples, s...)
	}
	o.planned = len(o.samples)
	return o
}

// side summarises an outcome for the report.
func (o outcome) side(target string, stream bool) Side {
	s := Side{Target: target, Planned: o.planned, Sent: len(o.samples)}
	lat := make([]time.Duration, 0, len(o.samples))
	var ttfb []time.Duration
	var gaps time.Duration
	seen := map[string]bool{}
	for _, r := range o.samples {
		if r.err != nil {
			s.Errors++
			msg := r.err.Error()
			if len(s.ErrorSamples) < 3 && !seen[msg] {
				seen[msg] = true
				s.ErrorSamples = append(s.ErrorSamples, msg)
			}
			continue
		}
		s.OK++
		lat = append(lat, r.latency)
		if stream {
			ttfb = append(ttfb, r.ttfb)
			gaps += r.gap
		}
	}
	if o.duration > 0 {
		s.SentRPS = round3(float64(s.Sent) / o.duration.Seconds())
	}
	if o.elapsed > 0 {
		s.AchievedRPS = round3(float64(s.OK) / o.elapsed.Seconds())
	}
	s.Latency = Summarize(lat)
	if stream && len(ttfb) > 0 {
		l := Summarize(ttfb)
		s.TTFB = &l
		s.InterChunkMs = ms(gaps / time.Duration(len(ttfb)))
	}
	if len(o.lags) > 0 {
		s.ScheduleLagP99Ms = Summarize(o.lags).P99
	}
	return s
}

// errorSummary is a short description of a side's errors for the table.
func errorSummary(s Side) string {
	if s.Errors == 0 {
		return ""
	}
	return fmt.Sprintf("%s: %d errors: %s", s.Target, s.Errors, strings.Join(s.ErrorSamples, " | "))
}
