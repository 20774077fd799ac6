package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/onramp/onramp"
)

// fakeAPI answers like Onramp's API where the client is concerned: a
// session cookie and a CSRF token from POST /api/v1/session, the token
// required on state-changing requests, errors as {"code","message","fields"}.
func fakeAPI(t *testing.T) *httptest.Server {
	t.Helper()
	const cookie, token = "sess-123", "csrf-456"
	user := onramp.User{ID: "u1", OrgID: "o1", Email: "ada@example.com", Role: onramp.RoleRep}
	fail := func(w http.ResponseWriter, status int, code, msg string, fields map[string]string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "fields": fields})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/session", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Email, Password string }
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&in) != nil {
			fail(w, http.StatusBadRequest, onramp.EBADREQUEST, "Send JSON.", nil)
			return
		}
		if in.Email != user.Email || in.Password != "right" {
			fail(w, http.StatusUnauthorized, onramp.EUNAUTHORIZED, "Wrong email or password.", nil)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "onramp_session", Value: cookie, Path: "/", HttpOnly: true})
		_ = json.NewEncoder(w).Encode(map[string]any{"user": user, "csrf_token": token})
	})
	signedIn := func(w http.ResponseWriter, r *http.Request) bool {
		if c, err := r.Cookie("onramp_session"); err != nil || c.Value != cookie {
			fail(w, http.StatusUnauthorized, onramp.EUNAUTHORIZED, "Sign in first.", nil)
			return false
		}
		if r.Method != http.MethodGet && r.Header.Get("X-CSRF-Token") != token {
			fail(w, http.StatusForbidden, onramp.EFORBIDDEN, "Missing or invalid CSRF token.", nil)
			return false
		}
		return true
	}
	mux.HandleFunc("/api/v1/reps/me/onboarding", func(w http.ResponseWriter, r *http.Request) {
		if signedIn(w, r) {
			_ = json.NewEncoder(w).Encode(onramp.Progress{RepID: user.ID, CurrentStep: onramp.StepProfile})
		}
	})
	mux.HandleFunc("PUT /api/v1/reps/me/onboarding/steps/availability", func(w http.ResponseWriter, r *http.Request) {
		if signedIn(w, r) {
			fail(w, http.StatusUnprocessableEntity, onramp.EINVALID, "Please correct the highlighted fields.",
				map[string]string{"time_zone": "Unknown time zone.", "days": "Pick a day."})
		}
	})
	mux.HandleFunc("GET /echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Seen-CSRF", r.Header.Get("X-CSRF-Token"))
		w.Header().Set("X-Seen-Extra", strings.Join(r.Header.Values("X-Extra"), ","))
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "  <html>not an error object</html>\n")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestSignInCookieAndCSRF(t *testing.T) {
	srv := fakeAPI(t)
	ctx := context.Background()
	c := New(srv.URL+"/", nil)
	if c.Base != srv.URL {
		t.Errorf("Base %q, want %q without the trailing slash", c.Base, srv.URL)
	}

	var p onramp.Progress
	_, err := c.JSON(ctx, "GET", "/api/v1/reps/me/onboarding", nil, &p)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || e.Code != onramp.EUNAUTHORIZED {
		t.Fatalf("before sign-in: %v, want a 401 *Error", err)
	}

	err = c.SignIn(ctx, "ada@example.com", "wrong")
	if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || e.Message != "Wrong email or password." || c.CSRF != "" {
		t.Fatalf("wrong password: %v (CSRF %q)", err, c.CSRF)
	}
	if err := c.SignIn(ctx, "ada@example.com", "right"); err != nil {
		t.Fatal(err)
	}
	if c.CSRF != "csrf-456" || c.User.ID != "u1" || c.User.Role != onramp.RoleRep {
		t.Fatalf("after sign-in: CSRF %q, user %+v", c.CSRF, c.User)
	}

	r, err := c.JSON(ctx, "GET", "/api/v1/reps/me/onboarding", nil, &p)
	if err != nil || r.Status != http.StatusOK || p.RepID != "u1" {
		t.Fatalf("progress: %v %v %+v", r, err, p)
	}

	// A state-changing request carries the token; without it, 403.
	r, err = c.Do(ctx, "PUT", "/api/v1/reps/me/onboarding/steps/availability", []byte(`{}`), "application/json", nil)
	if err != nil || r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("with the token: %v %v, want a 422 Response", r, err)
	}
	r, err = c.Do(ctx, "PUT", "/api/v1/reps/me/onboarding/steps/availability", []byte(`{}`), "application/json",
		http.Header{"X-Csrf-Token": {""}})
	if err != nil || r.Status != http.StatusForbidden || !errors.As(r.Err(), &e) || e.Code != onramp.EFORBIDDEN {
		t.Fatalf("without the token: %v %v", r, err)
	}

	// A copy shares the cookies, not the rest.
	other := *c
	other.CSRF = ""
	if _, err := other.JSON(ctx, "GET", "/api/v1/reps/me/onboarding", nil, nil); err != nil {
		t.Errorf("copy: %v", err)
	}
	if c.CSRF != "csrf-456" {
		t.Errorf("changing the copy changed the original")
	}
}

func TestErrorDecoding(t *testing.T) {
	srv := fakeAPI(t)
	ctx := context.Background()
	c := New(srv.URL, nil)
	if err := c.SignIn(ctx, "ada@example.com", "right"); err != nil {
		t.Fatal(err)
	}
	r, err := c.JSON(ctx, "PUT", "/api/v1/reps/me/onboarding/steps/availability", map[string]string{"time_zone": "Mars/Olympus"}, nil)
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err %v, want an *Error", err)
	}
	if r == nil || r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("response %v, want the 422", r)
	}
	want := Error{Method: "PUT", Path: "/api/v1/reps/me/onboarding/steps/availability", Status: 422, Code: onramp.EINVALID,
		Message: "Please correct the highlighted fields.", Fields: map[string]string{"time_zone": "Unknown time zone.", "days": "Pick a day."}}
	if e.Method != want.Method || e.Path != want.Path || e.Status != want.Status || e.Code != want.Code || e.Message != want.Message ||
		len(e.Fields) != 2 || e.Fields["time_zone"] != want.Fields["time_zone"] || e.Fields["days"] != want.Fields["days"] {
		t.Errorf("got %+v, want %+v", *e, want)
	}
	const msg = "PUT /api/v1/reps/me/onboarding/steps/availability: 422 invalid: Please correct the highlighted fields. [days: Pick a day.] [time_zone: Unknown time zone.]"
	if e.Error() != msg {
		t.Errorf("Error() = %q\nwant      %q", e.Error(), msg)
	}

	// A body that is not an error object: its text is the message. Headers
	// in hdr are added, and win over the CSRF token.
	r, err = c.Do(ctx, "GET", "/echo", nil, "", http.Header{"X-Extra": {"a", "b"}, "X-CSRF-Token": {"other"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Header.Get("X-Seen-CSRF") != "other" || r.Header.Get("X-Seen-Extra") != "a,b" {
		t.Errorf("server saw CSRF %q, X-Extra %q", r.Header.Get("X-Seen-CSRF"), r.Header.Get("X-Seen-Extra"))
	}
	if !errors.As(r.Err(), &e) || e.Status != http.StatusTeapot || e.Code != "" || e.Message != "<html>not an error object</html>" {
		t.Errorf("teapot: %v", r.Err())
	}

	// A transport error is the error, with no Response.
	srv.Close()
	if r, err := c.Do(ctx, "GET", "/echo", nil, "", nil); err == nil || r != nil || errors.As(err, &e) {
		t.Errorf("server closed: %v %v, want a transport error", r, err)
	}
	if (&Response{Status: 204}).Err() != nil {
		t.Error("a 204 is an error")
	}
}

func TestProfileForm(t *testing.T) {
	photo := GradientPNG(30, 20)
	img, err := png.Decode(bytes.NewReader(photo))
	if err != nil || img.Bounds().Dx() != 30 || img.Bounds().Dy() != 20 {
		t.Fatalf("GradientPNG: %v %v", err, img)
	}
	for _, tc := range []struct {
		name  string
		photo []byte
	}{{"WithPhoto", photo}, {"WithoutPhoto", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			body, ct := ProfileForm("Ada", "Lovelace", "Here to help", "me.png", tc.photo)
			mt, params, err := mime.ParseMediaType(ct)
			if err != nil || mt != "multipart/form-data" {
				t.Fatalf("Content-Type %q: %v", ct, err)
			}
			f, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(1 << 20)
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range map[string]string{"first_name": "Ada", "last_name": "Lovelace", "title": "Here to help"} {
				if got := f.Value[k]; len(got) != 1 || got[0] != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			files := f.File["photo"]
			if tc.photo == nil {
				if len(files) != 0 {
					t.Errorf("%d photo parts, want none", len(files))
				}
				return
			}
			if len(files) != 1 || files[0].Filename != "me.png" {
				t.Fatalf("photo parts %v", files)
			}
			fh, err := files[0].Open()
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			got, _ := io.ReadAll(fh)
			if !bytes.Equal(got, tc.photo) {
				t.Errorf("photo: %d bytes, want the %d sent", len(got), len(tc.photo))
			}
		})
	}
}
