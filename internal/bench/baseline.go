package bench

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/switchboard-gw/switchboard/internal/h1"
)

// NewBaseline returns the floor a gateway is measured against: a bare
// forwarding proxy on net/http's server, with no auth, limits, scanning,
// usage, logs or metrics. It reads the body whole, sends it to upstream
// (a base URL such as http://127.0.0.1:9090) with the upstream key, and
// copies the answer back, flushing each read so streams are not held. With
// netHTTP it sends with net/http's Transport instead of the gateway's h1
// client. What Switchboard costs above this row is the cost of its
// features; what this row costs is Go's HTTP stack on the machine.
func NewBaseline(upstream string, netHTTP bool) http.Handler {
	var rt http.RoundTripper = &h1.Transport{MaxIdlePerHost: 1024}
	if netHTTP {
		rt = &http.Transport{MaxIdleConnsPerHost: 1024, DisableCompression: true}
	}
	upstream = strings.TrimRight(upstream, "/")
	bufs := sync.Pool{New: func() any { return new(bytes.Buffer) }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in := bufs.Get().(*bytes.Buffer)
		in.Reset()
		defer bufs.Put(in)
		if _, err := in.ReadFrom(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body := in.Bytes()
		req, err := http.NewRequestWithContext(r.Context(), r.Method, upstream+r.URL.RequestURI(), h1.NewBytes(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return h1.NewBytes(body), nil }
		req.Header["Authorization"] = upstreamAuth
		req.Header["Content-Type"] = r.Header["Content-Type"]
		resp, err := rt.RoundTrip(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		h := w.Header()
		h["Content-Type"] = resp.Header["Content-Type"]
		if resp.ContentLength >= 0 {
			h["Content-Length"] = resp.Header["Content-Length"]
		}
		w.WriteHeader(resp.StatusCode)
		buf := in.AvailableBuffer()[:0]
		if cap(buf) < 32<<10 {
			buf = make([]byte, 32<<10)
		}
		buf = buf[:cap(buf)]
		flusher, _ := w.(http.Flusher)
		for {
			n, err := resp.Body.Read(buf)
			if n > 0 {
				if _, werr := w.Write(buf[:n]); werr != nil {
					return
				}
				if resp.ContentLength < 0 && flusher != nil {
					flusher.Flush()
				}
			}
			if err != nil {
				return
			}
		}
	})
}

var upstreamAuth = []string{"Bearer " + UpstreamKey}
