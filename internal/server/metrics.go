package server

import (
	"github.com/switchboard-gw/switchboard/internal/telemetry"
)

// gatewayCodes are the error codes the gateway itself gives; they are
// bounded, so they may be metric labels. Codes passed on from upstreams are
// not: they count as "upstream".
var gatewayCodes = map[string]bool{
	"admin_only": true, "bad_upstream_response": true, "budget_exceeded": true, "endpoint_not_allowed": true,
	"idempotency_key_reused": true, "internal_error": true, "invalid_api_key": true, "invalid_json": true,
	"jwks_unavailable": true, "method_not_allowed": true, "model_not_allowed": true, "model_not_found": true,
	"no_healthy_deployment": true, "rate_limit_exceeded": true, "tokens_rate_limit_exceeded": true,
	"concurrency_limit_exceeded": true, "request_too_large": true, "store_unavailable": true,
	"upstream_timeout": true, "upstream_stream_error": true, "unknown_url": true, "unknown_parameter": true,
	"invalid_request_error": true, "server_error": true, "permission_error": true, "upstream_error": true,
}

// metricClass is the error_class label of a finished request.
func metricClass(x *exchange) string {
	switch {
	case x.errClass == "" && x.status < 400:
		return ""
	case x.status == statusClientClosed:
		return "client_closed"
	case gatewayCodes[x.errClass]:
		return x.errClass
	}
	return "upstream"
}

// metricModel is the model label: the configured model that served the
// request, or "" (shown as unknown) for names that were not found, which
// anyone can invent.
func (x *exchange) metricModel() string { return x.modelLabel }

// circuits reports each deployment's breaker for the circuit_state gauge.
func (s *Server) circuits() []telemetry.Circuit {
	snap := s.health.Snapshot()
	out := make([]telemetry.Circuit, 0, len(snap))
	for _, d := range snap {
		st := 0
		switch d.State {
		case "half_open":
			st = 1
		case "open":
			st = 2
		}
		out = append(out, telemetry.Circuit{Provider: d.Provider, Model: d.Model, State: st})
	}
	return out
}
