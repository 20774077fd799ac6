package deploy

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/google/go-cmp/cmp"
)

const secretKey = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // base64 of 32 bytes

// MustLoad loads ../docker-compose.yml as `docker compose` would, with a
// fixed project name and only the given environment (not the process's).
func MustLoad(tb testing.TB, env ...string) *types.Project {
	tb.Helper()
	p, err := load(env...)
	if err != nil {
		tb.Fatalf("loading docker-compose.yml: %v", err)
	}
	return p
}

func load(env ...string) (*types.Project, error) {
	opts, err := cli.NewProjectOptions([]string{"../docker-compose.yml"},
		cli.WithName("onramp-test"),
		cli.WithWorkingDirectory(".."),
		cli.WithEnv(env),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(context.Background())
}

func MustService(tb testing.TB, p *types.Project, name string) types.ServiceConfig {
	tb.Helper()
	s, err := p.GetService(name)
	if err != nil {
		tb.Fatalf("service %s: %v", name, err)
	}
	return s
}

func env(s types.ServiceConfig, key string) string {
	if v := s.Environment[key]; v != nil {
		return *v
	}
	return ""
}

func TestCompose(t *testing.T) {
	p := MustLoad(t, "ONRAMP_SECRET_KEY="+secretKey)

	t.Run("Services", func(t *testing.T) {
		want := []string{"api", "migrate", "postgres", "redis", "temporal", "temporal-db", "temporal-ui", "worker"}
		got := p.ServiceNames()
		slices.Sort(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("services (-want +got):\n%s", diff)
		}
	})

	t.Run("Images", func(t *testing.T) {
		for name, prefix := range map[string]string{
			"postgres":    "postgres:16",
			"redis":       "redis:7",
			"temporal-db": "postgres:",
			"temporal":    "temporalio/auto-setup:1.",
			"temporal-ui": "temporalio/ui:",
		} {
			if s := MustService(t, p, name); !strings.HasPrefix(s.Image, prefix) || s.Build != nil {
				t.Errorf("%s: image %q (build %v), want a %s… image", name, s.Image, s.Build != nil, prefix)
			}
		}
		root, _ := filepath.Abs("..")
		for name, cmd := range map[string][]string{
			"migrate": {"migrate", "up"},
			"api":     {"serve"},
			"worker":  {"worker"},
		} {
			s := MustService(t, p, name)
			if s.Build == nil || s.Build.Context != root || s.Build.Dockerfile != "Dockerfile" {
				t.Errorf("%s: build %+v, want the repository's Dockerfile", name, s.Build)
			}
			if diff := cmp.Diff(cmd, []string(s.Command)); diff != "" {
				t.Errorf("%s: command (-want +got):\n%s", name, diff)
			}
		}
	})

	t.Run("Ports", func(t *testing.T) {
		for _, tt := range []struct {
			service   string
			published string
			target    uint32
		}{
			{"api", "8080", 8080},
			{"temporal-ui", "8233", 8080},
			{"temporal", "7233", 7233},
		} {
			s := MustService(t, p, tt.service)
			if !slices.ContainsFunc(s.Ports, func(pc types.ServicePortConfig) bool {
				return pc.Published == tt.published && pc.Target == tt.target
			}) {
				t.Errorf("%s: ports %+v, want %s:%d", tt.service, s.Ports, tt.published, tt.target)
			}
		}
	})

	t.Run("DependsOn", func(t *testing.T) {
		healthy, done := types.ServiceConditionHealthy, types.ServiceConditionCompletedSuccessfully
		want := map[string]map[string]string{
			"temporal":    {"temporal-db": healthy},
			"temporal-ui": {"temporal": healthy},
			"migrate":     {"postgres": healthy},
			"api":         {"migrate": done, "redis": healthy, "temporal": healthy},
			"worker":      {"migrate": done, "redis": healthy, "temporal": healthy},
		}
		for name, deps := range want {
			got := map[string]string{}
			for dep, d := range MustService(t, p, name).DependsOn {
				got[dep] = d.Condition
			}
			if diff := cmp.Diff(deps, got); diff != "" {
				t.Errorf("%s: depends_on (-want +got):\n%s", name, diff)
			}
		}
	})

	t.Run("Healthchecks", func(t *testing.T) {
		for name, mentions := range map[string]string{
			"postgres":    "pg_isready",
			"temporal-db": "pg_isready",
			"redis":       "ping",
			"temporal":    "cluster health",
			"api":         "/readyz",
		} {
			hc := MustService(t, p, name).HealthCheck
			if hc == nil || hc.Disable || len(hc.Test) == 0 {
				t.Errorf("%s: no healthcheck", name)
				continue
			}
			if test := strings.Join(hc.Test, " "); !strings.Contains(test, mentions) {
				t.Errorf("%s: healthcheck %q does not use %s", name, test, mentions)
			}
		}
	})

	t.Run("MigrateOneShot", func(t *testing.T) {
		if r := MustService(t, p, "migrate").Restart; r != "no" {
			t.Errorf("migrate: restart %q, want no (it runs once and exits)", r)
		}
	})

	t.Run("Environment", func(t *testing.T) {
		pg := MustService(t, p, "postgres")
		for _, name := range []string{"migrate", "api", "worker"} {
			s := MustService(t, p, name)
			db, err := url.Parse(env(s, "DATABASE_URL"))
			if err != nil || db.Host != "postgres:5432" || db.User.Username() != env(pg, "POSTGRES_USER") ||
				strings.TrimPrefix(db.Path, "/") != env(pg, "POSTGRES_DB") {
				t.Errorf("%s: DATABASE_URL %q does not match the postgres service", name, env(s, "DATABASE_URL"))
			} else if pw, _ := db.User.Password(); pw != env(pg, "POSTGRES_PASSWORD") {
				t.Errorf("%s: DATABASE_URL password does not match the postgres service", name)
			}
			if r, err := url.Parse(env(s, "REDIS_URL")); err != nil || r.Scheme != "redis" || r.Host != "redis:6379" {
				t.Errorf("%s: REDIS_URL %q, want redis://redis:6379/…", name, env(s, "REDIS_URL"))
			}
			for key, want := range map[string]string{
				"TEMPORAL_ADDRESS":  "temporal:7233",
				"ONRAMP_SECRET_KEY": secretKey,
				"ONRAMP_BASE_URL":   "http://localhost:8080",
			} {
				if got := env(s, key); got != want {
					t.Errorf("%s: %s=%q, want %q", name, key, got, want)
				}
			}
		}
		if got := env(MustService(t, p, "temporal"), "POSTGRES_SEEDS"); got != "temporal-db" {
			t.Errorf("temporal: POSTGRES_SEEDS=%q, want temporal-db (its own database)", got)
		}
		if got := env(MustService(t, p, "temporal-ui"), "TEMPORAL_ADDRESS"); got != "temporal:7233" {
			t.Errorf("temporal-ui: TEMPORAL_ADDRESS=%q, want temporal:7233", got)
		}
	})

	t.Run("BaseURLFromEnv", func(t *testing.T) {
		p := MustLoad(t, "ONRAMP_SECRET_KEY="+secretKey, "ONRAMP_BASE_URL=https://onramp.example.com")
		if got := env(MustService(t, p, "api"), "ONRAMP_BASE_URL"); got != "https://onramp.example.com" {
			t.Errorf("api: ONRAMP_BASE_URL=%q, want the one from the environment", got)
		}
	})

	t.Run("SecretKeyRequired", func(t *testing.T) {
		_, err := load()
		if err == nil || !strings.Contains(err.Error(), "ONRAMP_SECRET_KEY") {
			t.Errorf("loading without ONRAMP_SECRET_KEY: %v, want an error naming it", err)
		}
	})
}

func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{
		"FROM golang:1.26 AS build",
		"./cmd/onramp",
		"FROM debian:bookworm-slim",
		"ca-certificates",
		"USER onramp",
		`ENTRYPOINT ["onramp"]`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}

	b, err = os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	ignored := strings.Fields(string(b))
	for _, want := range []string{".data", ".git"} {
		if !slices.Contains(ignored, want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
}
