package server

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-gw/switchboard/internal/store"
)

// adminRequests is the request log: GET /admin/v1/requests?key=&key_id=
// &team=&model=&status=&from=&to=&limit=&before=, newest first. status is a
// code (429) or a class (4xx, 5xx); before is the request id of the last
// record of the previous page. Records carry the prompt and answer hashes,
// never text.
func (s *Server) adminRequests(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	q := r.URL.Query()
	rq := store.RequestQuery{KeyID: q.Get("key_id"), KeyName: q.Get("key"), Team: q.Get("team"), Model: q.Get("model"),
		Before: q.Get("before")}
	if st := q.Get("status"); st != "" {
		if c, ok := strings.CutSuffix(strings.ToLower(st), "xx"); ok && len(c) == 1 && c[0] >= '1' && c[0] <= '5' {
			rq.StatusMin = int(c[0]-'0') * 100
			rq.StatusMax = rq.StatusMin + 99
		} else if n, err := strconv.Atoi(st); err == nil && n >= 100 && n <= 599 {
			rq.Status = n
		} else {
			return badRequest("status", fmt.Sprintf("status %q is neither a code such as 429 nor a class such as 5xx", st))
		}
	}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return badRequest("limit", "limit must be a number from 1 to 1000")
		}
		rq.Limit = n
	}
	var err error
	if rq.From, err = parseWhen(q.Get("from")); err != nil {
		return badRequest("from", err.Error())
	}
	if rq.To, err = parseWhen(q.Get("to")); err != nil {
		return badRequest("to", err.Error())
	}
	if err := s.usage.Flush(r.Context()); err != nil {
		s.log.Warn("usage flush before listing requests failed", "error", err)
	}
	recs, err := s.store.ListRequests(r.Context(), rq)
	if errors.Is(err, store.ErrNotFound) {
		return badRequest("before", fmt.Sprintf("no request %q to page from", rq.Before))
	}
	if err != nil {
		return fmt.Errorf("list requests: %w", err)
	}
	data := make([]requestView, len(recs))
	for i := range recs {
		data[i] = requestView{UsageRecord: &recs[i], LatencyMS: ms(recs[i].Latency), TTFTMS: ms(recs[i].TTFT)}
	}
	out := map[string]any{"object": "list", "data": data}
	if n := len(recs); n > 0 && (rq.Limit == 0 && n == 100 || n == rq.Limit) {
		out["next_before"] = recs[n-1].RequestID
	}
	return writeAdmin(x, http.StatusOK, out)
}

// adminRequestText shows the raw text kept for a sampled request
// (privacy.mode: sample, a consenting key), until the purge removes it.
func (s *Server) adminRequestText(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	id := r.PathValue("id")
	t, err := s.store.RequestText(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("text_not_found", fmt.Sprintf("no text is kept for request %q: only sampled requests of consenting keys keep it (privacy.mode: sample), until privacy.retention", id))
	}
	if err != nil {
		return fmt.Errorf("request text: %w", err)
	}
	return writeAdmin(x, http.StatusOK, t)
}

// adminDaily is spend and tokens per day and team or model, for the UI:
// GET /admin/v1/usage/daily?by=team|model&from=&to=.
func (s *Server) adminDaily(x *exchange, r *http.Request) error {
	if err := s.adminStore(x, r); err != nil {
		return err
	}
	q := r.URL.Query()
	by := q.Get("by")
	if by == "" {
		by = "team"
	}
	if by != "team" && by != "model" {
		return badRequest("by", fmt.Sprintf("by %q is not team or model", by))
	}
	from, err := parseWhen(q.Get("from"))
	if err != nil {
		return badRequest("from", err.Error())
	}
	to, err := parseWhen(q.Get("to"))
	if err != nil {
		return badRequest("to", err.Error())
	}
	if err := s.usage.Flush(r.Context()); err != nil {
		s.log.Warn("usage flush before daily usage failed", "error", err)
	}
	rows, err := s.store.DailyUsage(r.Context(), by, from, to)
	if err != nil {
		return fmt.Errorf("daily usage: %w", err)
	}
	if rows == nil {
		rows = []store.DailyRow{}
	}
	return writeAdmin(x, http.StatusOK, map[string]any{"object": "list", "by": by, "data": rows})
}

// requestView is a request log record as the admin API shows it: durations
// in milliseconds.
type requestView struct {
	*store.UsageRecord
	Latency   struct{} `json:"latency_ns,omitzero"` // hidden: shown as latency_ms
	TTFT      struct{} `json:"ttft_ns,omitzero"`
	LatencyMS float64  `json:"latency_ms"`
	TTFTMS    float64  `json:"ttft_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
