// Package views is Plinth's window, built with Fyne: the first-run and
// login screens, the shell with its navigation and top banner, and one file
// per page. Views talk to core services through small interfaces declared
// next to them; they never touch storage. Long work runs off the UI
// goroutine and comes back through fyne.Do.
package views

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
	"codeberg.org/plinth/plinth/core/backup"
	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/filesync"
	"codeberg.org/plinth/plinth/core/health"
	"codeberg.org/plinth/plinth/core/notify"
	"codeberg.org/plinth/plinth/core/progress"
	"codeberg.org/plinth/plinth/core/schedule"
	"codeberg.org/plinth/plinth/core/text"
)

// Accounts is what the window needs of core/account.
type Accounts interface {
	Initialised(ctx context.Context) (bool, error)
	Bootstrap(ctx context.Context, password string) (account.Actor, error)
	Login(ctx context.Context, name, password string) (account.Actor, error)
	Users(ctx context.Context, actor account.Actor) ([]account.Info, error)
	AddUser(ctx context.Context, actor account.Actor, nu account.NewUser) error
	SetRole(ctx context.Context, actor account.Actor, name string, role account.Role) error
	ResetPassword(ctx context.Context, actor account.Actor, name, password string) error
	RemoveUser(ctx context.Context, actor account.Actor, name string) error
	SetEmail(ctx context.Context, actor account.Actor, name, email string) error
	Can(ctx context.Context, actor account.Actor, item account.Item, want account.Permission) bool
	UserInfo(ctx context.Context, name string) (account.Info, error)
}

// Files is what the window needs of core/files.
type Files interface {
	List(ctx context.Context, actor account.Actor, id string) ([]files.Node, error)
	Get(ctx context.Context, actor account.Actor, id string) (files.Node, error)
	Lookup(ctx context.Context, actor account.Actor, path string) (files.Node, error)
	Path(ctx context.Context, id string) (string, error)
	Create(ctx context.Context, actor account.Actor, parent, name string, kind files.Kind) (files.Node, error)
	ImportPaths(ctx context.Context, actor account.Actor, parent string, locals []string, prog progress.Func) (files.ImportStats, error)
	Export(ctx context.Context, actor account.Actor, id, dest string, prog progress.Func) (int, error)
	ExportVersion(ctx context.Context, actor account.Actor, fileID, versionID, dest string) (string, error)
	Rename(ctx context.Context, actor account.Actor, id, name string) (files.Node, error)
	Move(ctx context.Context, actor account.Actor, id, newParent string) (files.Node, error)
	Delete(ctx context.Context, actor account.Actor, id string, prog progress.Func) error
	Versions(ctx context.Context, actor account.Actor, id string) ([]files.Version, error)
	MakeCurrent(ctx context.Context, actor account.Actor, fileID, versionID string) (files.Node, error)
	Items(ctx context.Context) ([]files.Node, error)
	Versioning(ctx context.Context) (files.Versioning, error)
	SetVersioning(ctx context.Context, actor account.Actor, v files.Versioning) error
}

// FileSync is what the window needs of core/filesync.
type FileSync interface {
	Detect(ctx context.Context, raise bool) (filesync.Check, files.Diff, error)
	Plan(ctx context.Context, actor account.Actor) (filesync.Plan, error)
	Synchronize(ctx context.Context, actor account.Actor, plan filesync.Plan, prog progress.Func) (filesync.Run, error)
	History(ctx context.Context, actor account.Actor) ([]filesync.Run, error)
	Report(ctx context.Context, actor account.Actor, runID string) ([]filesync.Line, error)
}

// Notifications is what the window needs of core/notify.
type Notifications interface {
	List(ctx context.Context, actor account.Actor, unreadOnly bool) ([]notify.Entry, error)
	MarkRead(ctx context.Context, actor account.Actor, id string) error
	Delete(ctx context.Context, actor account.Actor, id string) error
	OnChange(fn func(user string))
	Preferences(ctx context.Context, actor account.Actor, user string) ([]notify.Preference, error)
	SetPreference(ctx context.Context, actor account.Actor, user string, k notify.Kind, ch notify.Channels) error
	EmailReady(ctx context.Context) (bool, string)
	SMTPSettings(ctx context.Context) (notify.SMTP, error)
	SetSMTP(ctx context.Context, actor account.Actor, c notify.SMTP, password string, setPassword bool) error
	TestSMTPSettings(ctx context.Context, actor account.Actor, c notify.SMTP, password string, setPassword bool, to string) (bool, error)
	SecretsWhere() string
}

// Backups is what the window needs of core/backup.
type Backups interface {
	List() ([]backup.Manifest, error)
	Snapshots(item string) ([]backup.Manifest, error)
	SnapshotCopies(ctx context.Context, item string) ([]backup.Manifest, error)
	History(ctx context.Context, actor account.Actor) ([]backup.Record, error)
	Level1() (backup.Level1Settings, error)
	SetLevel1(ctx context.Context, actor account.Actor, c backup.Level1Settings) error
	Level2() (backup.Level2Settings, error)
	SetLevel2(ctx context.Context, actor account.Actor, c backup.Level2Settings) error
	SetPassphrase(ctx context.Context, actor account.Actor, passphrase string) error
	Level3() (backup.Level3Settings, error)
	SetLevel3(ctx context.Context, actor account.Actor, c backup.Level3Settings) error
	Full(ctx context.Context, actor account.Actor, prog progress.Func) (backup.Manifest, error)
	Snapshot(ctx context.Context, actor account.Actor, item string, prog progress.Func) (backup.Manifest, error)
	OSSnapshot(ctx context.Context, actor account.Actor) (backup.Record, error)
	Verify(ctx context.Context, actor account.Actor, id, passphrase string, prog progress.Func) (backup.Verification, error)
	Preview(ctx context.Context, m backup.Manifest, scope backup.Scope) ([]string, error)
	Restore(ctx context.Context, actor account.Actor, id string, scope backup.Scope, passphrase string, prog progress.Func) (backup.Result, error)
	PreviewItem(ctx context.Context, actor account.Actor, m backup.Manifest, itemPath, asNew string) ([]string, error)
	RestoreItem(ctx context.Context, actor account.Actor, id, itemPath, asNew, passphrase string, prog progress.Func) (backup.Result, error)
	RestoreSnapshot(ctx context.Context, actor account.Actor, id, asNew, passphrase string, prog progress.Func) (backup.Result, error)
	ExportSnapshot(ctx context.Context, actor account.Actor, id, dest string, force bool) error
	ImportSnapshot(ctx context.Context, actor account.Actor, file, asNew, passphrase string, prog progress.Func) (backup.Result, error)
	SnapshotSchedule(ctx context.Context, node string) (backup.SnapSchedule, string, error)
	SetSnapshotSchedule(ctx context.Context, actor account.Actor, node string, c *backup.SnapSchedule) error
	Prune(ctx context.Context, actor account.Actor, dryRun bool) ([]backup.Manifest, error)
	OnDataDisk(target string) bool
	BackupTargets() ([]backup.TargetConfig, error)
	AddTarget(ctx context.Context, actor account.Actor, c backup.TargetConfig, secret string) error
	RemoveTarget(ctx context.Context, actor account.Actor, name string) error
	TestTarget(ctx context.Context, actor account.Actor, name string) error
	CopyPending(ctx context.Context, actor account.Actor, prog progress.Func) ([]backup.CopyState, error)
	FullTo(ctx context.Context, actor account.Actor, into string, prog progress.Func) (backup.Manifest, error)
	TargetBackups(ctx context.Context, name string) ([]backup.Manifest, []backup.Damaged, error)
}

// StoreInfo describes one store on the Servers page.
type StoreInfo struct {
	Name       string // "Manager", "File Server"
	Path       string
	Identity   string
	Generation uint64
	Files      int64
	Bytes      int64
	Disk       int64
	Format     int // the data format the store records
}

// Services are the core services the window uses. Accounts is required;
// pages whose service is nil say so instead of failing.
type Services struct {
	Accounts      Accounts
	Files         Files
	Sync          FileSync
	Notifications Notifications
	Backups       Backups
	IModels       IModels
	// Stores reads both stores' identity and size for the Servers page.
	Stores func(ctx context.Context) ([]StoreInfo, error)
	// Jobs lists the scheduled jobs; Reschedule applies changed backup
	// schedules.
	Jobs       func() []schedule.Status
	Reschedule func() error
	// DataDir is shown in the header so the admin knows which data is open.
	DataDir string
	// Autostart turns starting Plinth at login on and off (the Servers
	// page, and an offer after the first login); nil hides both.
	Autostart Autostart
	// Health is the core's answer to "is my data safe?" (the Overview).
	Health func(ctx context.Context) (health.Report, error)
}

// StartOptions say how the window begins.
type StartOptions struct {
	// User and Password log in at once when Password is not empty
	// (plinth -password-stdin); a wrong password shows the login screen.
	User     string
	Password string
	// Page is the page shown after login ("users", "backups", …).
	Page string
}

// Page ids, for StartOptions.Page and UI.Show.
const (
	PageProjects      = "projects"
	PageServers       = "servers"
	PageBackups       = "backups"
	PageIModels       = "imodels"
	PageNotifications = "notifications"
	PageUsers         = "users"
)

// page is one panel of the shell.
type page interface {
	content() fyne.CanvasObject
	// shown is called on the UI goroutine each time the page is opened.
	shown()
}

type pageInfo struct {
	id, title string
	icon      func() fyne.Resource // theme icons need a running app: look them up late
	build     func(u *UI) page
}

// pages lists the navigation in order. It is filled in init because the
// pages themselves navigate (a notification opens another page).
var pages []pageInfo

func init() {
	pages = []pageInfo{
		{PageOverview, "Overview", theme.HomeIcon, func(u *UI) page { return newOverviewPage(u) }},
		{PageProjects, "Projects", theme.FolderIcon, func(u *UI) page { return newProjectsPage(u) }},
		{PageServers, "Servers", theme.StorageIcon, func(u *UI) page { return newServersPage(u) }},
		{PageBackups, "Backups", theme.HistoryIcon, func(u *UI) page { return newBackupsPage(u) }},
		{PageIModels, "iModels", theme.GridIcon, func(u *UI) page { return newIModelsPage(u) }},
		{PageNotifications, "Notifications", theme.MailComposeIcon, func(u *UI) page { return newNotificationsPage(u) }},
		{PageUsers, "Users", theme.AccountIcon, func(u *UI) page { return newUsersPage(u) }},
	}
}

// UI is Plinth's window.
type UI struct {
	app fyne.App
	win fyne.Window
	svc Services

	actor  account.Actor
	banner *Banner

	// shell widgets; nil until logged in
	nav     *widget.List
	stack   *fyne.Container
	current string
	built   map[string]page
	who     *widget.Label
	bell    *widget.Button

	// screens before the shell; kept for tests
	login    *loginScreen
	firstRun *firstRunScreen

	tasks sync.WaitGroup // background work started by the window
	// queued, when set (tests), holds the callbacks background work hands
	// back to the UI goroutine; Wait runs them on the caller's goroutine.
	// The real driver runs them on its main thread through fyne.Do, while
	// Fyne's test driver would run each on the background goroutine itself.
	queued *callbacks

	busy     bool   // a long piece of work shows in the banner
	busyWith string // its title
	// minRunning is how long the yellow bar of long work shows at least.
	minRunning time.Duration
	// busyNow is busyWith while busy, for other goroutines (Busy).
	busyNow atomic.Value

	autostartOffered bool // start at login was offered in this window
	// visits counts the pages opened, so that a page can tell a new
	// visit from a refresh.
	visits int
}

// New builds the window's UI. Call Start to show the first screen.
func New(a fyne.App, w fyne.Window, svc Services) *UI {
	u := &UI{app: a, win: w, svc: svc, banner: newBanner(), built: map[string]page{}, minRunning: minRunning}
	if svc.Notifications != nil {
		// Publishers call this on their own goroutines.
		svc.Notifications.OnChange(func(user string) {
			u.do(func() {
				if !u.actor.IsZero() && strings.EqualFold(user, u.actor.Name()) {
					u.refreshBell()
					if p, ok := u.built[PageNotifications]; ok && u.current == PageNotifications {
						p.shown()
					}
					// Something happened (a backup, a sync, from the
					// window, the schedule or a command): the Overview,
					// which only reads, checks again.
					if p, ok := u.built[PageOverview]; ok && u.current == PageOverview {
						p.shown()
					}
				}
			})
		})
	}
	return u
}

// Banner is the top bar for running and finished work.
func (u *UI) Banner() *Banner { return u.banner }

// Actor is the logged-in user (zero before login).
func (u *UI) Actor() account.Actor { return u.actor }

// Start decides the first screen: first-run when masteradmin does not exist
// yet, otherwise login (or straight in with StartOptions.Password).
func (u *UI) Start(opt StartOptions) {
	u.win.SetContent(container.NewCenter(widget.NewActivity()))
	var initialised bool
	var actor account.Actor
	var loginErr error
	u.background(func(ctx context.Context) error {
		var err error
		initialised, err = u.svc.Accounts.Initialised(ctx)
		if err != nil || !initialised || opt.Password == "" {
			return err
		}
		actor, loginErr = u.svc.Accounts.Login(ctx, opt.User, opt.Password)
		return nil
	}, func(err error) {
		switch {
		case err != nil:
			u.fatal(err)
		case !initialised:
			u.showFirstRun(opt.Page)
		case opt.Password != "" && loginErr == nil:
			u.loggedIn(actor, opt.Page)
		default:
			u.showLogin(opt.User, opt.Page)
			if loginErr != nil {
				u.login.fail(loginErr)
			}
		}
	})
}

// background runs work off the UI goroutine, then done on it.
func (u *UI) background(work func(ctx context.Context) error, done func(err error)) {
	u.tasks.Add(1)
	go func() {
		defer u.tasks.Done()
		err := work(context.Background())
		u.do(func() { done(err) })
	}()
}

// do runs fn on the UI goroutine.
func (u *UI) do(fn func()) {
	if u.queued != nil {
		u.queued.push(fn)
		return
	}
	fyne.Do(fn)
}

// callbacks is a queue of functions for the UI goroutine.
type callbacks struct {
	mu  sync.Mutex
	fns []func()
}

func (c *callbacks) push(fn func()) {
	c.mu.Lock()
	c.fns = append(c.fns, fn)
	c.mu.Unlock()
}

func (c *callbacks) drain() []func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	fns := c.fns
	c.fns = nil
	return fns
}

// fatal shows an error that leaves nothing else to do.
func (u *UI) fatal(err error) {
	u.win.SetContent(container.NewCenter(container.NewVBox(
		&widget.Label{Text: "Plinth cannot open its data", TextStyle: fyne.TextStyle{Bold: true}, Alignment: fyne.TextAlignCenter},
		&widget.Label{Text: sentence(err), Wrapping: fyne.TextWrapWord, Importance: widget.DangerImportance},
		&widget.Button{Text: "Quit", OnTapped: u.app.Quit},
	)))
}

// loggedIn builds the shell for actor and opens a page.
func (u *UI) loggedIn(actor account.Actor, startPage string) {
	u.actor = actor
	u.login, u.firstRun = nil, nil
	u.built = map[string]page{}
	u.stack = container.NewStack()
	u.nav = &widget.List{
		Length: func() int { return len(pages) },
		CreateItem: func() fyne.CanvasObject {
			return container.NewHBox(widget.NewIcon(theme.FolderIcon()), widget.NewLabel("Notifications"))
		},
		UpdateItem: func(id widget.ListItemID, o fyne.CanvasObject) {
			box := o.(*fyne.Container)
			box.Objects[0].(*widget.Icon).SetResource(pages[id].icon())
			box.Objects[1].(*widget.Label).SetText(pages[id].title)
		},
		OnSelected: func(id widget.ListItemID) { u.open(pages[id].id) },
	}
	u.who = widget.NewLabel("Logged in as " + actor.Name())
	u.bell = &widget.Button{Text: "No new notifications", Icon: theme.MailComposeIcon(), Importance: widget.LowImportance,
		OnTapped: func() { u.Show(PageNotifications) }}
	header := container.NewBorder(nil, nil,
		&widget.Label{Text: "Plinth", TextStyle: fyne.TextStyle{Bold: true}},
		container.NewHBox(u.bell, u.who, &widget.Button{Text: "Log out", Icon: theme.LogoutIcon(), OnTapped: u.logout}),
		&widget.Label{Text: u.svc.DataDir, Importance: widget.LowImportance, Truncation: fyne.TextTruncateEllipsis},
	)
	top := container.NewVBox(u.banner.obj, header, widget.NewSeparator())
	split := container.NewHSplit(u.nav, u.stack)
	split.Offset = 0.18
	u.win.SetContent(container.NewBorder(top, nil, nil, nil, split))
	u.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) {
		if u.nav == nil {
			return
		}
		u.Show(PageProjects)
		if p, ok := u.built[PageProjects].(*projectsPage); ok {
			p.dropped(uris)
		}
	})
	if startPage == "" || indexOf(startPage) < 0 {
		startPage = PageOverview
	}
	u.Show(startPage)
	u.refreshBell()
	u.offerAutostart()
}

// refreshBell shows the number of unread notifications in the header.
func (u *UI) refreshBell() {
	if u.bell == nil || u.svc.Notifications == nil || u.actor.IsZero() {
		return
	}
	actor := u.actor
	var n int
	u.background(func(ctx context.Context) error {
		l, err := u.svc.Notifications.List(ctx, actor, true)
		n = len(l)
		return err
	}, func(err error) {
		if err != nil || u.bell == nil {
			return
		}
		switch n {
		case 0:
			u.bell.SetText("No new notifications")
			u.bell.Importance = widget.LowImportance
		case 1:
			u.bell.SetText("1 new notification")
			u.bell.Importance = widget.WarningImportance
		default:
			u.bell.SetText(text.Count(n, "new notification"))
			u.bell.Importance = widget.WarningImportance
		}
		u.bell.Refresh()
	})
}

// ShowTarget opens the panel a notification points at: a page id, a page
// with a sub-panel ("servers/fileserver"), or a folder ("projects:/Tower").
func (u *UI) ShowTarget(target string) {
	page, rest, _ := strings.Cut(target, ":")
	page, sub, _ := strings.Cut(page, "/")
	if indexOf(page) < 0 {
		return
	}
	u.Show(page)
	if sp, ok := u.built[PageServers].(*serversPage); ok && page == PageServers {
		sp.showTab(sub)
	}
	if page == PageProjects && rest != "" {
		if p, ok := u.built[PageProjects].(*projectsPage); ok {
			p.Open(rest)
		}
	}
}

func indexOf(id string) int {
	for i, p := range pages {
		if p.id == id {
			return i
		}
	}
	return -1
}

// Show opens a page by id; notifications use it to click through.
func (u *UI) Show(id string) {
	i := indexOf(id)
	if i < 0 || u.nav == nil {
		return
	}
	u.nav.Select(i) // calls open through OnSelected
	u.open(id)
}

func (u *UI) open(id string) {
	if id == u.current && len(u.stack.Objects) > 0 {
		return
	}
	p, ok := u.built[id]
	if !ok {
		p = pages[indexOf(id)].build(u)
		u.built[id] = p
	}
	u.current = id
	u.visits++
	u.stack.Objects = []fyne.CanvasObject{p.content()}
	u.stack.Refresh()
	p.shown()
}

// Current is the id of the page on show.
func (u *UI) Current() string { return u.current }

func (u *UI) logout() {
	name := u.actor.Name()
	u.actor = account.Actor{}
	u.nav, u.stack, u.current, u.bell = nil, nil, "", nil
	u.banner.Hide()
	u.showLogin(name, "")
}

// Busy is the title of the long piece of work the window runs (it shows
// in the banner), or ""; any goroutine may ask.
func (u *UI) Busy() string {
	s, _ := u.busyNow.Load().(string)
	return s
}

// Wait blocks until the window's background work has finished, and with a
// callback queue (tests) runs the callbacks on the caller's goroutine until
// nothing is left; tests and shutdown use it.
func (u *UI) Wait() {
	for {
		u.tasks.Wait()
		if u.queued == nil {
			return
		}
		fns := u.queued.drain()
		if len(fns) == 0 {
			return
		}
		for _, fn := range fns {
			fn()
		}
	}
}
