package main

import (
	"bufio"
	"bytes"
	"compress/zlib"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"html"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	tclient "go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/postgres"
	"github.com/onramp/onramp/redisbus"
	"github.com/onramp/onramp/worker"
	"github.com/onramp/onramp/workflows"
)

var recordHistories = flag.Bool("record-histories", false, "write the workflow histories the end-to-end tests make into workflows/testdata, where a file of that name is missing (never over one)")

const adminEmail = "admin@demo.onramp.test"

// loginPerIPForTest is the API's sign-in limit per client address and minute.
const loginPerIPForTest = 30

func mustCreateRep(t *testing.T, admin *apiClient, email string) onramp.User {
	t.Helper()
	var rep onramp.User
	if st := admin.mustDo("POST", "/api/v1/admin/reps", map[string]string{"email": email, "name": "Test Rep", "password": "correct-horse-battery"}, &rep); st != http.StatusCreated {
		t.Fatalf("create rep: %d", st)
	}
	return rep
}

// completeBuiltSteps walks a signed-in rep through every step built so far.
func completeBuiltSteps(t *testing.T, rep *apiClient) onramp.Progress {
	t.Helper()
	if r := rep.submitProfile("Ada", "Lovelace", "Here to help you find your perfect solution!", "me.png", pngBytes(t, 800, 600)); r.Status != http.StatusOK {
		t.Fatalf("profile: %d %s", r.Status, r.Body)
	}
	av := onramp.DefaultAvailability("Europe/Paris")
	if st := rep.mustDo("PUT", "/api/v1/reps/me/onboarding/steps/availability", av, nil); st != http.StatusOK {
		t.Fatalf("availability: %d", st)
	}
	n := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
	n.Sound, n.VoiceAlerts = "marimba", true
	if st := rep.mustDo("PUT", "/api/v1/reps/me/onboarding/steps/notifications", n, nil); st != http.StatusOK {
		t.Fatalf("notifications: %d", st)
	}
	b := onramp.BrowserPermissions{Notifications: "granted", Camera: "granted", Microphone: "denied"}
	if st := rep.mustDo("PUT", "/api/v1/reps/me/onboarding/steps/browser", b, nil); st != http.StatusOK {
		t.Fatalf("browser: %d", st)
	}
	for _, k := range []string{"calendar", "meeting", "crm", "apps"} {
		if st := rep.mustDo("POST", "/api/v1/reps/me/onboarding/steps/"+k+"/skip", nil, nil); st != http.StatusOK {
			t.Fatalf("skip %s: %d", k, st)
		}
	}
	var p onramp.Progress
	if st := rep.mustDo("POST", "/api/v1/reps/me/onboarding/steps/finish", nil, &p); st != http.StatusOK {
		t.Fatalf("finish: %d", st)
	}
	return p
}

// TestEndToEndOnboarding: HTTP API → in-process Temporal → worker →
// Postgres projection → Redis event, for a rep completing every step built.
func TestEndToEndOnboarding(t *testing.T) {
	e := newEnv(t)
	dev := mustStart(t, e, "dev")
	if !strings.Contains(dev.Out.String(), "admin@demo.onramp.test") {
		t.Errorf("dev did not print the demo logins:\n%s", dev.Out)
	}

	// Listen on Redis the way a second API instance would.
	admin := mustLogin(t, dev.Base, adminEmail, demoPassword)
	sub := mustSubscribe(t, e, admin.User.OrgID)

	// The admin's live stream (SSE) over HTTP.
	sseReq, _ := http.NewRequest("GET", dev.Base+"/api/v1/events", nil)
	sseResp, err := admin.HTTP.Do(sseReq)
	if err != nil || sseResp.StatusCode != http.StatusOK {
		t.Fatalf("SSE: %v %v", err, sseResp)
	}
	defer sseResp.Body.Close()
	sseEvents := make(chan string, 1000)
	go func() {
		sc := bufio.NewScanner(sseResp.Body)
		for sc.Scan() {
			if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				sseEvents <- ev
			}
		}
	}()

	repUser := mustCreateRep(t, admin, "ada@example.com")
	var reps []onramp.RepSummary
	admin.mustDo("GET", "/api/v1/admin/reps", nil, &reps)
	if len(reps) != 2 {
		t.Fatalf("admin sees %d reps, want the demo rep and the new one", len(reps))
	}

	rep := mustLogin(t, dev.Base, "ada@example.com", "correct-horse-battery")
	if p := rep.progress(); p.Step(onramp.StepAccount).Status != onramp.StatusDone || p.CurrentStep != onramp.StepCalendar {
		t.Fatalf("after first sign-in: %s current %s", statuses(p), p.CurrentStep)
	}
	p := completeBuiltSteps(t, rep)
	if !p.Finished {
		t.Fatalf("not finished: %s", statuses(p))
	}

	// Postgres projection, as the admin pages read it.
	var got struct {
		Rep      onramp.User        `json:"rep"`
		Progress onramp.Progress    `json:"progress"`
		Events   []onramp.StepEvent `json:"events"`
	}
	admin.mustDo("GET", "/api/v1/admin/reps/"+repUser.ID, nil, &got)
	if got.Rep.Status != onramp.UserReady || !got.Progress.Finished {
		t.Errorf("projection: rep %s finished %v", got.Rep.Status, got.Progress.Finished)
	}
	for _, s := range got.Progress.Steps {
		if !s.Status.Complete() {
			t.Errorf("projected step %s is %s", s.Key, s.Status)
		}
	}
	if len(got.Events) < 20 {
		t.Errorf("step-event log has %d rows", len(got.Events))
	}
	var settings struct {
		Profile       onramp.Profile           `json:"profile"`
		PhotoURL      string                   `json:"photo_url"`
		Notifications onramp.NotificationPrefs `json:"notifications"`
		Availability  onramp.Availability      `json:"availability"`
	}
	rep.mustDo("GET", "/api/v1/reps/me/settings", nil, &settings)
	if settings.Profile.FirstName != "Ada" || settings.Notifications.Sound != "marimba" || settings.Availability.TimeZone != "Europe/Paris" {
		t.Errorf("settings not saved: %+v", settings)
	}
	photo := rep.raw("GET", settings.PhotoURL, nil, "", nil)
	if photo.Status != http.StatusOK || len(photo.Body) == 0 {
		t.Errorf("photo at %s: %d", settings.PhotoURL, photo.Status)
	}

	// Redis: the step events of this rep, and the finish.
	seen := map[string]bool{}
	timeout := time.After(10 * time.Second)
	for !seen[onramp.EventOnboardingFinished] {
		select {
		case ev := <-sub.C():
			if ev.RepID == repUser.ID {
				var tr onramp.StepTransition
				_ = json.Unmarshal(ev.Data, &tr)
				seen[ev.Type] = true
				seen[string(tr.Step.Key)+"="+string(tr.Step.Status)] = true
			}
		case <-timeout:
			t.Fatalf("Redis events seen: %v", seen)
		}
	}
	for _, want := range []string{"profile=done", "availability=done", "notifications=done", "browser=done", "finish=done"} {
		if !seen[want] {
			t.Errorf("no Redis event for %s (saw %v)", want, seen)
		}
	}
	// SSE relays the same events to the admin.
	waitFor(t, "SSE onboarding.finished", 10*time.Second, func() bool {
		for {
			select {
			case ev := <-sseEvents:
				if ev == onramp.EventOnboardingFinished {
					return true
				}
			default:
				return false
			}
		}
	})

	// Temporal visibility: the search attributes filter reps by step.
	tc := mustTemporalClient(t, dev)
	waitFor(t, "visibility by search attribute", 15*time.Second, func() bool {
		resp, err := tc.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: "OnrampStep = 'finish' AND OnrampStatus = 'finished' AND OnrampOrg = '" + repUser.OrgID + "'",
		})
		return err == nil && len(resp.Executions) == 1 && resp.Executions[0].Execution.WorkflowId == workflows.OnboardingID(repUser.OrgID, repUser.ID)
	})

	// The history replays against today's workflow code, and is kept.
	hist := mustKeepHistory(t, tc, workflows.OnboardingID(repUser.OrgID, repUser.ID), "onboarding_v2_happy_history.json")
	// Search attributes are written only when the current step or its status
	// changes: sign-in (calendar), four skips, finish; and once the version
	// marker's TemporalChangeVersion.
	if n := len(regexp.MustCompile(`"eventType":\s*"EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES"`).FindAll(hist, -1)); n != 7 {
		t.Errorf("%d search-attribute upserts, want 7", n)
	}

	// Ctrl-C with the admin's stream still open: the stream is ended, so the
	// graceful shutdown does not sit out its 10 s deadline.
	start := time.Now()
	dev.stop(t)
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("onramp dev took %v to stop with an open event stream", d)
	}
}

func mustTemporalClient(t testing.TB, p *proc) tclient.Client {
	t.Helper()
	addr := temporalAddrFrom(p.Out.String())
	if addr == "" {
		t.Fatalf("no Temporal address in output:\n%s", p.Out)
	}
	return mustDial(t, addr)
}

// mustDial dials a Temporal client, closed when the test ends.
func mustDial(t testing.TB, addr string) tclient.Client {
	t.Helper()
	c, err := tclient.Dial(tclient.Options{HostPort: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// temporalAddrFrom reads "Temporal:  host:port" from onramp dev's banner.
func temporalAddrFrom(out string) string {
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Temporal:"); ok {
			return strings.Fields(rest)[0]
		}
	}
	return ""
}

// mustKeepHistory fetches a workflow's history, checks that it replays
// against today's workflow code, and with -record-histories writes it to
// workflows/testdata/name if no file has that name (histories are added,
// never re-recorded over). It returns the history's JSON.
func mustKeepHistory(t testing.TB, tc tclient.Client, id, name string) []byte {
	t.Helper()
	hist := mustHistoryJSON(t, tc, id)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, hist, 0o644); err != nil {
		t.Fatal(err)
	}
	replayer := sdkworker.NewWorkflowReplayer()
	worker.RegisterWorkflows(replayer)
	if err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, path); err != nil {
		t.Fatalf("replay %s: %v", name, err)
	}
	if *recordHistories {
		keep := filepath.Join("..", "..", "workflows", "testdata", name)
		if _, err := os.Stat(keep); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(keep, hist, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("recorded %s", keep)
		}
	}
	return hist
}

func mustHistoryJSON(t testing.TB, tc tclient.Client, id string) []byte {
	t.Helper()
	iter := tc.GetWorkflowHistory(context.Background(), id, "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var h historypb.History
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	b, err := protojson.MarshalOptions{Multiline: true}.Marshal(&h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBadInput: each bad request gets its 4xx with a clear JSON error and
// changes nothing.
func TestBadInput(t *testing.T) {
	e := newEnv(t)
	dev := mustStart(t, e, "dev")
	admin := mustLogin(t, dev.Base, adminEmail, demoPassword)
	repA := mustCreateRep(t, admin, "a@example.com")
	rep := mustLogin(t, dev.Base, "a@example.com", "correct-horse-battery")

	// Another org with its own rep (made through the store, as SCIM will).
	d := mustDeps(t, e)
	orgB := &onramp.Org{Name: "Other Co", Slug: "other"}
	if err := d.users.CreateOrg(context.Background(), orgB); err != nil {
		t.Fatal(err)
	}
	wc := &workflows.Client{Temporal: mustTemporalClient(t, dev), Users: d.users, Store: d.store}
	if _, err := wc.CreateRep(context.Background(), orgB, onramp.NewUser{Email: "b@other.example", Name: "B", Password: "correct-horse-battery"}); err != nil {
		t.Fatal(err)
	}
	repB := mustLogin(t, dev.Base, "b@other.example", "correct-horse-battery")

	before := rep.progress()
	countRows := func(table string) int {
		var n int
		if err := d.db.Pool().QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	photosBefore, eventsBefore, uploadsBefore := countRows("photos"), countRows("onboarding_events"), countRows("photo_uploads")

	gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	huge := make([]byte, 20<<20)
	copy(huge, pngBytes(t, 10, 10))
	bomb := pngBomb(t, 10000, 10000)
	av := onramp.DefaultAvailability("Europe/Paris")
	badTZ := av
	badTZ.TimeZone = "Europe/Atlantis"
	overlap := av
	overlap.Weekly = map[string][]onramp.Interval{"monday": {{Start: "09:00", End: "12:00"}, {Start: "11:30", End: "14:00"}}}
	negBuffer := av
	negBuffer.BufferMinutes = -15
	noWaiting := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
	noWaiting.Streams[onramp.StreamWaitingForRep] = onramp.StreamPref{Desktop: false}
	unknownStream := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
	unknownStream.Streams["karaoke_fans"] = onramp.StreamPref{Desktop: true}

	profile := func(filename string, photo []byte) func(c *apiClient) response {
		return func(c *apiClient) response {
			return c.submitProfile("Ada", "Lovelace", "Expert", filename, photo)
		}
	}
	putJSON := func(step string, v any) func(c *apiClient) response {
		return func(c *apiClient) response {
			return c.raw("PUT", "/api/v1/reps/me/onboarding/steps/"+step, v, "", nil)
		}
	}
	cases := []struct {
		name   string
		do     func(c *apiClient) response
		who    *apiClient
		status int
		code   string
		says   string
	}{
		{"ErrGIFPhoto", profile("me.gif", gif), rep, 415, onramp.EUNSUPPORTED, "JPG or PNG"},
		{"ErrTextNamedPNG", profile("photo.png", []byte("this is not an image, just text\n")), rep, 415, onramp.EUNSUPPORTED, "JPG or PNG"},
		{"ErrPhoto20MB", profile("big.png", huge), rep, 413, onramp.ETOOLARGE, "too large"},
		{"ErrDecompressionBomb", profile("bomb.png", bomb), rep, 422, onramp.EINVALID, "megapixels"},
		{"ErrNoPhoto", profile("", nil), rep, 422, onramp.EINVALID, "profile photo"},
		{"ErrUnknownTimeZone", putJSON("availability", badTZ), rep, 422, onramp.EINVALID, "Unknown time zone"},
		{"ErrOverlappingHours", putJSON("availability", overlap), rep, 422, onramp.EINVALID, "overlap"},
		{"ErrNegativeBuffer", putJSON("availability", negBuffer), rep, 422, onramp.EINVALID, "Buffer"},
		{"ErrDisableWaitingForRep", putJSON("notifications", noWaiting), rep, 422, onramp.EINVALID, "cannot be disabled"},
		{"ErrUnknownStream", putJSON("notifications", unknownStream), rep, 422, onramp.EINVALID, "Unknown stream"},
		{"ErrUnknownStepKey", putJSON("karaoke", av), rep, 404, onramp.ENOTFOUND, "Unknown step"},
		{"ErrSkipRequiredStep", func(c *apiClient) response {
			return c.raw("POST", "/api/v1/reps/me/onboarding/steps/profile/skip", nil, "", nil)
		}, rep, 422, onramp.EINVALID, "cannot be skipped"},
		{"ErrFinishTooEarly", func(c *apiClient) response {
			return c.raw("POST", "/api/v1/reps/me/onboarding/steps/finish", nil, "", nil)
		}, rep, 422, onramp.EINVALID, "Complete these steps first"},
		{"ErrOtherOrgsRep", func(c *apiClient) response {
			return c.raw("PUT", "/api/v1/reps/"+repA.ID+"/onboarding/steps/availability", av, "", nil)
		}, repB, 404, onramp.ENOTFOUND, "not found"},
		{"ErrOtherOrgsRepProgress", func(c *apiClient) response {
			return c.raw("GET", "/api/v1/reps/"+repA.ID+"/onboarding", nil, "", nil)
		}, repB, 404, onramp.ENOTFOUND, "not found"},
		{"ErrMissingCSRF", func(c *apiClient) response {
			return c.raw("PUT", "/api/v1/reps/me/onboarding/steps/availability", av, "", map[string]string{"X-CSRF-Token": ""})
		}, rep, 403, onramp.EFORBIDDEN, "CSRF"},
		{"ErrWrongCSRF", func(c *apiClient) response {
			return c.raw("PUT", "/api/v1/reps/me/onboarding/steps/availability", av, "", map[string]string{"X-CSRF-Token": "forged"})
		}, rep, 403, onramp.EFORBIDDEN, "CSRF"},
		{"ErrNotJSON", func(c *apiClient) response {
			return c.raw("PUT", "/api/v1/reps/me/onboarding/steps/availability", []byte("time_zone=UTC"), "text/plain", nil)
		}, rep, 415, onramp.EUNSUPPORTED, "JSON"},
		{"ErrMalformedJSON", func(c *apiClient) response {
			return c.raw("PUT", "/api/v1/reps/me/onboarding/steps/availability", []byte(`{"time_zone":`), "application/json", nil)
		}, rep, 400, onramp.EBADREQUEST, "Malformed"},
		{"ErrRepCallsAdminAPI", func(c *apiClient) response {
			return c.raw("POST", "/api/v1/admin/reps", map[string]string{"email": "x@example.com", "name": "X"}, "", nil)
		}, rep, 403, onramp.EFORBIDDEN, "role"},
		{"ErrNotSignedIn", func(c *apiClient) response {
			return newClient(t, dev.Base).raw("GET", "/api/v1/reps/me/onboarding", nil, "", nil)
		}, rep, 401, onramp.EUNAUTHORIZED, "Sign in"},
		{"ErrWrongPassword", func(c *apiClient) response {
			return newClient(t, dev.Base).raw("POST", "/api/v1/session", map[string]string{"email": "a@example.com", "password": "wrong-password"}, "", nil)
		}, rep, 401, onramp.EUNAUTHORIZED, "Wrong email or password"},
		{"ErrRetryNotStuck", func(c *apiClient) response {
			return c.raw("POST", "/api/v1/support/reps/"+repA.ID+"/steps/profile/retry", nil, "", nil)
		}, admin, 409, onramp.ECONFLICT, "Nothing to retry"},
		{"ErrDuplicateEmail", func(c *apiClient) response {
			return c.raw("POST", "/api/v1/admin/reps", map[string]string{"email": "A@example.com", "name": "Again"}, "", nil)
		}, admin, 409, onramp.ECONFLICT, "already exists"},
		{"ErrControlCharInName", func(c *apiClient) response {
			return c.submitProfile("Ada\x00", "Lovelace", "Expert", "me.png", pngBytes(t, 10, 10))
		}, rep, 422, onramp.EINVALID, "control characters"},
		{"ErrInvalidUTF8InTitle", func(c *apiClient) response {
			return c.submitProfile("Ada", "Lovelace", "Exp\xffert", "me.png", pngBytes(t, 10, 10))
		}, rep, 422, onramp.EINVALID, "not valid text"},
		{"ErrTwoPhotos", func(c *apiClient) response {
			body, ct := multipartForm(t, [][2]string{{"first_name", "Ada"}, {"last_name", "L"}, {"title", "T"}},
				map[string][]byte{"a.png": pngBytes(t, 10, 10), "b.png": pngBytes(t, 12, 12)})
			return c.raw("PUT", "/api/v1/reps/me/onboarding/steps/profile", body, ct, nil)
		}, rep, 422, onramp.EINVALID, "one photo"},
		{"ErrTooManyFormParts", func(c *apiClient) response {
			var fields [][2]string
			for i := range 9 {
				fields = append(fields, [2]string{fmt.Sprintf("x%d", i), "y"})
			}
			body, ct := multipartForm(t, fields, nil)
			return c.raw("PUT", "/api/v1/reps/me/onboarding/steps/profile", body, ct, nil)
		}, rep, 400, onramp.EBADREQUEST, "Too many"},
		{"ErrAccountStepByPUT", putJSON("account", av), rep, 422, onramp.EINVALID, "signing in"},
		{"ErrMalformedIdempotencyKey", func(c *apiClient) response {
			return c.raw("PUT", "/api/v1/reps/me/onboarding/steps/availability", av, "", map[string]string{"Idempotency-Key": strings.Repeat("k", 65)})
		}, rep, 400, onramp.EBADREQUEST, "Idempotency-Key"},
		{"ErrCSRFInQueryString", func(c *apiClient) response {
			return c.raw("PUT", "/api/v1/reps/me/onboarding/steps/availability?csrf_token="+c.CSRF, av, "", map[string]string{"X-CSRF-Token": ""})
		}, rep, 403, onramp.EFORBIDDEN, "CSRF"},
		{"ErrStreamNameWithNewline", func(c *apiClient) response {
			return c.raw("POST", "/api/v1/admin/streams", map[string]string{"key": "enterprise", "name": "Big\nDeals"}, "", nil)
		}, admin, 422, onramp.EINVALID, "control characters"},
		{"ErrStreamKeyTooLong", func(c *apiClient) response {
			return c.raw("POST", "/api/v1/admin/streams", map[string]string{"key": strings.Repeat("k", 41), "name": "Long"}, "", nil)
		}, admin, 422, onramp.EINVALID, "at most 40"},
		{"ErrRepNameWithControlChar", func(c *apiClient) response {
			return c.raw("POST", "/api/v1/admin/reps", map[string]string{"email": "ctl@example.com", "name": "Bob\u202eevil"}, "", nil)
		}, admin, 422, onramp.EINVALID, "control characters"},
		{"ErrBadEmail", func(c *apiClient) response {
			return c.raw("POST", "/api/v1/admin/reps", map[string]string{"email": "not-an-email", "name": "X"}, "", nil)
		}, admin, 422, onramp.EINVALID, "valid email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.who.t = t
			r := tc.do(tc.who)
			got := r.err()
			if r.Status != tc.status || got.Code != tc.code || !strings.Contains(got.Message, tc.says) {
				t.Fatalf("got %d %s %q, want %d %s containing %q (body %s)", r.Status, got.Code, got.Message, tc.status, tc.code, tc.says, r.Body)
			}
		})
	}

	// Sign-ins are limited per client address; a forged X-Forwarded-For
	// does not make a new address.
	t.Run("ErrSignInRateLimited", func(t *testing.T) {
		c := newClient(t, dev.Base)
		var last response
		for i := 0; i <= loginPerIPForTest; i++ {
			last = c.raw("POST", "/api/v1/session", map[string]string{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "wrong-password"}, "",
				map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i)})
		}
		if got := last.err(); last.Status != http.StatusTooManyRequests || got.Code != onramp.ERATELIMITED {
			t.Fatalf("attempt %d: %d %s", loginPerIPForTest+1, last.Status, last.Body)
		}
	})

	after := rep.progress()
	if statuses(after) != statuses(before) {
		t.Errorf("progress changed:\nbefore %s\nafter  %s", statuses(before), statuses(after))
	}
	if n := countRows("photos"); n != photosBefore {
		t.Errorf("%d photos stored by rejected uploads", n-photosBefore)
	}
	if n := countRows("onboarding_events"); n != eventsBefore {
		t.Errorf("%d step events written by rejected input", n-eventsBefore)
	}
	if n := countRows("photo_uploads"); n != uploadsBefore {
		t.Errorf("%d photos staged by rejected uploads", n-uploadsBefore)
	}
}

// multipartForm is a multipart/form-data body with the fields, in order,
// and a photo part per file.
func multipartForm(t testing.TB, fields [][2]string, files map[string][]byte) ([]byte, string) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := w.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range files {
		fw, err := w.CreateFormFile("photo", name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// pngBomb is a valid PNG header announcing w×h pixels with a tiny body.
func pngBomb(t testing.TB, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(data)))
		buf.Write(l[:])
		buf.WriteString(typ)
		buf.Write(data)
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		binary.BigEndian.PutUint32(l[:], crc.Sum32())
		buf.Write(l[:])
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], uint32(w))
	binary.BigEndian.PutUint32(ihdr[4:], uint32(h))
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	row := make([]byte, 1+3*w)
	for i := 0; i < 200; i++ { // the first rows only: enough to look real
		zw.Write(row)
	}
	zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return buf.Bytes()
}

// mustDeps opens the adapters on a test system's database (for setup that
// has no API yet, and for checking what was stored).
func mustDeps(t testing.TB, e env) *deps {
	t.Helper()
	cfg, err := loadConfig(e.getenv, true)
	if err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(context.Background(), cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return &deps{db: db, users: postgres.NewUserService(db), store: postgres.NewStore(db)}
}

// TestRestartResume stops `onramp dev` in the middle of an onboarding and
// starts it again on the same data: the worker, the API and the Temporal
// server restart, and the rep resumes where they were.
func TestRestartResume(t *testing.T) {
	e := newEnv(t)
	dev := mustStart(t, e, "dev")
	admin := mustLogin(t, dev.Base, adminEmail, demoPassword)
	mustCreateRep(t, admin, "resume@example.com")
	rep := mustLogin(t, dev.Base, "resume@example.com", "correct-horse-battery")
	if r := rep.submitProfile("Grace", "Hopper", "Expert", "me.png", pngBytes(t, 64, 64)); r.Status != http.StatusOK {
		t.Fatalf("profile: %d %s", r.Status, r.Body)
	}
	rep.mustDo("PUT", "/api/v1/reps/me/onboarding/steps/availability", onramp.DefaultAvailability("America/New_York"), nil)
	before := rep.progress()
	dev.stop(t)

	// A second `onramp dev` on the same data while the first one runs
	// fails with a clear message, not a panic.
	dev2 := mustStart(t, e, "dev")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out syncBuffer
	err := run(ctx, []string{"dev"}, e.with("ONRAMP_ADDR", "127.0.0.1:0").getenv, &out)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second onramp dev: err %v, want one saying the data directory is in use", err)
	}
	err = run(ctx, []string{"dev"}, e.with("ONRAMP_ADDR", strings.TrimPrefix(dev2.Base, "http://")).getenv, &out)
	if err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("onramp dev on a busy port: err %v", err)
	}

	rep.Base = dev2.Base // the session lives in Postgres: still signed in
	after := rep.progress()
	if statuses(after) != statuses(before) || after.Step(onramp.StepProfile).Status != onramp.StatusDone {
		t.Fatalf("after restart:\n%s\nwant\n%s", statuses(after), statuses(before))
	}
	n := onramp.DefaultNotificationPrefs(onramp.BuiltinStreams())
	if st := rep.mustDo("PUT", "/api/v1/reps/me/onboarding/steps/notifications", n, nil); st != http.StatusOK {
		t.Fatalf("notifications after restart: %d", st)
	}
	if p := rep.progress(); p.Step(onramp.StepNotifications).Status != onramp.StatusDone || p.Step(onramp.StepAvailability).Status != onramp.StatusDone {
		t.Fatalf("after restart and one more step: %s", statuses(p))
	}
}

// TestStuckRetry: when saving a step keeps failing, the step becomes stuck
// (the admins are alerted), support sees it with the error, and their retry
// completes it once the cause is gone.
func TestStuckRetry(t *testing.T) {
	e := newEnv(t)
	dev := mustStart(t, e, "dev")
	admin := mustLogin(t, dev.Base, adminEmail, demoPassword)
	repUser := mustCreateRep(t, admin, "stuck@example.com")
	rep := mustLogin(t, dev.Base, "stuck@example.com", "correct-horse-battery")
	d := mustDeps(t, e)
	exec := func(sql string) {
		if _, err := d.db.Pool().Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}

	sub := mustSubscribe(t, e, repUser.OrgID)

	// Every profile write fails (as on a full disk), other writes work.
	exec(`CREATE FUNCTION test_full_disk() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'could not extend file "base/16384/rep_settings": No space left on device'; END $$`)
	exec(`CREATE TRIGGER test_full_disk BEFORE INSERT OR UPDATE ON rep_settings FOR EACH ROW
		WHEN (NEW.step = 'profile') EXECUTE FUNCTION test_full_disk()`)
	repStream, adminStream := streamLines(t, rep), streamLines(t, admin)
	r := rep.submitProfile("Kath", "Johnson", "Expert", "me.png", pngBytes(t, 40, 40))
	var p onramp.Progress
	_ = json.Unmarshal(r.Body, &p)
	if r.Status != http.StatusAccepted || p.Step(onramp.StepProfile).Status != onramp.StatusStuck {
		t.Fatalf("profile with a failing store: %d %s", r.Status, r.Body)
	}
	// The live events of the stuck step: the admin's carry the database's
	// words, the rep's do not.
	stuckEvent := func(lines <-chan string) string {
		t.Helper()
		var data string
		waitFor(t, "the stuck step's live event", 10*time.Second, func() bool {
			for {
				select {
				case l := <-lines:
					if d, ok := strings.CutPrefix(l, "data: "); ok && strings.Contains(d, `"stuck"`) {
						data = d
						return true
					}
				default:
					return false
				}
			}
		})
		return data
	}
	if d := stuckEvent(adminStream); !strings.Contains(d, "No space left") {
		t.Errorf("the admin's live event lacks the failure's detail: %s", d)
	}
	if d := stuckEvent(repStream); strings.Contains(d, "No space left") || strings.Contains(d, "last_error") {
		t.Errorf("the rep's live event shows the failure's detail: %s", d)
	}
	// The rep is told what happens next, never the database's words.
	if s := p.Step(onramp.StepProfile); s.LastError != "" || strings.Contains(string(r.Body), "No space left") || !strings.Contains(s.Message, "Support has been alerted") {
		t.Errorf("the rep sees %q / %q", s.LastError, s.Message)
	}
	if got := rep.raw("GET", "/api/v1/reps/me/onboarding", nil, "", nil); strings.Contains(string(got.Body), "No space left") {
		t.Error("the rep's progress shows the database's error")
	}
	if page := rep.raw("GET", "/wizard/profile", nil, "", nil); strings.Contains(string(page.Body), "No space left") || !strings.Contains(string(page.Body), "Support has been alerted") {
		t.Error("the wizard shows the database's error, or not what happens next")
	}
	waitFor(t, "onboarding.stuck alert on Redis", 10*time.Second, func() bool {
		select {
		case ev := <-sub.C():
			return ev.Type == onramp.EventStepStuck && ev.RepID == repUser.ID
		default:
			return false
		}
	})

	// Support sees it (the stuck state is recorded in the background).
	support := mustLogin(t, dev.Base, "support@demo.onramp.test", demoPassword)
	var stuck []onramp.RepSummary
	waitFor(t, "the stuck step in support's list", 10*time.Second, func() bool {
		support.mustDo("GET", "/api/v1/support/stuck", nil, &stuck)
		return len(stuck) == 1
	})
	if stuck[0].ID != repUser.ID || len(stuck[0].StuckSteps) != 1 || stuck[0].StuckSteps[0] != onramp.StepProfile {
		t.Fatalf("support sees %+v", stuck)
	}
	var detail struct{ Progress onramp.Progress }
	admin.mustDo("GET", "/api/v1/admin/reps/"+repUser.ID, nil, &detail)
	le := detail.Progress.Step(onramp.StepProfile).LastError
	if !strings.Contains(le, "No space left") {
		t.Errorf("support's last error %q does not say what failed", le)
	}
	page := support.raw("GET", "/support", nil, "", nil)
	if page.Status != http.StatusOK || !strings.Contains(string(page.Body), "Test Rep") || !strings.Contains(string(page.Body), html.EscapeString(le)) {
		t.Errorf("support page: %d, rep or the database's error %q not shown", page.Status, le)
	}
	// Retrying while the cause is still there leaves it stuck.
	if st := support.mustDo("POST", "/api/v1/support/reps/"+repUser.ID+"/steps/profile/retry", nil, &p); st != http.StatusOK || p.Step(onramp.StepProfile).Status != onramp.StatusStuck {
		t.Fatalf("retry while broken: %d %s", st, statuses(p))
	}

	exec("DROP TRIGGER test_full_disk ON rep_settings")
	if st := support.mustDo("POST", "/api/v1/support/reps/"+repUser.ID+"/steps/profile/retry", nil, &p); st != http.StatusOK {
		t.Fatalf("retry: %d", st)
	}
	if s := p.Step(onramp.StepProfile); s.Status != onramp.StatusDone || s.Attempts != 3 {
		t.Fatalf("after retry: %s attempts %d", s.Status, s.Attempts)
	}
	// Nothing left to retry: a conflict, not a silent 200.
	if r := support.raw("POST", "/api/v1/support/reps/"+repUser.ID+"/steps/profile/retry", nil, "", nil); r.Status != http.StatusConflict {
		t.Errorf("retry of a done step: %d %s", r.Status, r.Body)
	}
	var settings struct{ Profile onramp.Profile }
	rep.mustDo("GET", "/api/v1/reps/me/settings", nil, &settings)
	if settings.Profile.FirstName != "Kath" {
		t.Errorf("profile not saved by the retry: %+v", settings.Profile)
	}
	var audits int
	if err := d.db.Pool().QueryRow(context.Background(), "SELECT count(*) FROM audit_log WHERE action = 'step.retry' AND target = $1", repUser.ID).Scan(&audits); err != nil || audits != 2 {
		t.Errorf("audit rows for retry: %d %v", audits, err)
	}

	// Admin reset: the done step goes back to pending.
	if st := admin.mustDo("POST", "/api/v1/admin/reps/"+repUser.ID+"/steps/profile/reset", nil, &p); st != http.StatusOK || p.Step(onramp.StepProfile).Status != onramp.StatusPending {
		t.Fatalf("reset: %d %s", st, statuses(p))
	}
	mustKeepHistory(t, mustTemporalClient(t, dev), workflows.OnboardingID(repUser.OrgID, repUser.ID), "onboarding_v2_stuck_retry_history.json")
}

// mustSubscribe listens to an org's events on Redis the way a second API
// instance of the test system would.
func mustSubscribe(t testing.TB, e env, orgID string) onramp.Subscription {
	t.Helper()
	rdb, err := redisbus.Open(context.Background(), "redis://127.0.0.1:6379/0")
	if err != nil {
		t.Fatal(err)
	}
	bus := redisbus.New(rdb, e["ONRAMP_REDIS_PREFIX"])
	sub, err := bus.Subscribe(context.Background(), orgID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sub.Close()
		bus.Close()
		rdb.Close()
	})
	return sub
}
