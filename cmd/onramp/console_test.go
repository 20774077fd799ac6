package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/onramp/onramp"
)

// TestConsoleInBrowser drives the rep console and the visitor chat page in
// headless Chromium against `onramp dev`: a ready rep opens /console; a
// VIP visitor event sent with an API key the admin created shows there
// live (with the rep's sound, voice and a browser notification); a
// visitor on /chat/demo (another browser context) starts a chat; the
// console shows it waiting, the rep accepts and answers, the visitor sees
// the answer (and the rep typing), replies, and the console shows the
// reply; the rep ends the chat and the visitor's page says so.
func TestConsoleInBrowser(t *testing.T) {
	chrome := chromiumPath(t)
	e := newEnv(t)
	dev := mustStart(t, e, "dev")
	admin := mustLogin(t, dev.Base, adminEmail, demoPassword)
	const email = "console@example.com"
	repUser := mustCreateRep(t, admin, email)
	rep := mustLogin(t, dev.Base, email, "correct-horse-battery")
	if p := completeBuiltSteps(t, rep); !p.Finished {
		t.Fatalf("onboarding not finished: %s", statuses(p))
	}
	// "Waiting for a Rep" goes to online reps who are ready: wait for the
	// finish to reach the rep's status.
	waitFor(t, "the rep to be ready", 20*time.Second, func() bool {
		var reps []onramp.RepSummary
		admin.mustDo("GET", "/api/v1/admin/reps", nil, &reps)
		for _, r := range reps {
			if r.ID == repUser.ID {
				return r.Status == "ready"
			}
		}
		return false
	})
	var key struct{ Key string }
	if st := admin.mustDo("POST", "/api/v1/admin/api-keys", map[string]string{"name": "Browser test website"}, &key); st != http.StatusCreated || key.Key == "" {
		t.Fatalf("create API key: %d", st)
	}
	shots := os.Getenv("ONRAMP_SCREENSHOT_DIR")

	actx, cancelA := browserAllocator(t, chrome,
		// Two tabs work at once: neither may be slowed down as a background tab.
		chromedp.Flag("disable-background-timer-throttling", true), chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"))
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatal(err)
	}
	// The visitor: another browser context (no cookies of the rep's).
	vctx, cancelV := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancelV()
	if err := chromedp.Do(vctx); err != nil {
		t.Fatal(err)
	}

	// step runs actions in one tab, and screenshots it when asked to.
	step := func(tab context.Context, name string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(tab, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			html, _ := chromedp.Run(tab, chromedp.OuterHTML(chromedp.CSS("main")))
			t.Fatalf("%s: %v\npage: %.4000s", name, err, html)
		}
		if shots != "" {
			if png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)); err == nil {
				_ = os.WriteFile(filepath.Join(shots, "console-"+name+".png"), png, 0o644)
			}
		}
	}
	// has waits until the text of the element sel contains want.
	has := func(sel, want string) chromedp.Action[chromedp.Void] {
		js := fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).some(e => e.textContent.includes(%q))`, sel, want)
		return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Poll[bool](js, chromedp.WithPollingInterval(100*time.Millisecond))(ctx, tg)
			return chromedp.Void{}, err
		}
	}
	get := func(tab context.Context, a chromedp.Action[string]) string {
		t.Helper()
		v, err := chromedp.Run(tab, a)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	grantNotifications := func(ctx context.Context, _ *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, chromedp.FromContext(ctx).Browser, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: "notifications"}, Setting: browser.PermissionSettingGranted, Origin: dev.Base,
		})
		return chromedp.Void{}, err
	}

	step(ctx, "01-console",
		grantNotifications,
		chromedp.Navigate(dev.Base+"/login?next=/console"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), email),
		chromedp.SendKeys(chromedp.ID("password"), "correct-horse-battery"),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#console-connection[data-state="live"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#notify-state[data-permission="granted"]`)),
	)
	if p := get(ctx, chromedp.Text(chromedp.ID("alert-prefs"))); !strings.Contains(p, "Marimba") || !strings.Contains(p, "on") {
		t.Errorf("the console shows the alert preferences %q, want Marimba and voice on", p)
	}

	// A VIP visitor owned by the rep, from the website (the admin's API key).
	body, _ := json.Marshal(map[string]string{
		"id": "evt-vip-browser", "type": "vip", "visitor_id": "v-42", "account": "Acme", "owner_rep": email,
		"page": "https://example.com/pricing", "name": "Ada Visitor",
	})
	req, _ := http.NewRequest("POST", dev.Base+"/api/v1/visitor-events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key.Key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ingest onramp.IngestResult
	_ = json.NewDecoder(resp.Body).Decode(&ingest)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || ingest.Notified != 1 {
		t.Fatalf("visitor event: %d %+v", resp.StatusCode, ingest)
	}
	step(ctx, "02-vip-live",
		has(`.stream[data-stream="vip"] .entry[data-kind="vip"]`, "Ada Visitor"),
	)
	if a := get(ctx, chromedp.Evaluate[string](`document.querySelector(".stream[data-stream=\"vip\"] .entry").getAttribute("data-alerted")`)); a != "browser sound:marimba voice" {
		t.Errorf("the VIP entry was alerted with %q, want a browser notification, the marimba sound and the voice", a)
	}
	if txt := get(ctx, chromedp.Text(chromedp.CSS(`.stream[data-stream="vip"] .entry`))); !strings.Contains(txt, "Acme") || !strings.Contains(txt, "example.com/pricing") {
		t.Errorf("the VIP entry says %q", txt)
	}

	// A visitor starts a chat on the org's chat page.
	step(vctx, "03-visitor-start",
		chromedp.Navigate(dev.Base+"/chat/demo"),
		chromedp.WaitVisible(chromedp.ID("start-form")),
		chromedp.SendKeys(chromedp.ID("visitor-name"), "Grace"),
		chromedp.SendKeys(chromedp.ID("visitor-message"), "Hello, is anyone there?"),
		chromedp.Click(chromedp.ID("start-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#visitor-state[data-chat-state="waiting"]`)),
		has(`#visitor-messages .message[data-sender="visitor"]`, "Hello, is anyone there?"),
	)
	step(ctx, "04-console-waiting",
		has(`#waiting-list .chat-item`, "Grace"),
		has(`.stream[data-stream="waiting_for_rep"] .entry`, "Grace"),
		chromedp.Click(chromedp.CSS(`#waiting-list [data-accept]`)),
		chromedp.WaitVisible(chromedp.CSS(`#chat-state[data-chat-state="active"]`)),
		has(`#chat-messages .message[data-sender="visitor"]`, "Hello, is anyone there?"),
		has(`#mine-list`, "Grace"),
	)
	if n := get(ctx, chromedp.Evaluate[string](`String(document.querySelectorAll('#waiting-list .chat-item').length)`)); n != "0" {
		t.Errorf("%s chats still waiting after the accept", n)
	}
	step(vctx, "05-visitor-accepted",
		chromedp.WaitVisible(chromedp.CSS(`#visitor-state[data-chat-state="active"]`)),
		has(`#visitor-state`, "Test Rep"),
	)

	// The rep answers; the visitor sees them typing, then the answer.
	step(ctx, "06-rep-typing", chromedp.SendKeys(chromedp.ID("chat-text"), "Hi Grace, how can I help?"))
	step(vctx, "07-visitor-sees-typing", has(`#visitor-typing`, "is typing"))
	step(ctx, "08-rep-answers",
		chromedp.Click(chromedp.ID("chat-send")),
		has(`#chat-messages .message[data-sender="rep"]`, "how can I help?"),
	)
	step(vctx, "09-visitor-sees-answer",
		has(`#visitor-messages .message[data-sender="rep"]`, "Hi Grace, how can I help?"),
		chromedp.SendKeys(chromedp.ID("visitor-text"), "I'd like a demo, please."),
	)
	step(ctx, "10-console-sees-typing", has(`#chat-typing`, "Grace is typing"))
	step(vctx, "11-visitor-replies",
		chromedp.Click(chromedp.ID("visitor-send")),
		has(`#visitor-messages .message[data-sender="visitor"]`, "I'd like a demo, please."),
	)
	step(ctx, "12-console-sees-reply",
		has(`#chat-messages .message[data-sender="visitor"]`, "I'd like a demo, please."),
	)
	if n := get(ctx, chromedp.Evaluate[string](`String(document.querySelectorAll('#chat-messages .message').length)`)); n != "3" {
		t.Errorf("the console shows %s messages, want 3 (each once)", n)
	}

	// The rep ends the chat; the visitor's page says so.
	step(ctx, "13-rep-ends",
		chromedp.Click(chromedp.ID("chat-end")),
		chromedp.WaitVisible(chromedp.CSS(`#chat-state[data-chat-state="ended"]`)),
	)
	step(vctx, "14-visitor-ended",
		chromedp.WaitVisible(chromedp.CSS(`#visitor-state[data-chat-state="ended"]`)),
		chromedp.WaitVisible(chromedp.ID("visitor-new")),
	)

	// A visitor who leaves before anyone accepts: the console drops the
	// chat from the waiting list (chat.taken). A rep who accepts a chat
	// that is not waiting any more (another rep was first, or it ended)
	// gets a 409, and the console says so: here with an Accept button for
	// that chat put in the page, since the live list no longer offers it.
	var started struct {
		Conversation onramp.Conversation
		Token        string
	}
	visitor := newClient(t, dev.Base)
	if st := visitor.mustDo("POST", "/api/v1/chat/demo/conversations", map[string]string{"name": "Linus", "message": "Anyone?"}, &started); st != http.StatusCreated {
		t.Fatalf("start a chat: %d", st)
	}
	step(ctx, "15-console-second-waiting", has(`#waiting-list .chat-item`, "Linus"))
	if r := visitor.raw("POST", "/api/v1/chat/conversations/"+started.Conversation.ID+"/end", nil, "", map[string]string{"Authorization": "Bearer " + started.Token}); r.Status != http.StatusOK {
		t.Fatalf("the visitor ends the chat: %d %s", r.Status, r.Body)
	}
	step(ctx, "16-visitor-left", chromedp.WaitNotPresent(chromedp.CSS(`#waiting-list .chat-item`)))
	stale := fmt.Sprintf(`(() => { const b = document.createElement('button'); b.id = 'stale-accept'; b.setAttribute('data-accept', %q);
		b.textContent = 'Accept'; document.getElementById('chat-error').after(b); })()`, started.Conversation.ID)
	step(ctx, "17-accept-conflict",
		chromedp.Evaluate[chromedp.Void](stale),
		chromedp.Click(chromedp.ID("stale-accept")),
		has(`#chat-error`, "Another rep accepted this chat first"),
	)

	// The admin page: API keys. A new key is shown once; the list has the
	// demo website's, the test's (used by the VIP event) and the new one;
	// revoking marks it revoked.
	actx2, cancelAdm := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancelAdm()
	if err := chromedp.Do(actx2); err != nil { // the tab lives as long as actx2
		t.Fatal(err)
	}
	step(actx2, "18-admin-api-keys",
		chromedp.Navigate(dev.Base+"/login?next=/admin"),
		chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), adminEmail),
		chromedp.SendKeys(chromedp.ID("password"), demoPassword),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.CSS(`#keys-body tr[data-key-id]`)),
		chromedp.SendKeys(chromedp.ID("key-name"), "Marketing website"),
		chromedp.Click(chromedp.ID("key-submit")),
		chromedp.WaitVisible(chromedp.ID("new-key-value")),
		has(`#keys-body tr[data-revoked="false"]`, "Marketing website"),
	)
	if k := get(actx2, chromedp.Evaluate[string](`document.getElementById('new-key-value').textContent`)); len(k) < 20 || strings.Contains(get(actx2, chromedp.Evaluate[string](`document.getElementById('keys-body').textContent`)), k) {
		t.Errorf("the new key %q is not shown once, apart from the list", k)
	}
	if n := get(actx2, chromedp.Evaluate[string](`String(document.querySelectorAll('#keys-body tr[data-key-id]').length)`)); n != "3" {
		t.Errorf("%s keys listed, want 3", n)
	}
	step(actx2, "19-admin-revoke",
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(chromedp.CSS(`#keys-body tr[data-revoked="false"] [data-revoke-key]`)),
		chromedp.WaitVisible(chromedp.CSS(`#keys-body tr[data-revoked="true"]`)),
	)

	// An unknown org's chat page is a clear "not found".
	r, err := http.Get(dev.Base + "/chat/no-such-org")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusNotFound {
		t.Errorf("/chat/no-such-org: %d, want 404", r.StatusCode)
	}
}
