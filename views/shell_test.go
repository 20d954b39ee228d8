package views

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/filesync"
	"codeberg.org/plinth/plinth/core/imodel"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/storage"
)

const masterPw = "correct horse"

// harness is a window on the real core services over real Badger stores.
type harness struct {
	t       testing.TB
	ui      *UI
	win     fyne.Window
	acc     *account.Service
	files   *files.Service
	sync    *filesync.Service
	notify  *notify.Service
	backups *backup.Service
	imodels *imodel.Service
	app     fyne.App
	store   *storage.Store
	fs      *storage.Store
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	st, err := storage.Open(t.TempDir(), storage.Manager, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := storage.Open(t.TempDir(), storage.FileServer, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close(); _ = fs.Close() })
	h := &harness{t: t, app: a, store: st, fs: fs}
	h.acc = account.NewService(st)
	h.notify = notify.NewService(st, h.acc, nil)
	h.notify.SetSecrets(notify.NewFileSecrets(st, filepath.Join(t.TempDir(), "secret.key")))
	h.files = files.NewService(st, fs, h.acc, nil)
	h.sync = filesync.NewService(h.files, h.acc, h.notify, nil)
	h.backups = backup.NewService(h.files, h.acc, h.notify, t.TempDir(), nil)
	h.imodels = imodel.NewService(h.files, h.acc, h.notify, nil)
	h.backups.AfterRestore = func(ctx context.Context) { _, _, _ = h.sync.Detect(ctx, true) }
	h.win = test.NewTempWindow(t, widget.NewLabel(""))
	h.win.Resize(DefaultSize)
	h.ui = New(a, h.win, h.services())
	h.ui.queued = &callbacks{} // the test goroutine plays the UI goroutine
	h.ui.minRunning = 0        // no second's wait after each piece of long work; tests of it set it back
	t.Cleanup(h.ui.Wait)
	return h
}

func (h *harness) services() Services {
	return Services{Accounts: h.acc, Files: h.files, Sync: h.sync, Notifications: h.notify, Backups: h.backups, IModels: h.imodels, DataDir: "/data/plinth",
		Stores: func(context.Context) ([]StoreInfo, error) {
			return []StoreInfo{{Name: "Manager", Identity: h.store.Identity().ID}, {Name: "File Server", Identity: h.fs.Identity().ID}}, nil
		}}
}

// bootstrap creates masteradmin outside the window, as `plinth init` would.
func (h *harness) bootstrap() account.Actor {
	h.t.Helper()
	a, err := h.acc.Bootstrap(context.Background(), masterPw)
	if err != nil {
		h.t.Fatal(err)
	}
	return a
}

func (h *harness) start(opt StartOptions) {
	h.ui.Start(opt)
	h.ui.Wait()
}

func (h *harness) login(user, pw string) {
	h.t.Helper()
	s := h.ui.login
	if s == nil {
		h.t.Fatal("login screen not shown")
	}
	s.user.SetText("")
	test.Type(s.user, user)
	test.Type(s.password, pw)
	test.Tap(s.submit)
	h.ui.Wait()
}

// texts collects every visible text in the window, dialogs included.
func (h *harness) texts() string {
	var b strings.Builder
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		switch x := o.(type) {
		case *widget.Label:
			b.WriteString(x.Text + "\n")
		case *widget.Button:
			b.WriteString("[" + x.Text + "]\n")
		case *widget.Entry:
			return
		}
		switch x := o.(type) {
		case *fyne.Container:
			for _, c := range x.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(x).Objects() {
				walk(c)
			}
		}
	}
	walk(h.win.Content())
	for _, o := range h.win.Canvas().Overlays().List() {
		walk(o)
	}
	return b.String()
}

func (h *harness) mustSee(want ...string) {
	h.t.Helper()
	got := h.texts()
	for _, w := range want {
		if !strings.Contains(got, w) {
			h.t.Fatalf("window does not show %q; it shows:\n%s", w, got)
		}
	}
}

func (h *harness) mustNotSee(text string) {
	h.t.Helper()
	if got := h.texts(); strings.Contains(got, text) {
		h.t.Fatalf("window shows %q; it should not:\n%s", text, got)
	}
}

func TestFirstRunThenEveryPage(t *testing.T) {
	h := newHarness(t)
	h.start(StartOptions{})
	s := h.ui.firstRun
	if s == nil {
		t.Fatal("first start did not show the first-run screen")
	}
	h.mustSee("Welcome to Plinth")

	// Mismatched and short passwords are refused in the window.
	test.Type(s.password, masterPw)
	test.Type(s.repeat, "something else")
	test.Tap(s.submit)
	h.ui.Wait()
	h.mustSee("The two passwords differ")
	s.password.SetText("short")
	s.repeat.SetText("short")
	test.Tap(s.submit)
	h.ui.Wait()
	h.mustSee("The password must have at least 8 characters")
	if ok, _ := h.acc.Initialised(context.Background()); ok {
		t.Fatal("a refused first-run created masteradmin")
	}

	s.password.SetText(masterPw)
	s.repeat.SetText(masterPw)
	test.Tap(s.submit)
	h.ui.Wait()
	if !h.ui.Actor().IsMaster() {
		t.Fatalf("after first run the actor is %q, want masteradmin", h.ui.Actor().Name())
	}
	h.mustSee("Logged in as masteradmin", "Projects")

	for i, p := range pages {
		h.ui.nav.Select(i) // what a click on the navigation does
		h.ui.Wait()
		if h.ui.Current() != p.id {
			t.Fatalf("after selecting %s the page is %s", p.title, h.ui.Current())
		}
		h.mustSee(p.title)
		switch p.id {
		case PageIModels:
			h.mustSee("There is no iModel yet.", "[New iModel…]", "[New connection…]")
		case PageBackups:
			h.mustSee("[Back up now]", "Full backups are not encrypted.")
		case PageProjects:
			h.mustSee("0 folders, 0 files (0 B).")
		case PageServers:
			h.mustSee("Synchronization history", "The Manager and the File Server agree.")
		case PageNotifications:
			h.mustSee("0 notifications, 0 new.")
		}
	}
	h.mustSee("1 user.", "masteradmin", "Server Administrator")
}

func TestLogin(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.start(StartOptions{})
	h.mustSee("Log in to Plinth", "/data/plinth")

	h.login("masteradmin", "wrong password")
	h.mustSee("Wrong user name or password")
	if h.ui.login.password.Text != "" {
		t.Error("the refused password stays in the field")
	}
	if !h.ui.Actor().IsZero() {
		t.Fatal("a wrong password logged in")
	}

	h.login("masteradmin", masterPw)
	h.mustSee("Logged in as masteradmin")
	h.mustNotSee("Wrong user name or password")

	// Log out leads back to the login screen with the name filled in.
	test.Tap(findButton(t, h, "Log out"))
	h.ui.Wait()
	if h.ui.login == nil || h.ui.login.user.Text != "masteradmin" || !h.ui.Actor().IsZero() {
		t.Fatal("log out did not return to the login screen")
	}
}

func TestLoginLockoutIsExplained(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.start(StartOptions{})
	for range account.MaxFailedLogins {
		h.login("masteradmin", "nope nope")
	}
	h.mustSee("User masteradmin is locked for 30 more seconds after 5 wrong passwords in a row")
	h.login("masteradmin", masterPw)
	if !h.ui.Actor().IsZero() {
		t.Fatal("a locked user logged in")
	}
}

func TestStartWithPasswordOpensPage(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.start(StartOptions{User: "masteradmin", Password: masterPw, Page: PageIModels})
	if h.ui.Current() != PageIModels {
		t.Fatalf("page = %q, want imodels", h.ui.Current())
	}
	h.mustSee("iModels", "There is no iModel yet.")

	// A wrong password given on start shows the login screen with the reason.
	h2 := newHarness(t)
	h2.bootstrap()
	h2.start(StartOptions{User: "masteradmin", Password: "not it at all"})
	h2.mustSee("Log in to Plinth", "Wrong user name or password")
}

// findVisible returns the first visible widget of type T in the window or
// its dialogs for which match is true.
func findVisible[T fyne.CanvasObject](h *harness, match func(T) bool) (T, bool) {
	var found T
	ok := false
	var walk func(o fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if ok || o == nil || !o.Visible() {
			return
		}
		if x, is := o.(T); is && match(x) {
			found, ok = x, true
			return
		}
		switch x := o.(type) {
		case *fyne.Container:
			for _, c := range x.Objects {
				walk(c)
			}
		case fyne.Widget:
			for _, c := range test.WidgetRenderer(x).Objects() {
				walk(c)
			}
		}
	}
	walk(h.win.Content())
	for _, o := range h.win.Canvas().Overlays().List() {
		walk(o)
	}
	return found, ok
}

func findButton(t *testing.T, h *harness, text string) *widget.Button {
	t.Helper()
	b, ok := findVisible(h, func(b *widget.Button) bool { return b.Text == text })
	if !ok {
		t.Fatalf("no visible button %q; the window shows:\n%s", text, h.texts())
	}
	return b
}

func findCheck(t *testing.T, h *harness, text string) *widget.Check {
	t.Helper()
	c, ok := findVisible(h, func(c *widget.Check) bool { return c.Text == text })
	if !ok {
		t.Fatalf("no visible check box %q; the window shows:\n%s", text, h.texts())
	}
	return c
}

func TestBanner(t *testing.T) {
	h := newHarness(t)
	h.bootstrap()
	h.start(StartOptions{User: "masteradmin", Password: masterPw})
	b := h.ui.Banner()
	if b.State() != BannerHidden || b.obj.Visible() {
		t.Fatal("banner shows before any work")
	}
	cancelled := 0
	b.Running("Synchronizing files…", func() { cancelled++ })
	b.Progress(progress.Report{Done: 25, Total: 100}, "Synchronizing files: 25 of 100")
	if b.State() != BannerShowRunning || b.bg.FillColor != BannerRunning || b.bar.Value != 0.25 {
		t.Fatalf("running banner: state %v colour %v progress %v", b.State(), b.bg.FillColor, b.bar.Value)
	}
	if b.Text() != "Synchronizing files: 25 of 100" {
		t.Errorf("running text = %q", b.Text())
	}
	b.Progress(progress.Report{Done: 1536 << 20, Total: 4 << 30, Bytes: true}, "Uploading… 1.5 GiB of 4.0 GiB")
	if b.Text() != "Uploading… 1.5 GiB of 4.0 GiB" || b.bar.Value != 0.375 {
		t.Errorf("byte progress: text %q, bar %v", b.Text(), b.bar.Value)
	}
	test.Tap(b.cancel)
	test.Tap(b.cancel) // a second press does nothing more
	if cancelled != 1 || !b.cancel.Disabled() {
		t.Fatalf("Cancel called the stop function %d times, want 1", cancelled)
	}
	b.Done("Synchronization finished: 3 deleted, 5 adopted")
	if b.State() != BannerShowDone || b.bg.FillColor != BannerDone || b.bar.Visible() || b.cancel.Visible() {
		t.Fatal("done banner is not the green bar without progress and Cancel")
	}
	b.Failed("Synchronization failed: the disk is full")
	if b.State() != BannerShowFailed || b.bg.FillColor != BannerFailed {
		t.Fatal("failed banner is not red")
	}
	test.Tap(b.close)
	if b.State() != BannerHidden || b.obj.Visible() {
		t.Fatal("closing the banner left it on screen")
	}
}

func TestWindowRemembersSize(t *testing.T) {
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, widget.NewLabel("x"))
	RememberSize(w, a.Preferences(), func() {})
	if got := w.Canvas().Size(); got != DefaultSize {
		t.Fatalf("first size = %v, want %v", got, DefaultSize)
	}
	w.Resize(fyne.NewSize(900, 600))
	saveSize(w, a.Preferences()) // what the close intercept does; Fyne's test window cannot run it

	w2 := test.NewTempWindow(t, widget.NewLabel("x"))
	RememberSize(w2, a.Preferences(), func() {})
	if got := w2.Canvas().Size(); got != fyne.NewSize(900, 600) {
		t.Fatalf("second window size = %v, want 900x600", got)
	}
}

// collectForms finds the form items inside o.
func collectForms(o fyne.CanvasObject, out *[]*widget.FormItem) {
	if o == nil || !o.Visible() {
		return
	}
	if f, ok := o.(*widget.Form); ok {
		*out = append(*out, f.Items...)
		return
	}
	switch x := o.(type) {
	case *fyne.Container:
		for _, c := range x.Objects {
			collectForms(c, out)
		}
	case fyne.Widget:
		for _, c := range test.WidgetRenderer(x).Objects() {
			collectForms(c, out)
		}
	}
}
