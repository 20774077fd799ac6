package main

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// setting is one environment variable with its default and meaning.
type setting struct {
	env, def, help string
	secret         bool
}

// settings lists every environment variable Onramp reads (shown by --help
// and in the README).
var settings = []setting{
	{"DATABASE_URL", "postgres://postgres@127.0.0.1:5432/onramp?sslmode=disable", "PostgreSQL (system of record)", true},
	{"REDIS_URL", "redis://127.0.0.1:6379/0", "Redis (event fan-out, rate limits)", true},
	{"TEMPORAL_ADDRESS", "127.0.0.1:7233", "Temporal frontend (serve, worker; dev runs its own)", false},
	{"TEMPORAL_NAMESPACE", "default", "Temporal namespace", false},
	{"ONRAMP_ADDR", ":8080", "HTTP listen address", false},
	{"ONRAMP_BASE_URL", "http://localhost:8080", "public URL of the server: checked at start; not used yet (links in emails and OAuth redirects will be built on it)", false},
	{"ONRAMP_SECRET_KEY", "", "base64 of 32 bytes: signs the device cookies that exempt a rep's known browsers from sign-in lockouts (and will encrypt OAuth tokens); required by serve and worker (dev keeps one in ONRAMP_DATA_DIR)", true},
	{"ONRAMP_TEMPORAL_TIMEOUT", "15s", "deadline of each API call into Temporal; past it the API answers 503", false},
	{"ONRAMP_DB_TIMEOUT", "5s", "deadline of each database call; during an outage the API answers 503 within it", false},
	{"ONRAMP_FEED_RETENTION", "168h", "how long notifications, chat events and onboarding events stay readable for clients that reconnect (older: the client refetches its state); visitor event IDs are deduplicated for as long", false},
	{"ONRAMP_WAIT_ESCALATE", "2m", "a visitor waiting for a rep this long with nobody accepting: the org's admins are notified", false},
	{"ONRAMP_TRUSTED_PROXIES", "", "comma-separated IPs/CIDRs of reverse proxies whose X-Forwarded-For is trusted (rate limits per client)", false},
	{"ONRAMP_DATA_DIR", ".data", "dev: Temporal's SQLite files, the dev secret key, the lock", false},
	{"ONRAMP_TEMPORAL_PORT", "7233", "dev: port of the in-process Temporal frontend (0 = any free port)", false},
	{"ONRAMP_REDIS_PREFIX", "onramp", "prefix of Redis keys and channels", false},
	{"ONRAMP_LOG_FORMAT", "json", "json or text (dev: text)", false},
	{"ONRAMP_LOG_LEVEL", "info", "debug, info, warn or error", false},
}

// config is the resolved configuration.
type config struct {
	DatabaseURL, RedisURL            string
	TemporalAddress, TemporalNS      string
	Addr, BaseURL                    string
	SecretKey                        []byte
	DataDir                          string
	TemporalPort                     int
	TemporalTimeout, DBTimeout       time.Duration
	FeedRetention, WaitEscalate      time.Duration
	TrustedProxies                   []string
	RedisPrefix, LogFormat, LogLevel string
}

func loadConfig(getenv func(string) string, dev bool) (*config, error) {
	get := func(env string) string {
		if v := getenv(env); v != "" {
			return v
		}
		for _, s := range settings {
			if s.env == env {
				if dev && env == "ONRAMP_LOG_FORMAT" {
					return "text"
				}
				return s.def
			}
		}
		return ""
	}
	c := &config{
		DatabaseURL: get("DATABASE_URL"), RedisURL: get("REDIS_URL"),
		TemporalAddress: get("TEMPORAL_ADDRESS"), TemporalNS: get("TEMPORAL_NAMESPACE"),
		Addr: get("ONRAMP_ADDR"), BaseURL: get("ONRAMP_BASE_URL"), DataDir: get("ONRAMP_DATA_DIR"),
		RedisPrefix: get("ONRAMP_REDIS_PREFIX"), LogFormat: get("ONRAMP_LOG_FORMAT"), LogLevel: get("ONRAMP_LOG_LEVEL"),
	}
	var err error
	if c.TemporalPort, err = strconv.Atoi(get("ONRAMP_TEMPORAL_PORT")); err != nil || c.TemporalPort < 0 || c.TemporalPort > 65535 {
		return nil, fmt.Errorf("ONRAMP_TEMPORAL_PORT: not a port: %q", get("ONRAMP_TEMPORAL_PORT"))
	}
	if c.TemporalTimeout, err = time.ParseDuration(get("ONRAMP_TEMPORAL_TIMEOUT")); err != nil || c.TemporalTimeout <= 0 {
		return nil, fmt.Errorf("ONRAMP_TEMPORAL_TIMEOUT: want a positive duration such as 15s, got %q", get("ONRAMP_TEMPORAL_TIMEOUT"))
	}
	if c.DBTimeout, err = time.ParseDuration(get("ONRAMP_DB_TIMEOUT")); err != nil || c.DBTimeout <= 0 {
		return nil, fmt.Errorf("ONRAMP_DB_TIMEOUT: want a positive duration such as 5s, got %q", get("ONRAMP_DB_TIMEOUT"))
	}
	if c.FeedRetention, err = time.ParseDuration(get("ONRAMP_FEED_RETENTION")); err != nil || c.FeedRetention < time.Hour {
		return nil, fmt.Errorf("ONRAMP_FEED_RETENTION: want a duration of at least 1h such as 168h, got %q", get("ONRAMP_FEED_RETENTION"))
	}
	if c.WaitEscalate, err = time.ParseDuration(get("ONRAMP_WAIT_ESCALATE")); err != nil || c.WaitEscalate <= 0 {
		return nil, fmt.Errorf("ONRAMP_WAIT_ESCALATE: want a positive duration such as 2m, got %q", get("ONRAMP_WAIT_ESCALATE"))
	}
	for _, p := range strings.Split(get("ONRAMP_TRUSTED_PROXIES"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.TrustedProxies = append(c.TrustedProxies, p)
		}
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("ONRAMP_BASE_URL: want an http(s) URL, got %q", c.BaseURL)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return nil, fmt.Errorf("ONRAMP_LOG_FORMAT: want json or text, got %q", c.LogFormat)
	}
	if key := getenv("ONRAMP_SECRET_KEY"); key != "" {
		if c.SecretKey, err = decodeKey(key); err != nil {
			return nil, err
		}
	} else if dev {
		if c.SecretKey, err = devKey(c.DataDir); err != nil {
			return nil, err
		}
	} else {
		return nil, errors.New("ONRAMP_SECRET_KEY is required: base64 of 32 random bytes (e.g. `openssl rand -base64 32`)")
	}
	return c, nil
}

func decodeKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != 32 {
		return nil, errors.New("ONRAMP_SECRET_KEY: want base64 of exactly 32 bytes")
	}
	return k, nil
}

// devKey reads, or creates once, the development secret key.
func devKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "secret.key")
	if b, err := os.ReadFile(path); err == nil {
		return decodeKey(string(b))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

// redact hides the password of a URL for logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

func printSettings(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "Environment (name, default, meaning):")
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", s.env, def, s.help)
	}
	tw.Flush()
}
