package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/onramp/onramp/api"
)

func TestReadyzNamesWhatIsDown(t *testing.T) {
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("connection refused") }
	for _, tc := range []struct {
		name   string
		redis  func(context.Context) error
		status int
		down   []string
	}{
		{"AllUp", ok, http.StatusOK, nil},
		{"RedisDown", down, http.StatusServiceUnavailable, []string{"redis"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := api.New(api.Config{SecretKey: testKey, Checks: []api.Check{{Name: "postgres", Ping: ok}, {Name: "redis", Ping: tc.redis}, {Name: "temporal", Ping: ok}}})
			if err != nil {
				t.Fatal(err)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			var body struct {
				Down   []string          `json:"down"`
				Checks map[string]string `json:"checks"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if rec.Code != tc.status || len(body.Down) != len(tc.down) || (len(tc.down) > 0 && body.Down[0] != tc.down[0]) {
				t.Fatalf("got %d %s", rec.Code, rec.Body)
			}
			// Unauthenticated: it names what is down, never the error.
			if strings.Contains(rec.Body.String(), "refused") {
				t.Errorf("readyz shows the error text: %s", rec.Body)
			}
			if rec.Header().Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID")
			}

			rec = httptest.NewRecorder()
			s.ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
			if rec.Code != http.StatusOK {
				t.Errorf("healthz %d", rec.Code)
			}
		})
	}
}

func TestUnknownRouteIsJSON404(t *testing.T) {
	s, err := api.New(api.Config{SecretKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/nope", nil))
	var e api.ErrorResponse
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != 404 || e.Code != "not_found" {
		t.Fatalf("got %d %s", rec.Code, rec.Body)
	}
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

func TestNewNeedsASecretKey(t *testing.T) {
	if _, err := api.New(api.Config{SecretKey: []byte("short")}); err == nil {
		t.Fatal("a server was built without a usable secret key")
	}
}
