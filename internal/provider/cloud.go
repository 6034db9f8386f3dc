package provider

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/wire/bedrock"
)

// setupDialect prepares the provider types that do not speak OpenAI: their
// dialect and, for the cloud ones, how their requests are authenticated.
//
//   - anthropic: the Messages API; keys go in x-api-key (see setKey).
//   - gemini: the Gemini API; keys go in x-goog-api-key.
//   - vertex: Vertex AI; api_keys are used as OAuth access tokens when given,
//     otherwise tokens come from credentials_file (a service account key) or
//     Application Default Credentials, refreshed before they expire.
//   - bedrock: Converse; requests are SigV4-signed with the aws credentials,
//     or carry a Bedrock API key as a Bearer token.
func (p *Provider) setupDialect(c config.Provider) error {
	switch c.Type {
	case "anthropic":
		p.Dialect = DialectAnthropic
	case "gemini":
		p.Dialect = DialectGemini
		p.auth = func(req *http.Request, _ []byte, key int) error {
			if key >= 0 {
				req.Header.Set("X-Goog-Api-Key", p.keys[key])
			}
			return nil
		}
	case "vertex":
		p.Dialect = DialectGemini
		if len(c.APIKeys) > 0 {
			p.auth = func(req *http.Request, _ []byte, key int) error {
				req.Header.Set("Authorization", "Bearer "+p.keys[key])
				return nil
			}
			return nil
		}
		ts, err := googleTokens(c.CredentialsFile)
		if err != nil {
			return err
		}
		p.auth = func(req *http.Request, _ []byte, _ int) error {
			tok, err := ts.Token()
			if err != nil {
				return fmt.Errorf("vertex: get an access token: %w", err)
			}
			req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
			return nil
		}
	case "bedrock":
		p.Dialect = DialectBedrock
		if c.AWS.AccessKeyID == "" {
			p.auth = func(req *http.Request, _ []byte, key int) error {
				req.Header.Set("Authorization", "Bearer "+p.keys[key])
				return nil
			}
			return nil
		}
		creds := bedrock.Credentials{AccessKeyID: c.AWS.AccessKeyID, SecretAccessKey: c.AWS.SecretAccessKey, SessionToken: c.AWS.SessionToken}
		region := c.Region
		p.auth = func(req *http.Request, body []byte, _ int) error {
			return bedrock.Sign(req, body, creds, region, time.Now())
		}
	}
	return nil
}

// googleTokens is a refreshing OAuth token source for Vertex AI.
func googleTokens(file string) (oauth2.TokenSource, error) {
	const scope = "https://www.googleapis.com/auth/cloud-platform"
	ctx := context.Background()
	if file == "" {
		creds, err := google.FindDefaultCredentials(ctx, scope)
		if err != nil {
			return nil, fmt.Errorf("vertex: no credentials_file and no Application Default Credentials: %w", err)
		}
		return creds.TokenSource, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("vertex: credentials_file: %w", err)
	}
	creds, err := google.CredentialsFromJSONWithType(ctx, b, google.ServiceAccount, scope)
	if err != nil {
		return nil, fmt.Errorf("vertex: credentials_file %s: %w", file, err)
	}
	return oauth2.ReuseTokenSource(nil, creds.TokenSource), nil
}

// cloudURL is the generate/converse URL of model on a cloud provider.
func (p *Provider) cloudURL(model string, stream bool) string {
	switch p.Type {
	case "bedrock":
		op := "/converse"
		if stream {
			op = "/converse-stream"
		}
		return p.base + "/model/" + url.PathEscape(model) + op
	case "vertex":
		base := p.base + "/v1/projects/" + url.PathEscape(p.cfg.Project) + "/locations/" + url.PathEscape(p.cfg.Region) +
			"/publishers/google/models/" + url.PathEscape(model)
		return base + geminiMethod(stream)
	}
	return p.base + "/v1beta/models/" + url.PathEscape(strings.TrimPrefix(model, "models/")) + geminiMethod(stream)
}

func geminiMethod(stream bool) string {
	if stream {
		return ":streamGenerateContent?alt=sse"
	}
	return ":generateContent"
}
