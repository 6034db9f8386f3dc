package server

import (
	"net/http"
	"strconv"

	"github.com/go-json-experiment/json/jsontext"
)

// listModels answers GET /v1/models in OpenAI's list shape with the model
// names this gateway serves to the caller's key. "provider/model" names are
// accepted too but not listed: they are open-ended.
func (s *Server) listModels(x *exchange, r *http.Request) error {
	rt := x.rt
	key, err := s.caller(x, r)
	if err != nil {
		return err
	}
	created := strconv.FormatInt(rt.loaded.Unix(), 10)
	buf := getBuf()
	defer putBuf(buf)
	b := append((*buf)[:0], `{"object":"list","data":[`...)
	first := true
	for _, name := range rt.table.Names() {
		if !allows(key, name) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"id":`...)
		b, _ = jsontext.AppendQuote(b, name)
		b = append(b, `,"object":"model","created":`...)
		b = append(b, created...)
		b = append(b, `,"owned_by":"switchboard"}`...)
	}
	b = append(b, "]}\n"...)
	*buf = b
	return writeJSON(x, http.StatusOK, b)
}

func (s *Server) healthz(x *exchange, r *http.Request) error {
	return writeJSON(x, http.StatusOK, []byte(`{"status":"ok"}`+"\n"))
}

// readyz fails while the server drains for shutdown, so a load balancer stops
// sending it new requests.
func (s *Server) readyz(x *exchange, r *http.Request) error {
	if s.draining.Load() {
		x.Header().Set("Retry-After", "5")
		return writeJSON(x, http.StatusServiceUnavailable, []byte(`{"status":"draining"}`+"\n"))
	}
	return writeJSON(x, http.StatusOK, []byte(`{"status":"ready"}`+"\n"))
}

func writeJSON(x *exchange, status int, b []byte) error {
	h := x.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	x.WriteHeader(status)
	x.Write(b)
	return nil
}
