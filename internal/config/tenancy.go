package config

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"time"
)

// Defaults of the tenancy sections.
const (
	DefaultBudgetPeriod   = "monthly"
	DefaultKeyCacheTTL    = 5 * time.Second
	DefaultUsageBatch     = 500
	DefaultUsageFlush     = 200 * time.Millisecond
	DefaultJWTTeamClaim   = "team"
	DefaultJWTUserClaim   = "sub"
	DefaultMTLSPrincipal  = "cn"
	DefaultSpoolDirectory = "data/spool"
)

// DefaultThresholds are the budget fractions alerted on when
// budgets.thresholds is absent.
var DefaultThresholds = []float64{0.5, 0.8, 1.0}

// BudgetPeriods are the values budget.period accepts.
var BudgetPeriods = []string{"daily", "weekly", "monthly"}

// Endpoints are the paths a key's endpoints list may name.
var Endpoints = []string{"/v1/chat/completions", "/v1/embeddings", "/v1/messages", "/v1/messages/count_tokens", "/v1/models"}

func fillBudget(b *Budget) {
	if b.Period == "" {
		b.Period = DefaultBudgetPeriod
	}
}

func fillTenancy(c *Config) {
	for i := range c.Keys {
		fillBudget(&c.Keys[i].Budget)
	}
	for i := range c.Teams {
		fillBudget(&c.Teams[i].Budget)
	}
	if c.Budgets.Thresholds == nil {
		c.Budgets.Thresholds = slices.Clone(DefaultThresholds)
	}
	if c.Usage.BatchSize == 0 {
		c.Usage.BatchSize = DefaultUsageBatch
	}
	if c.Usage.ReplayEvery == 0 {
		c.Usage.ReplayEvery = Duration(5 * time.Second)
	}
	if c.Redis.Prefix == "" {
		c.Redis.Prefix = "sb:"
	}
	if c.Usage.FlushEvery == 0 {
		c.Usage.FlushEvery = Duration(DefaultUsageFlush)
	}
	if c.Usage.SpoolDir == "" {
		c.Usage.SpoolDir = DefaultSpoolDirectory
		if c.Store.Driver == "sqlite" {
			c.Usage.SpoolDir = filepath.Join(filepath.Dir(c.Store.DSN), "spool")
		}
	}
	if c.Privacy.Mode == "" {
		c.Privacy.Mode = "hash"
	}
	if c.Privacy.SampleRate == 0 {
		c.Privacy.SampleRate = 0.01
	}
	if c.Privacy.Retention == 0 {
		c.Privacy.Retention = Duration(720 * time.Hour)
	}
	if c.Privacy.PurgeEvery == 0 {
		c.Privacy.PurgeEvery = Duration(time.Hour)
	}
	if c.Tracing.SampleRatio == 0 {
		c.Tracing.SampleRatio = 1
	}
	if c.Auth.KeyCacheTTL == 0 {
		c.Auth.KeyCacheTTL = Duration(DefaultKeyCacheTTL)
	}
	if c.Auth.JWT.TeamClaim == "" {
		c.Auth.JWT.TeamClaim = DefaultJWTTeamClaim
	}
	if c.Auth.JWT.UserClaim == "" {
		c.Auth.JWT.UserClaim = DefaultJWTUserClaim
	}
	if c.Auth.MTLS.Principal == "" {
		c.Auth.MTLS.Principal = DefaultMTLSPrincipal
	}
}

func (v *validator) rateLimits(at string, l RateLimits) {
	if l.RPM < 0 {
		v.errorf(at+".rpm", "must not be negative (0 means unlimited)")
	}
	if l.TPM < 0 {
		v.errorf(at+".tpm", "must not be negative (0 means unlimited)")
	}
	if l.MaxParallel < 0 {
		v.errorf(at+".max_parallel", "must not be negative (0 means unlimited)")
	}
}

func (v *validator) budget(at string, b Budget) {
	if b.USD < 0 {
		v.errorf(at+".usd", "must not be negative (0 means no budget)")
	}
	if !slices.Contains(BudgetPeriods, b.Period) {
		v.errorf(at+".period", "%s is not a budget period: use daily, weekly or monthly", v.show(at+".period", b.Period))
	}
}

func (v *validator) endpoints(at string, eps []string) {
	for i, e := range eps {
		if !slices.Contains(Endpoints, e) {
			v.errorf(fmt.Sprintf("%s[%d]", at, i), "%s is not an endpoint a key can be scoped to: use one of %v", v.show(fmt.Sprintf("%s[%d]", at, i), e), Endpoints)
		}
	}
}

func (v *validator) tenancy(c *Config) {
	names := map[string]int{}
	for i, t := range c.Teams {
		at := fmt.Sprintf("teams[%d]", i)
		if t.Name == "" {
			v.errorf(at+".name", "required")
		} else if j, dup := names[t.Name]; dup {
			v.errorf(at+".name", "duplicate team name %s (also teams[%d])", v.show(at+".name", t.Name), j)
		} else {
			names[t.Name] = i
		}
		v.rateLimits(at, RateLimits{RPM: t.RPM, TPM: t.TPM, MaxParallel: t.MaxParallel})
		v.budget(at+".budget", t.Budget)
	}
	v.rateLimits("limits.user", c.Limits.User)
	models := make(map[string]bool, len(c.Models))
	for _, m := range c.Models {
		models[m.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(c.Limits.Models)) {
		at := "limits.models." + name
		if !models[name] {
			v.errorf(at, "unknown model %q: limits.models names models of the models section", name)
		}
		v.rateLimits(at, c.Limits.Models[name])
	}
	for i, th := range c.Budgets.Thresholds {
		if th <= 0 || th > 10 {
			v.errorf(fmt.Sprintf("budgets.thresholds[%d]", i), "must be a fraction of the budget above 0, e.g. 0.8 for 80%%")
		}
	}
	if u := c.Budgets.WebhookURL; u != "" {
		v.absURL("budgets.webhook_url", u)
	}
	for _, name := range slices.Sorted(maps.Keys(c.Prices)) {
		p := c.Prices[name]
		if p.Input < 0 || p.Output < 0 || p.CachedInput < 0 {
			v.errorf("prices."+name, "prices must not be negative")
		}
	}
	if c.Usage.BatchSize < 0 {
		v.errorf("usage.batch_size", "must be positive")
	}
	modes := []string{"off", "hash", "sample"}
	if !slices.Contains(modes, c.Privacy.Mode) {
		v.errorf("privacy.mode", "%s is not a privacy mode: use off, hash or sample", v.show("privacy.mode", c.Privacy.Mode))
	}
	for i, k := range c.Keys {
		if k.Privacy != "" && !slices.Contains(modes, k.Privacy) {
			at := fmt.Sprintf("keys[%d].privacy", i)
			v.errorf(at, "%s is not a privacy mode: use off, hash or sample", v.show(at, k.Privacy))
		}
	}
	if r := c.Privacy.SampleRate; r < 0 || r > 1 {
		v.errorf("privacy.sample_rate", "must be a fraction between 0 and 1")
	}
	if c.Tracing.Endpoint != "" {
		v.absURL("tracing.endpoint", c.Tracing.Endpoint)
	}
	if r := c.Tracing.SampleRatio; r < 0 || r > 1 {
		v.errorf("tracing.sample_ratio", "must be a fraction between 0 and 1")
	}
	j := c.Auth.JWT
	if j.JWKSURL != "" && j.Key != "" {
		v.errorf("auth.jwt", "set jwks_url or key, not both")
	}
	if j.JWKSURL != "" {
		v.absURL("auth.jwt.jwks_url", j.JWKSURL)
	}
	if p := c.Auth.MTLS.Principal; !slices.Contains([]string{"cn", "dns", "email", "uri"}, p) {
		v.errorf("auth.mtls.principal", "%s is not a certificate field: use cn, dns, email or uri", v.show("auth.mtls.principal", p))
	}
	if len(c.Auth.MTLS.Teams) > 0 && c.Server.TLS.ClientCAFile == "" {
		v.errorf("auth.mtls.teams", "needs server.tls.client_ca_file: without it no client certificate is verified")
	}
}

func (v *validator) absURL(at, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errorf(at, "%s is not an absolute http(s) URL", v.show(at, raw))
	}
}
