package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/onramp/onramp"
)

// chromiumPath finds Debian's chromium. In CI (CI=true) a missing browser
// fails the test: `make test` installs it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium found: run `scripts/services chromium`")
	}
	t.Skip("no chromium found: run `scripts/services chromium`")
	return ""
}

// browserAllocator starts headless Chromium (a fresh profile, no network
// of its own) with extra options.
func browserAllocator(t *testing.T, chrome string, extra ...chromedp.ExecAllocatorOption) (context.Context, context.CancelFunc) {
	opts := append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chrome), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
	}, extra...)
	return chromedp.NewExecAllocator(context.Background(), opts...)
}

// TestWizardInBrowser drives the wizard in headless Chromium: sign in, then
// profile (with a photo upload), availability (a bad buffer first: the error
// shows next to the field), notifications and browser permissions, and
// watches the step list change live when the rep skips a step elsewhere.
func TestWizardInBrowser(t *testing.T) {
	chrome := chromiumPath(t)
	e := newEnv(t)
	dev := mustStart(t, e, "dev")
	admin := mustLogin(t, dev.Base, adminEmail, demoPassword)
	mustCreateRep(t, admin, "browser@example.com")

	photo := filepath.Join(t.TempDir(), "me.png")
	if err := os.WriteFile(photo, pngBytes(t, 300, 200), 0o644); err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("ONRAMP_SCREENSHOT_DIR")

	actx, cancelA := browserAllocator(t, chrome,
		// Answer camera/microphone prompts with fake devices: headless
		// Chromium has no one to click the prompt, and getUserMedia would
		// otherwise wait on it forever.
		chromedp.Flag("use-fake-ui-for-media-stream", true), chromedp.Flag("use-fake-device-for-media-stream", true))
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelT()

	// Start the browser on ctx: the first Run ties the tab to its context,
	// and the steps below run with shorter ones derived from it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	step := func(name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("%s: %v\npage: %.3000s", name, err, html)
		}
		if shots != "" {
			if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
				_ = os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644)
			}
		}
	}
	get := func(a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	status := func(key onramp.StepKey, s onramp.StepStatus) chromedp.Action[chromedp.Void] {
		return chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#step-list li[data-step=%q][data-status=%q]`, key, s)))
	}
	grantNotifications := func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, chromedp.FromContext(ctx).Browser, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: "notifications"}, Setting: browser.PermissionSettingGranted, Origin: dev.Base,
		})
		return chromedp.Void{}, err
	}

	step("01-login",
		chromedp.Navigate(dev.Base+"/login"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), "browser@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct-horse-battery"),
		chromedp.Click(chromedp.ID("login-submit")),
		// Signed in: the account step is done and the wizard opens on the next one.
		status(onramp.StepAccount, onramp.StatusDone),
		status(onramp.StepProfile, onramp.StatusPending),
	)

	step("02-profile",
		chromedp.Navigate(dev.Base+"/wizard/profile"),
		chromedp.WaitVisible(chromedp.ID("profile-form")),
		chromedp.SetUploadFiles(chromedp.ID("photo"), []string{photo}),
		chromedp.SendKeys(chromedp.ID("first_name"), "Barbara"),
		chromedp.SendKeys(chromedp.ID("last_name"), "Liskov"),
		chromedp.Click(chromedp.CSS("#title-chips [data-title-suggestion]")),
	)
	if title := get(chromedp.Value(chromedp.ID("title"))); title == "" {
		t.Error("clicking a title suggestion did not fill the title")
	}
	step("03-profile-saved",
		chromedp.Click(chromedp.ID("profile-submit")),
		status(onramp.StepProfile, onramp.StatusDone),
	)

	// The step list stays at the top of the page beside a long step, also
	// once the rep scrolled down to the step's button (it used to follow
	// the scroll and drift to the middle of the page).
	step("04-availability-page",
		chromedp.Navigate(dev.Base+"/wizard/availability"),
		chromedp.WaitVisible(chromedp.ID("availability-form")),
	)
	tops, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`window.scrollTo(0, document.documentElement.scrollHeight);
		[document.querySelector('.wizard-nav').getBoundingClientRect().top + window.scrollY,
		 document.querySelector('#step-panel').getBoundingClientRect().top + window.scrollY, window.scrollY]`))
	if err != nil {
		t.Fatal(err)
	}
	if len(tops) != 3 || tops[2] < 100 {
		t.Fatalf("the page did not scroll: %v", tops)
	}
	if d := tops[0] - tops[1]; d > 2 || d < -2 {
		t.Errorf("scrolled by %v px: the step list is %v px down the page, the step %v px", tops[2], tops[0], tops[1])
	}
	step("04-availability-error",
		chromedp.Navigate(dev.Base+"/wizard/availability"),
		chromedp.WaitVisible(chromedp.ID("availability-form")),
		chromedp.SetValue(chromedp.ID("time_zone"), "Europe/Paris"),
		chromedp.SetValue(chromedp.ID("buffer_minutes"), "-5"),
		chromedp.Click(chromedp.ID("availability-submit")),
		chromedp.WaitVisible(chromedp.CSS(`[data-error-for="buffer_minutes"]:not(:empty)`)),
		status(onramp.StepAvailability, onramp.StatusPending),
	)
	if msg := get(chromedp.Text(chromedp.CSS(`[data-error-for="buffer_minutes"]`))); !strings.Contains(msg, "between 0 and 240 minutes") {
		t.Errorf("buffer error shown: %q", msg)
	}
	step("05-availability",
		chromedp.SetValue(chromedp.ID("buffer_minutes"), "10"),
		chromedp.Click(chromedp.ID("availability-submit")),
		status(onramp.StepAvailability, onramp.StatusDone),
	)

	step("06-notifications-page",
		chromedp.Navigate(dev.Base+"/wizard/notifications"),
		chromedp.WaitVisible(chromedp.ID("notifications-form")),
	)
	disabled, err := chromedp.Run(ctx, chromedp.JavascriptAttribute[bool](chromedp.CSS(`tr[data-stream="waiting_for_rep"] input[data-channel="desktop"]`), "disabled"))
	if err != nil || !disabled {
		t.Errorf(`the "Waiting for a Rep" desktop switch can be turned off in the page (%v)`, err)
	}
	step("07-notifications",
		chromedp.SetValue(chromedp.ID("sound"), "bell"),
		chromedp.Click(chromedp.ID("notifications-submit")),
		status(onramp.StepNotifications, onramp.StatusDone),
	)

	step("08-browser",
		chromedp.Navigate(dev.Base+"/wizard/browser"),
		chromedp.WaitVisible(chromedp.ID("browser-allow")),
		grantNotifications,
		// With everything allowed the page shows what was granted and moves
		// on to the next step as soon as the server answers: wait for what
		// stays (the step's status), not for the results it shows briefly.
		chromedp.Click(chromedp.ID("browser-allow")),
		status(onramp.StepBrowser, onramp.StatusDone),
	)

	// Live: the rep skips a step from another session; the open page's step
	// list changes without a reload.
	other := mustLogin(t, dev.Base, "browser@example.com", "correct-horse-battery")
	if st := other.mustDo("POST", "/api/v1/reps/me/onboarding/steps/calendar/skip", nil, nil); st != http.StatusOK {
		t.Fatalf("skip calendar: %d", st)
	}
	step("09-live-update", status(onramp.StepCalendar, onramp.StatusSkipped))

	// The settings page saves in place (Settings → Me).
	step("10-settings",
		chromedp.Navigate(dev.Base+"/settings"),
		chromedp.WaitVisible(chromedp.ID("notifications-form")),
		chromedp.SetValue(chromedp.ID("sound"), "pop"),
		chromedp.Click(chromedp.ID("notifications-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#flash.is-visible`)),
	)
	if msg := get(chromedp.Text(chromedp.ID("flash"))); !strings.Contains(msg, "Saved your notifications") {
		t.Errorf("settings page says %q", msg)
	}
	if u := get(chromedp.Evaluate[string](`location.pathname`)); u != "/settings" {
		t.Errorf("saving on the settings page went to %s", u)
	}

	// And the server agrees with what the page showed.
	p := other.progress()
	for _, k := range []onramp.StepKey{onramp.StepAccount, onramp.StepProfile, onramp.StepAvailability, onramp.StepNotifications, onramp.StepBrowser} {
		if p.Step(k).Status != onramp.StatusDone {
			t.Errorf("%s is %s on the server", k, p.Step(k).Status)
		}
	}
	var settings struct {
		Availability  onramp.Availability
		Notifications onramp.NotificationPrefs
		Browser       *onramp.BrowserPermissions
	}
	other.mustDo("GET", "/api/v1/reps/me/settings", nil, &settings)
	if settings.Availability.BufferMinutes != 10 || settings.Notifications.Sound != "pop" {
		t.Errorf("saved: buffer %d sound %q", settings.Availability.BufferMinutes, settings.Notifications.Sound)
	}
	if b := settings.Browser; b == nil || b.Notifications != onramp.PermissionGranted || !strings.Contains(b.UserAgent, "Chrome") {
		t.Errorf("saved browser permissions %+v, want notifications granted, from Chrome", b)
	}
}
