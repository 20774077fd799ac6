// Package pgtest gives each test a fresh, migrated PostgreSQL database on a
// real server, dropped when the test ends.
//
// The server is the one at ONRAMP_TEST_DATABASE_URL, else DATABASE_URL,
// else postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable. Its
// user must be allowed to create databases.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/onramp/onramp/postgres"
)

// DefaultURL is the server used when no environment variable names one.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL returns the URL of the test server (see the package comment).
func ServerURL() string {
	for _, k := range []string{"ONRAMP_TEST_DATABASE_URL", "DATABASE_URL"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	return DefaultURL
}

// MustOpen creates a fresh database, migrates it and returns a pool on it.
// The pool is closed and the database dropped when the test ends.
func MustOpen(t testing.TB) *postgres.DB {
	t.Helper()
	db, _ := mustMigrated(t)
	return db
}

// MustURL creates a fresh database, migrates it and returns its URL, for
// tests that open their own pool (end-to-end tests calling run). The
// database is dropped, whoever is still connected, when the test ends.
func MustURL(t testing.TB) string {
	t.Helper()
	db, u := mustMigrated(t)
	db.Close()
	return u
}

// mustMigrated creates a fresh database, migrates it, and returns a pool on
// it (closed when the test ends, before the drop) and its URL.
func mustMigrated(t testing.TB) (*postgres.DB, string) {
	t.Helper()
	u := MustCreateDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatalf("pgtest: open: %v", err)
	}
	t.Cleanup(db.Close) // runs before the drop registered by MustCreateDatabase
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("pgtest: migrate: %v", err)
	}
	return db, u
}

// MustCreateDatabase creates a fresh, empty (not migrated) database named
// onramp_test_<random hex> and returns its URL. It is dropped WITH (FORCE)
// when the test ends.
func MustCreateDatabase(t testing.TB) string {
	t.Helper()
	server := ServerURL()
	var b [8]byte
	rand.Read(b[:])
	name := "onramp_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Fatalf("pgtest: cannot reach the test PostgreSQL server (set ONRAMP_TEST_DATABASE_URL): %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := withDatabase(server, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// withDatabase returns the connection string s pointing at database name.
func withDatabase(s, name string) (string, error) {
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", err
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// Keyword/value DSN: a later keyword overrides an earlier one.
	return s + " dbname=" + name, nil
}
