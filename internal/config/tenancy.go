package config

import (
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Defaults of the tenancy sections.
const (
	DefaultBudgetPeriod   = "monthly"
	DefaultKeyCacheTTL    = 5 * time.Second
	DefaultUsageBatch     = 500
	DefaultUsageFlush     = 50 * time.Millisecond
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
	if c.Cache.TTL == 0 {
		c.Cache.TTL = Duration(time.Hour)
	}
	if c.Cache.MaxBytes == 0 {
		c.Cache.MaxBytes = 256 << 20
	}
	for i := range c.Hooks {
		if c.Hooks[i].Timeout == 0 {
			c.Hooks[i].Timeout = Duration(2 * time.Second)
		}
		c.Hooks[i].Stage = strings.ToLower(c.Hooks[i].Stage)
	}
	fillPII := func(p *Policy) {
		for i := range p.PII.Rules {
			if p.PII.Rules[i].Action == "" {
				p.PII.Rules[i].Action = "redact"
			}
		}
	}
	fillPII(&c.Policy)
	for i := range c.Policies {
		fillPII(&c.Policies[i])
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
	v.policies(c)
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

// BuiltinPII are the detectors a PII rule may name without a pattern.
var BuiltinPII = []string{"ssn", "email", "phone", "credit_card", "iban", "ip"}

func (v *validator) policies(c *Config) {
	hooks := map[string]bool{}
	for i, h := range c.Hooks {
		at := fmt.Sprintf("hooks[%d]", i)
		if h.Name == "" {
			v.errorf(at+".name", "required")
		} else if hooks[h.Name] {
			v.errorf(at+".name", "duplicate hook name %q", h.Name)
		}
		hooks[h.Name] = true
		v.absURL(at+".url", h.URL)
		if h.Stage != "pre" && h.Stage != "post" {
			v.errorf(at+".stage", "%s is not a stage: use pre (before the request goes upstream) or post (after the answer)", v.show(at+".stage", h.Stage))
		}
	}
	check := func(at string, p Policy) {
		for i, r := range p.PII.Rules {
			rat := fmt.Sprintf("%s.pii.rules[%d]", at, i)
			switch {
			case r.Name == "":
				v.errorf(rat+".name", "required: a built-in detector (%s) or a name for a custom pattern", strings.Join(BuiltinPII, ", "))
			case r.Pattern == "" && !slices.Contains(BuiltinPII, r.Name):
				v.errorf(rat+".name", "%q is not a built-in detector (%s): give a pattern for a custom rule", r.Name, strings.Join(BuiltinPII, ", "))
			case r.Pattern != "":
				if _, err := regexp.Compile(r.Pattern); err != nil {
					v.errorf(rat+".pattern", "not a valid regular expression: %v", err)
				}
			}
			if !slices.Contains([]string{"redact", "block", "log"}, r.Action) {
				v.errorf(rat+".action", "%s is not an action: use redact, block or log", v.show(rat+".action", r.Action))
			}
		}
		for i, h := range p.Hooks {
			if !hooks[h] {
				v.errorf(fmt.Sprintf("%s.hooks[%d]", at, i), "unknown hook %q: hooks names the entries of the hooks section", h)
			}
		}
	}
	check("policy", c.Policy)
	names := map[string]bool{}
	for i, p := range c.Policies {
		at := fmt.Sprintf("policies[%d]", i)
		if p.Name == "" {
			v.errorf(at+".name", "required (keys and teams choose a policy by name)")
		} else if names[p.Name] {
			v.errorf(at+".name", "duplicate policy name %q", p.Name)
		}
		names[p.Name] = true
		check(at, p)
	}
	for i, k := range c.Keys {
		if k.Policy != "" && !names[k.Policy] {
			v.errorf(fmt.Sprintf("keys[%d].policy", i), "unknown policy %q: it names an entry of policies", k.Policy)
		}
	}
	for i, t := range c.Teams {
		if t.Policy != "" && !names[t.Policy] {
			v.errorf(fmt.Sprintf("teams[%d].policy", i), "unknown policy %q: it names an entry of policies", t.Policy)
		}
	}
}
