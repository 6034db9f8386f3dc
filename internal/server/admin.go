package server

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"slices"

	"github.com/go-json-experiment/json"
	"github.com/switchboard-gw/switchboard/internal/route"
)

// authorizeAdmin lets in the admin key, or everyone in open mode (no keys at
// all, loopback only). With client keys but no admin key the admin API is
// closed.
func (rt *runtime) authorizeAdmin(r *http.Request) error {
	if rt.open || r.Context().Value(localAdminKey{}) != nil {
		return nil
	}
	secret := bearer(r)
	if secret == "" {
		return unauthorized("the admin API needs the admin key: send \"Authorization: Bearer ADMIN_KEY\"")
	}
	h := sha256.Sum256([]byte(secret))
	if rt.hasAdmin && subtle.ConstantTimeCompare(h[:], rt.adminHash[:]) == 1 {
		return nil
	}
	return &Error{Status: http.StatusForbidden, Type: "permission_error", Code: "admin_only",
		Message: "this endpoint needs the admin key (admin.key in the config); client keys cannot use it"}
}

// providerStatus is one provider in GET /admin/v1/providers.
type providerStatus struct {
	Name        string                   `json:"name"`
	Type        string                   `json:"type"`
	Keys        int                      `json:"keys"`
	KeysCooling int                      `json:"keys_cooling"`
	Deployments []route.DeploymentStatus `json:"deployments"`
}

// adminProviders shows each provider's keys and the health of its
// deployments: circuit state, in-flight requests, latency, recent failures.
func (s *Server) adminProviders(x *exchange, r *http.Request) error {
	rt := x.rt
	if err := rt.authorizeAdmin(r); err != nil {
		return err
	}
	byName := make(map[string]*providerStatus, len(rt.cfg.Providers))
	out := make([]*providerStatus, 0, len(rt.cfg.Providers))
	for _, pc := range rt.cfg.Providers {
		p := rt.providers[pc.Name]
		cooling, total := p.KeysCooling()
		ps := &providerStatus{Name: p.Name, Type: p.Type, Keys: total, KeysCooling: cooling, Deployments: []route.DeploymentStatus{}}
		byName[p.Name] = ps
		out = append(out, ps)
	}
	for _, d := range s.health.Snapshot() {
		if ps := byName[d.Provider]; ps != nil {
			ps.Deployments = append(ps.Deployments, d)
		}
	}
	for _, ps := range out {
		slices.SortFunc(ps.Deployments, func(a, b route.DeploymentStatus) int { return cmp.Compare(a.Model, b.Model) })
	}
	b, err := json.Marshal(map[string]any{"providers": out})
	if err != nil {
		return err
	}
	return writeJSON(x, http.StatusOK, append(b, '\n'))
}

type localAdminKey struct{}

// LocalAdmin marks a request built in this process (never one read from the
// network: those cannot carry context values) as the operator's own, for
// `switchboard keys --direct`, which manages keys on the store through the
// same handlers as the admin API without a running gateway.
func LocalAdmin(ctx context.Context) context.Context {
	return context.WithValue(ctx, localAdminKey{}, true)
}
