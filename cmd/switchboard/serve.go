package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchboard-gw/switchboard/internal/config"
	"github.com/switchboard-gw/switchboard/internal/emulator"
	"github.com/switchboard-gw/switchboard/internal/h1"
	"github.com/switchboard-gw/switchboard/internal/server"
	"github.com/switchboard-gw/switchboard/internal/store"
	"github.com/switchboard-gw/switchboard/internal/telemetry"
)

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFlag := fs.String("config", "", "config file (default $SWITCHBOARD_CONFIG, else ./switchboard.yaml, else built-in defaults)")
	listenFlag := fs.String("listen", "", "address to listen on, overriding server.listen")
	if err := fs.Parse(args); err != nil {
		return err
	}
	path := config.Resolve(*configFlag)
	cfg := config.Default()
	if path != "" {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return err
		}
	}
	override := func(c *config.Config) {
		if *listenFlag != "" {
			c.Server.Listen = *listenFlag
		}
	}
	override(cfg)
	// The request log is a line per request: batch the writes (lines reach
	// stderr within telemetry.FlushInterval, and all of them on exit).
	logOut := telemetry.NewBufferedWriter(stderr)
	defer logOut.Close()
	logger := newLogger(cfg.Log, logOut)
	if err := checkExposure(cfg); err != nil {
		return err
	}

	octx, cancelOpen := context.WithTimeout(ctx, 30*time.Second)
	st, err := store.Open(octx, cfg.Store.Driver, cfg.Store.DSN)
	cancelOpen()
	if err != nil {
		return fmt.Errorf("store (%s): %w", cfg.Store.Driver, err)
	}
	defer st.Close()
	opts := server.Options{Logger: logger, Simulator: simulator, Store: st, Version: buildVersion()}
	if cfg.Log.Format != "json" {
		opts.RequestLog = telemetry.NewLineWriter(logOut) // the same text format, without slog's cost per line
	}
	srv, err := server.New(cfg, opts)
	if err != nil {
		return err
	}
	// Runs before st.Close: queued usage records reach the store (or the
	// spool) once in-flight requests have drained.
	defer func() {
		if err := srv.Close(); err != nil {
			logger.Error("closing the gateway", "error", err)
		}
	}()
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	scheme := "http"
	if cfg.Server.TLS.CertFile != "" {
		if hs.TLSConfig, err = tlsConfig(cfg.Server.TLS); err != nil {
			return err
		}
		scheme = "https"
	}
	source := path
	if source == "" {
		source = "built-in defaults"
	}
	if addr := os.Getenv("SWITCHBOARD_PPROF"); addr != "" {
		// Profiling on a separate listener the operator chose (loopback, as
		// a rule): never on the gateway's own port.
		go func() {
			mux := http.NewServeMux()
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
			mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
			logger.Info("pprof listening", "addr", addr)
			if err := http.ListenAndServe(addr, mux); err != nil {
				logger.Error("pprof listener", "error", err)
			}
		}()
	}
	logger.Info("switchboard listening", "url", scheme+"://"+ln.Addr().String(), "config", source, "version", buildVersion())
	if srv.Open() {
		logger.Warn("no keys and no admin key configured: the gateway accepts every caller on this loopback address")
	}

	if path != "" {
		listen := cfg.Server.Listen
		w := config.NewWatcher(path, logger, func(c *config.Config) error {
			override(c)
			if c.Store != cfg.Store || c.Redis != cfg.Redis {
				logger.Warn("store and redis changes take effect after a restart")
			}
			if c.Server.Listen != listen {
				logger.Warn("server.listen changed; the new address takes effect after a restart", "listening", listen, "configured", c.Server.Listen)
			}
			if err := checkExposure(c); err != nil {
				return err
			}
			return srv.Apply(c)
		})
		go w.Run(ctx)
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		go func() {
			for {
				select {
				case <-hup:
					if err := w.Reload(); err == nil {
						logger.Info("config reloaded on SIGHUP", "path", path)
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	// Plaintext HTTP/1.x goes to the gateway's own server unless configured
	// otherwise; TLS (and with it HTTP/2) stays on net/http.
	var server interface {
		Shutdown(context.Context) error
	} = hs
	errc := make(chan error, 1)
	switch {
	case hs.TLSConfig != nil:
		go func() { errc <- hs.ServeTLS(ln, "", "") }()
	case cfg.Server.HTTPServer == config.HTTPClientNetHTTP:
		go func() { errc <- hs.Serve(ln) }()
	default:
		h := &h1.Server{Handler: srv, ReadHeaderTimeout: hs.ReadHeaderTimeout, IdleTimeout: hs.IdleTimeout, ErrorLog: logger}
		server = h
		go func() { errc <- h.Serve(ln) }()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Drain: fail readiness, stop accepting, let in-flight requests finish.
	srv.SetDraining()
	grace := cfg.Server.ShutdownTimeout.D()
	logger.Info("shutting down: draining in-flight requests", "timeout", grace)
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := server.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// simulator builds the in-process upstream of simulator providers: the same
// emulator as mock-upstream, speaking the OpenAI dialect.
func simulator(faults string) (http.Handler, error) {
	return emulator.New(emulator.Options{Faults: faults, NoRecord: true, Reply: "Hello from the Switchboard simulator. Configure a real provider in switchboard.yaml to get real answers."})
}

// checkExposure refuses a gateway that anyone on the network could use: on a
// non-loopback address an admin key is required (DESIGN.md §1).
func checkExposure(cfg *config.Config) error {
	if cfg.Admin.Key != "" || isLoopback(cfg.Server.Listen) {
		return nil
	}
	return fmt.Errorf("refusing to listen on %s without an admin key: set admin.key (e.g. \"${SWITCHBOARD_ADMIN_KEY}\") or listen on 127.0.0.1", cfg.Server.Listen)
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func tlsConfig(c config.TLS) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("server.tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("server.tls.client_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("server.tls.client_ca_file: no PEM certificates in %s", c.ClientCAFile)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
