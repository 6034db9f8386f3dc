package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/server"
	"github.com/switchboard-gw/switchboard/internal/store"
)

const keysUsage = `Usage:
  switchboard keys create --name NAME [--team T] [--models a,b] [--endpoints /v1/embeddings]
                          [--rpm N] [--tpm N] [--max-parallel N]
                          [--budget-usd X] [--budget-period daily|weekly|monthly] [--expires 720h|RFC3339]
  switchboard keys list
  switchboard keys revoke KEY_ID
  switchboard keys rotate KEY_ID [--grace 1h]

Through the admin API of a running gateway (--url, default the config's
server.listen; --admin-key, default $SWITCHBOARD_ADMIN_KEY), or with --direct
on the store named by the config, without a running gateway.
`

// keysCmd manages virtual keys. Both modes go through the gateway's admin
// handlers, so they validate and answer the same way.
func keysCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return flag.ErrHelp
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, keysUsage) }
	configFlag := fs.String("config", "", "config file (default $SWITCHBOARD_CONFIG, else ./switchboard.yaml, else built-in defaults)")
	urlFlag := fs.String("url", "", "gateway base URL (default http://SERVER.LISTEN from the config)")
	adminKey := fs.String("admin-key", os.Getenv("SWITCHBOARD_ADMIN_KEY"), "admin key (default $SWITCHBOARD_ADMIN_KEY)")
	direct := fs.Bool("direct", false, "work on the config's store directly instead of a running gateway")
	var body map[string]any
	var method, path string
	switch sub {
	case "create":
		name := fs.String("name", "", "key name (required)")
		team := fs.String("team", "", "team")
		models := fs.String("models", "", "comma-separated models the key may use (default all)")
		endpoints := fs.String("endpoints", "", "comma-separated endpoints the key may call (default all)")
		rpm := fs.Int64("rpm", 0, "requests per minute (0 unlimited)")
		tpm := fs.Int64("tpm", 0, "tokens per minute (0 unlimited)")
		par := fs.Int64("max-parallel", 0, "concurrent requests (0 unlimited)")
		usd := fs.Float64("budget-usd", 0, "budget in USD per period (0 none)")
		period := fs.String("budget-period", "monthly", "budget period: daily, weekly, monthly")
		expires := fs.String("expires", "", "expiry: a duration from now (720h) or an RFC 3339 time")
		if err := fs.Parse(args); err != nil {
			return err
		}
		body = map[string]any{"name": *name, "team": *team, "rpm": *rpm, "tpm": *tpm, "max_parallel": *par, "expires_at": *expires}
		if *models != "" {
			body["models"] = strings.Split(*models, ",")
		}
		if *endpoints != "" {
			body["endpoints"] = strings.Split(*endpoints, ",")
		}
		if *usd > 0 {
			body["budget"] = map[string]any{"usd": *usd, "period": *period}
		}
		method, path = http.MethodPost, "/admin/v1/keys"
	case "list":
		if err := fs.Parse(args); err != nil {
			return err
		}
		method, path = http.MethodGet, "/admin/v1/keys"
	case "revoke", "rotate":
		grace := fs.String("grace", "", "rotate: how long the old secret keeps working (default 1h)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			return fmt.Errorf("keys %s needs one KEY_ID (see switchboard keys list)", sub)
		}
		method, path = http.MethodDelete, "/admin/v1/keys/"+fs.Arg(0)
		if sub == "rotate" {
			method, path = http.MethodPost, path+"/rotate"
			if *grace != "" {
				body = map[string]any{"grace_period": *grace}
			}
		}
	default:
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("unknown keys command %q", sub)
	}
	if fs.NArg() > 0 && sub != "revoke" && sub != "rotate" {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var reqBody []byte
	if body != nil {
		var err error
		if reqBody, err = json.Marshal(body); err != nil {
			return err
		}
	}
	cpath := config.Resolve(*configFlag)
	cfg := config.Default()
	if cpath != "" {
		var err error
		if cfg, err = config.Load(cpath); err != nil {
			return err
		}
	}
	var status int
	var out []byte
	var err error
	if *direct {
		status, out, err = adminLocal(ctx, cfg, method, path, reqBody)
	} else {
		base := *urlFlag
		if base == "" {
			base = "http://" + cfg.Server.Listen
		}
		status, out, err = adminRemote(ctx, strings.TrimRight(base, "/"), *adminKey, method, path, reqBody)
	}
	if err != nil {
		return err
	}
	if status >= 300 {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(out, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("%d: %s", status, e.Error.Message)
		}
		return fmt.Errorf("%d: %s", status, bytes.TrimSpace(out))
	}
	if sub == "list" {
		return printKeys(stdout, out)
	}
	v := jsontext.Value(out)
	if err := v.Indent(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(v))
	if sub == "create" || sub == "rotate" {
		fmt.Fprintln(stderr, "The secret (\"key\") is shown only this once: store it now.")
	}
	return nil
}

func adminRemote(ctx context.Context, base, adminKey, method, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if adminKey != "" {
		req.Header.Set("Authorization", "Bearer "+adminKey)
	}
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("reach the gateway at %s (is it running? or use --direct): %w", base, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp.StatusCode, out, err
}

// adminLocal serves one admin request in process, on the config's store.
func adminLocal(ctx context.Context, cfg *config.Config, method, path string, body []byte) (int, []byte, error) {
	st, err := store.Open(ctx, cfg.Store.Driver, cfg.Store.DSN)
	if err != nil {
		return 0, nil, fmt.Errorf("store (%s): %w", cfg.Store.Driver, err)
	}
	defer st.Close()
	srv, err := server.New(cfg, server.Options{Store: st, Simulator: simulator, Logger: discardLogger()})
	if err != nil {
		return 0, nil, err
	}
	req := httptest.NewRequestWithContext(server.LocalAdmin(ctx), method, path, bytes.NewReader(body))
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes(), errors.Join(srv.Close())
}

func printKeys(w io.Writer, out []byte) error {
	var list struct {
		Data []store.Key `json:"data"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return fmt.Errorf("read key list: %w", err)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tTEAM\tSTATE\tCREATED")
	for _, k := range list.Data {
		state := "active"
		switch {
		case !k.RevokedAt.IsZero():
			state = "revoked"
		case !k.ExpiresAt.IsZero() && time.Now().After(k.ExpiresAt):
			state = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s…\t%s\t%s\t%s\n", k.ID, k.Name, k.Prefix, k.Team, state, k.CreatedAt.Format(time.RFC3339))
	}
	return tw.Flush()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
