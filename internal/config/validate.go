package config

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// validator collects problems with positions taken from the decoder's field
// table; with no table (Default) positions are simply absent.
type validator struct {
	fields   map[string]fieldInfo
	problems []Problem
}

// errorf records "path: message" at path's position, or at the nearest
// enclosing value that was written when path itself was not.
func (v *validator) errorf(path, format string, args ...any) {
	p := Problem{Path: path, Message: path + ": " + fmt.Sprintf(format, args...)}
	for at := path; ; {
		if f, ok := v.fields[at]; ok && f.line > 0 {
			p.Line, p.Column = f.line, f.col
			break
		}
		i := strings.LastIndexAny(at, ".[")
		if i < 0 {
			break
		}
		at = at[:i]
	}
	v.problems = append(v.problems, p)
}

// show quotes value for a message unless it came from the environment.
func (v *validator) show(path, value string) string {
	return showValue(v.fields[path], value)
}

// fromEnv returns " (from ${A})" when path was expanded from variables, to
// point the user at the variable instead of the file.
func (v *validator) fromEnv(path string) string {
	if f := v.fields[path]; len(f.vars) > 0 {
		return " (after expanding " + dollarList(f.vars) + ")"
	}
	return ""
}

var (
	supportedTypes = []string{TypeOpenAI, TypeAzure, TypeAnthropic, TypeGemini, TypeVertex, TypeBedrock, TypeSimulator}
)

func validate(c *Config, fields map[string]fieldInfo) []Problem {
	v := &validator{fields: fields}
	v.server(c)
	v.store(c)
	v.log(c)
	providers := v.providers(c)
	v.models(c, providers)
	v.keys(c)
	v.tenancy(c)
	v.routing(c)
	v.rules(c)
	return v.problems
}

func (v *validator) server(c *Config) {
	switch c.Server.HTTPServer {
	case "", HTTPClientAuto, HTTPClientNetHTTP:
	default:
		v.errorf("server.http_server", "unknown server %q; use %q (default) or %q", c.Server.HTTPServer, HTTPClientAuto, HTTPClientNetHTTP)
	}
	if _, _, err := net.SplitHostPort(c.Server.Listen); err != nil {
		v.errorf("server.listen", "%s is not host:port, e.g. \"127.0.0.1:8080\" or \":8080\"", v.show("server.listen", c.Server.Listen))
	}
	tls := c.Server.TLS
	if (tls.CertFile == "") != (tls.KeyFile == "") {
		v.errorf("server.tls", "cert_file and key_file must be set together")
	}
	if tls.ClientCAFile != "" && (tls.CertFile == "" || tls.KeyFile == "") {
		v.errorf("server.tls.client_ca_file", "mTLS also needs cert_file and key_file")
	}
	if c.Server.MaxBodyBytes <= 0 {
		v.errorf("server.max_body_bytes", "must be positive")
	}
	if c.Server.MaxInFlightBytes < c.Server.MaxBodyBytes {
		v.errorf("server.max_in_flight_bytes", "must be at least server.max_body_bytes (%s), or no request of the largest allowed size could ever be served", c.Server.MaxBodyBytes)
	}
}

func (v *validator) store(c *Config) {
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if c.Store.DSN == "" {
			v.errorf("store.dsn", "required for driver postgres, e.g. postgres://user@host/db")
		}
	default:
		v.errorf("store.driver", "unknown driver %s (want sqlite or postgres)", v.show("store.driver", c.Store.Driver))
	}
	// The URL may hold a password, so it is never quoted.
	if u := c.Redis.URL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || !slices.Contains([]string{"redis", "rediss", "unix"}, pu.Scheme) {
			v.errorf("redis.url", "want a redis://host:6379, rediss://... or unix:///path URL%s", v.fromEnv("redis.url"))
		}
	}
}

func (v *validator) log(c *Config) {
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		v.errorf("log.level", "unknown level %s (want debug, info, warn or error)", v.show("log.level", c.Log.Level))
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		v.errorf("log.format", "unknown format %s (want text or json)", v.show("log.format", c.Log.Format))
	}
}

// providers validates c.Providers and returns the index of each valid name.
func (v *validator) providers(c *Config) map[string]int {
	byName := map[string]int{}
	for i, p := range c.Providers {
		at := fmt.Sprintf("providers[%d]", i)
		switch {
		case p.Name == "":
			v.errorf(at+".name", "required")
		case strings.ContainsAny(p.Name, "/ \t"):
			v.errorf(at+".name", "%s must not contain \"/\" or spaces (clients send provider/model)", v.show(at+".name", p.Name))
		default:
			if j, dup := byName[p.Name]; dup {
				v.errorf(at+".name", "duplicate provider name %s (also providers[%d])", v.show(at+".name", p.Name), j)
			} else {
				byName[p.Name] = i
			}
		}

		switch {
		case p.Type == "":
			v.errorf(at+".type", "required (one of %s, or a preset: %s)", strings.Join(supportedTypes, ", "), presetList())
		case PresetURLs[p.Type] != "":
		case !slices.Contains(supportedTypes, p.Type):
			v.errorf(at+".type", "unknown provider type %s (want %s, or a preset: %s)", v.show(at+".type", p.Type), strings.Join(supportedTypes, ", "), presetList())
		}

		switch {
		case p.BaseURL != "":
			u, err := url.Parse(p.BaseURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.errorf(at+".base_url", "%s is not an absolute http(s) URL", v.show(at+".base_url", p.BaseURL))
			}
		case p.Type == TypeOpenAI:
			v.errorf(at+".base_url", "required for type openai, e.g. https://api.openai.com/v1%s", v.fromEnv(at+".base_url"))
		case p.Type == TypeAzure:
			v.errorf(at+".base_url", "required for type azure, e.g. https://my-resource.openai.azure.com%s", v.fromEnv(at+".base_url"))
		}

		if p.APIVersion != "" && p.Type != TypeAzure {
			v.errorf(at+".api_version", "only used by azure providers")
		}
		for j, k := range p.APIKeys {
			if k == "" {
				kp := fmt.Sprintf("%s.api_keys[%d]", at, j)
				v.errorf(kp, "empty API key%s", v.fromEnv(kp))
			}
		}
		switch p.Type {
		case TypeVertex:
			if p.Project == "" {
				v.errorf(at+".project", "required for type vertex (the Google Cloud project id)")
			}
			if p.Region == "" && p.BaseURL == "" {
				v.errorf(at+".region", "required for type vertex (the location, e.g. us-central1)")
			}
		case TypeBedrock:
			if p.Region == "" && p.BaseURL == "" {
				v.errorf(at+".region", "required for type bedrock (the AWS region, e.g. us-east-1)")
			}
			if (p.AWS.AccessKeyID == "") != (p.AWS.SecretAccessKey == "") {
				v.errorf(at+".aws", "access_key_id and secret_access_key go together")
			}
			if p.AWS.AccessKeyID == "" && len(p.APIKeys) == 0 {
				v.errorf(at+".aws", "bedrock needs credentials: aws.access_key_id and aws.secret_access_key, or a Bedrock API key in api_keys")
			}
		default:
			if p.Region != "" || p.Project != "" || p.CredentialsFile != "" || p.AWS != (AWSCredentials{}) {
				v.errorf(at, "region, project, credentials_file and aws are only used by vertex and bedrock providers")
			}
		}
		if p.DefaultMaxTokens < 0 {
			v.errorf(at+".default_max_tokens", "must not be negative")
		}
		if p.Faults != "" && p.Type != TypeSimulator {
			v.errorf(at+".faults", "only allowed on simulator providers (this one is %s)", p.Type)
		}
		switch p.HTTPClient {
		case "", HTTPClientAuto, HTTPClientNetHTTP:
		default:
			v.errorf(at+".http_client", "unknown client %q; use %q (default) or %q", p.HTTPClient, HTTPClientAuto, HTTPClientNetHTTP)
		}
		if p.MaxConcurrency < 0 {
			v.errorf(at+".max_concurrency", "must not be negative (0 means unlimited)")
		}
		t := p.Timeouts
		if t.FirstByte > t.Total {
			v.errorf(at+".timeouts.first_byte", "%s is longer than total %s", t.FirstByte, t.Total)
		}
		if t.Connect > t.Total {
			v.errorf(at+".timeouts.connect", "%s is longer than total %s", t.Connect, t.Total)
		}
		for j, name := range p.ExtraParams {
			if strings.TrimSpace(name) == "" {
				v.errorf(fmt.Sprintf("%s.extra_params[%d]", at, j), "empty parameter name")
			}
		}
		for _, name := range slices.Sorted(maps.Keys(p.Headers)) {
			val := p.Headers[name]
			hp := at + ".headers." + name
			if !httpguts.ValidHeaderFieldName(name) {
				v.errorf(hp, "%q is not a valid HTTP header name", name)
			}
			if strings.ContainsAny(val, "\r\n\x00") {
				v.errorf(hp, "header value must not contain line breaks%s", v.fromEnv(hp))
			}
		}
	}
	return byName
}

func (v *validator) models(c *Config, providers map[string]int) {
	names := map[string]int{}
	for i, m := range c.Models {
		at := fmt.Sprintf("models[%d]", i)
		if m.Name == "" {
			v.errorf(at+".name", "required")
		} else if j, dup := names[m.Name]; dup {
			v.errorf(at+".name", "duplicate model name %s (also models[%d])", v.show(at+".name", m.Name), j)
		} else {
			names[m.Name] = i
		}
	}
	configured := strings.Join(slices.Sorted(maps.Keys(providers)), ", ")
	for i, m := range c.Models {
		at := fmt.Sprintf("models[%d]", i)
		if len(m.Targets) == 0 {
			v.errorf(at+".targets", "at least one target is required, e.g. [{provider: openai, model: gpt-4o}]")
		}
		positive := false
		for j, t := range m.Targets {
			tp := fmt.Sprintf("%s.targets[%d]", at, j)
			if t.Provider == "" {
				v.errorf(tp+".provider", "required")
			} else if _, ok := providers[t.Provider]; !ok {
				v.errorf(tp+".provider", "unknown provider %s (configured: %s)", v.show(tp+".provider", t.Provider), configured)
			}
			if t.Weight < 0 {
				v.errorf(tp+".weight", "must not be negative")
			}
			if t.Weight > 0 {
				positive = true
			}
		}
		if len(m.Targets) > 0 && !positive {
			v.errorf(at+".targets", "every weight is 0; at least one target needs weight > 0")
		}
		switch m.Strategy {
		case "weighted", "least_inflight", "latency":
		default:
			v.errorf(at+".strategy", "unknown strategy %s: use weighted, least_inflight or latency", v.show(at+".strategy", m.Strategy))
		}
		switch m.Sticky {
		case "", "user", "key":
		default:
			v.errorf(at+".sticky", "unknown sticky %s: use user or key, or leave it out", v.show(at+".sticky", m.Sticky))
		}
		v.shape(at+".shape", m.Shape)
		if m.Retries < 0 {
			v.errorf(at+".retries", "must not be negative (0 turns retries off)")
		}
		for j, cl := range m.FallbackOn {
			if !slices.Contains(FailureClasses, cl) {
				v.errorf(fmt.Sprintf("%s.fallback_on[%d]", at, j), "unknown failure class %s: use %s", v.show(fmt.Sprintf("%s.fallback_on[%d]", at, j), cl), strings.Join(FailureClasses, ", "))
			}
		}
		for j, f := range m.Fallbacks {
			fp := fmt.Sprintf("%s.fallbacks[%d]", at, j)
			switch _, ok := names[f]; {
			case f == m.Name:
				v.errorf(fp, "model %s cannot fall back to itself", v.show(fp, f))
			case !ok:
				v.errorf(fp, "unknown model %s", v.show(fp, f))
			}
		}
	}
}

func (v *validator) keys(c *Config) {
	names := map[string]int{}
	secrets := map[string]int{}
	for i, k := range c.Keys {
		at := fmt.Sprintf("keys[%d]", i)
		if k.Name == "" {
			v.errorf(at+".name", "required")
		} else if j, dup := names[k.Name]; dup {
			v.errorf(at+".name", "duplicate key name %s (also keys[%d])", v.show(at+".name", k.Name), j)
		} else {
			names[k.Name] = i
		}
		// Never quote the secret itself.
		if k.Key == "" {
			v.errorf(at+".key", "required, non-empty%s", v.fromEnv(at+".key"))
		} else if j, dup := secrets[k.Key]; dup {
			v.errorf(at+".key", "same key value as keys[%d]%s", j, v.fromEnv(at+".key"))
		} else {
			secrets[k.Key] = i
		}
		for j, m := range k.Models {
			if m == "" {
				v.errorf(fmt.Sprintf("%s.models[%d]", at, j), "empty model name")
			}
		}
		v.shape(at+".shape", k.Shape)
		v.rateLimits(at, RateLimits{RPM: k.RPM, TPM: k.TPM, MaxParallel: k.MaxParallel})
		v.budget(at+".budget", k.Budget)
		v.endpoints(at+".endpoints", k.Endpoints)
	}
}

func (v *validator) routing(c *Config) {
	r := c.Routing
	if r.RetryBudget < 0 || r.RetryBudget > 1 {
		v.errorf("routing.retry_budget", "must be between 0 and 1 (1 lets retries at most double the upstream load)")
	}
	if r.BackoffBase > r.BackoffMax {
		v.errorf("routing.backoff_base", "must not exceed routing.backoff_max")
	}
	b := r.Breaker
	if b.FailureRate <= 0 || b.FailureRate > 1 {
		v.errorf("routing.breaker.failure_rate", "must be in (0, 1], e.g. 0.5")
	}
	if b.MinRequests < 1 {
		v.errorf("routing.breaker.min_requests", "must be at least 1")
	}
	if b.Probes < 1 {
		v.errorf("routing.breaker.probes", "must be at least 1")
	}
}

func (v *validator) shape(at string, s Shape) {
	if s.DefaultMaxTokens < 0 || s.MaxTokens < 0 || s.MaxTemperature < 0 {
		v.errorf(at, "values must not be negative (0 means no bound)")
	}
}

func (v *validator) rules(c *Config) {
	models := make(map[string]bool, len(c.Models))
	for _, m := range c.Models {
		models[m.Name] = true
	}
	for i, r := range c.Rules {
		at := fmt.Sprintf("rules[%d]", i)
		if r.Name == "" {
			v.errorf(at+".name", "required (it is shown in x-switchboard-rule and logs)")
		}
		if !models[r.Model] {
			v.errorf(at+".model", "must name a configured model, got %s", v.show(at+".model", r.Model))
		}
		m := r.Match
		if len(m.Models)+len(m.Tags)+len(m.Keys)+len(m.Teams)+len(m.Metadata) == 0 {
			v.errorf(at+".match", "needs at least one condition (models, tags, keys, teams or metadata)")
		}
	}
}

func presetList() string {
	return strings.Join(slices.Sorted(maps.Keys(PresetURLs)), ", ")
}
