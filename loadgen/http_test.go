package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp/onramp"
)

// fakeOnramp is the part of Onramp's API loadgen's HTTP side uses: sign-in
// (a session cookie and a CSRF token), creating reps, the nine step
// requests and the admin's list of reps.
type fakeOnramp struct {
	t        *testing.T
	password string // of the admin

	mu       sync.Mutex
	users    map[string]*onramp.User // by email
	pass     map[string]string       // by email
	sessions map[string]*onramp.User // by cookie (= CSRF token)
	done     map[string][]string     // step requests by rep ID
	sources  map[string]bool         // client addresses that signed in
}

func newFakeOnramp(t *testing.T, admin, password string) (*fakeOnramp, *httptest.Server) {
	f := &fakeOnramp{t: t, password: password, users: map[string]*onramp.User{}, pass: map[string]string{},
		sessions: map[string]*onramp.User{}, done: map[string][]string{}, sources: map[string]bool{}}
	f.users[admin] = &onramp.User{ID: "admin", Email: admin, Role: onramp.RoleAdmin}
	f.pass[admin] = password
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/session", f.signIn)
	mux.HandleFunc("POST /api/v1/admin/reps", f.createRep)
	mux.HandleFunc("GET /api/v1/admin/reps", f.listReps)
	mux.HandleFunc("/api/v1/reps/me/onboarding/steps/", f.step)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func (f *fakeOnramp) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"code": code, "message": msg})
}

func (f *fakeOnramp) signIn(w http.ResponseWriter, r *http.Request) {
	var in struct{ Email, Password string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	defer f.mu.Unlock()
	u := f.users[in.Email]
	if u == nil || f.pass[in.Email] != in.Password {
		f.fail(w, http.StatusUnauthorized, onramp.EUNAUTHORIZED, "Wrong email or password.")
		return
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	f.sources[host] = true
	token := fmt.Sprintf("session-%d", len(f.sessions))
	f.sessions[token] = u
	if u.Role == onramp.RoleRep && u.Status == onramp.UserInvited {
		u.Status = onramp.UserOnboarding // the account step
	}
	http.SetCookie(w, &http.Cookie{Name: "onramp_session", Value: token, Path: "/"})
	_ = json.NewEncoder(w).Encode(map[string]any{"user": u, "csrf_token": token})
}

// session is the signed-in user of a state-changing request, nil (after
// answering 401 or 403) when the cookie or the CSRF token is wrong.
func (f *fakeOnramp) session(w http.ResponseWriter, r *http.Request) *onramp.User {
	c, err := r.Cookie("onramp_session")
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil || f.sessions[c.Value] == nil {
		f.fail(w, http.StatusUnauthorized, onramp.EUNAUTHORIZED, "Sign in first.")
		return nil
	}
	if r.Method != http.MethodGet && r.Header.Get("X-CSRF-Token") != c.Value {
		f.fail(w, http.StatusForbidden, onramp.EFORBIDDEN, "Missing or invalid CSRF token.")
		return nil
	}
	return f.sessions[c.Value]
}

func (f *fakeOnramp) createRep(w http.ResponseWriter, r *http.Request) {
	if u := f.session(w, r); u == nil {
		return
	} else if u.Role != onramp.RoleAdmin {
		f.fail(w, http.StatusForbidden, onramp.EFORBIDDEN, "Not an admin.")
		return
	}
	var in struct{ Email, Name, Password string }
	_ = json.NewDecoder(r.Body).Decode(&in)
	f.mu.Lock()
	defer f.mu.Unlock()
	u := &onramp.User{ID: fmt.Sprintf("rep-%d", len(f.users)), Email: in.Email, Name: in.Name, Role: onramp.RoleRep, Status: onramp.UserInvited}
	f.users[in.Email], f.pass[in.Email] = u, in.Password
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(u)
}

func (f *fakeOnramp) listReps(w http.ResponseWriter, r *http.Request) {
	if f.session(w, r) == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var list []onramp.RepSummary
	for _, u := range f.users {
		if u.Role == onramp.RoleRep {
			list = append(list, onramp.RepSummary{User: *u})
		}
	}
	_ = json.NewEncoder(w).Encode(list)
}

func (f *fakeOnramp) step(w http.ResponseWriter, r *http.Request) {
	u := f.session(w, r)
	if u == nil {
		return
	}
	step := strings.TrimPrefix(r.URL.Path, stepsPath)
	if step == "profile" {
		if err := r.ParseMultipartForm(1 << 20); err != nil || r.FormValue("first_name") != "Load" || r.MultipartForm.File["photo"] == nil {
			f.fail(w, http.StatusBadRequest, onramp.EBADREQUEST, "Not the profile form.")
			return
		}
	} else {
		_, _ = io.Copy(io.Discard, r.Body)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.done[u.ID] = append(f.done[u.ID], r.Method+" "+step)
	p := onramp.Progress{RepID: u.ID}
	if step == "finish" {
		p.Finished, u.Status = true, onramp.UserReady
	}
	_ = json.NewEncoder(w).Encode(p)
}

// TestHTTPSide runs the setup and the timed Onramp phase against a fake
// API: every rep signs in (from several source addresses), sends the nine
// step requests with its cookie and CSRF token, and ends up ready.
func TestHTTPSide(t *testing.T) {
	const n = 2*repsPerSource + 5 // three source groups
	f, srv := newFakeOnramp(t, demoAdmin, demoPassword)
	var out strings.Builder
	o, err := parseFlags([]string{"-url", srv.URL, "-n", fmt.Sprint(n), "-c", "4"}, func(string) string { return "" }, &out)
	if err != nil {
		t.Fatal(err)
	}
	o.Timeout = 10 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	h := newHTTPSide(o)
	defer h.close()
	r := &Report{RunID: "lgtest"}
	reps, err := h.setup(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != n || r.Setup.CreatedReps != n || r.Setup.SignIn.Count != n || len(r.Setup.SignInErrors) != 0 {
		t.Fatalf("setup: %d reps, %d created, %d signed in, errors %v", len(reps), r.Setup.CreatedReps, r.Setup.SignIn.Count, r.Setup.SignInErrors)
	}
	if err := h.onboard(ctx, reps, r); err != nil {
		t.Fatal(err)
	}
	steps := len(timedSteps())
	if p := r.Onramp; p.Completed != n || p.Requests != n*steps || len(p.Errors) != 0 || len(p.Steps) != steps {
		t.Errorf("onramp phase: %d/%d completed, %d requests, errors %v %v", p.Completed, p.Workflows, p.Requests, p.Errors, p.ErrorSamples)
	}
	if r.ReadyVerified != n {
		t.Errorf("%d reps ready, want %d", r.ReadyVerified, n)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	var want []string
	for _, st := range timedSteps() {
		want = append(want, st.method+" "+strings.TrimPrefix(st.path, stepsPath))
	}
	for _, c := range reps {
		if got := strings.Join(f.done[c.User.ID], ", "); got != strings.Join(want, ", ") {
			t.Errorf("rep %s sent %s\nwant %s", c.User.Email, got, strings.Join(want, ", "))
		}
	}
	// The admin from the default address, the reps from three others.
	if len(f.sources) != 4 {
		t.Errorf("sign-ins came from %d addresses, want 4: %v", len(f.sources), f.sources)
	}
}
