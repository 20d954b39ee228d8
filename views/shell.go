// Package views is Plinth's window, built with Fyne: the first-run and
// login screens, the shell with its navigation and top banner, and one file
// per page. Views talk to core services through small interfaces declared
// next to them; they never touch storage. Long work runs off the UI
// goroutine and comes back through fyne.Do.
package views

import (
	"context"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"codeberg.org/plinth/plinth/core/account"
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
	Can(ctx context.Context, actor account.Actor, item account.Item, want account.Permission) bool
}

// Services are the core services the window uses.
type Services struct {
	Accounts Accounts
	// DataDir is shown in the header so the admin knows which data is open.
	DataDir string
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

// pages lists the navigation in order.
var pages = []pageInfo{
	{PageProjects, "Projects", theme.FolderIcon, func(*UI) page {
		return newPlaceholder("Projects", "The folder tree of projects, libraries, iModels and files comes here: upload, download, versions, and the folder settings.")
	}},
	{PageServers, "Servers", theme.StorageIcon, func(*UI) page {
		return newPlaceholder("Servers", "The Manager and File Server settings come here: drift checks, full file synchronization and its history, versioning and e-mail settings.")
	}},
	{PageBackups, "Backups", theme.HistoryIcon, func(*UI) page {
		return newPlaceholder("Backups", "Project snapshots, full data backups and OS snapshots come here, with their schedules, verification and one-click restore.")
	}},
	{PageIModels, "iModels", theme.GridIcon, func(*UI) page {
		return newPlaceholder("iModels", "iModels and their connections come here: IFC design files synchronized on demand or on a schedule, with a report of every run.")
	}},
	{PageNotifications, "Notifications", theme.MailComposeIcon, func(*UI) page {
		return newPlaceholder("Notifications", "Your notifications come here: file synchronization needed, backup results, connection runs and expiring tokens. A click opens the right panel.")
	}},
	{PageUsers, "Users", theme.AccountIcon, func(u *UI) page { return newUsersPage(u) }},
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

	// screens before the shell; kept for tests
	login    *loginScreen
	firstRun *firstRunScreen

	tasks sync.WaitGroup // background work started by the window
}

// New builds the window's UI. Call Start to show the first screen.
func New(a fyne.App, w fyne.Window, svc Services) *UI {
	return &UI{app: a, win: w, svc: svc, banner: newBanner(), built: map[string]page{}}
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
		fyne.Do(func() { done(err) })
	}()
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
	header := container.NewBorder(nil, nil,
		&widget.Label{Text: "Plinth", TextStyle: fyne.TextStyle{Bold: true}},
		container.NewHBox(u.who, &widget.Button{Text: "Log out", Icon: theme.LogoutIcon(), OnTapped: u.logout}),
		&widget.Label{Text: u.svc.DataDir, Importance: widget.LowImportance, Truncation: fyne.TextTruncateEllipsis},
	)
	top := container.NewVBox(u.banner.obj, header, widget.NewSeparator())
	split := container.NewHSplit(u.nav, u.stack)
	split.Offset = 0.18
	u.win.SetContent(container.NewBorder(top, nil, nil, nil, split))
	if startPage == "" || indexOf(startPage) < 0 {
		startPage = PageProjects
	}
	u.Show(startPage)
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
	u.stack.Objects = []fyne.CanvasObject{p.content()}
	u.stack.Refresh()
	p.shown()
}

// Current is the id of the page on show.
func (u *UI) Current() string { return u.current }

func (u *UI) logout() {
	name := u.actor.Name()
	u.actor = account.Actor{}
	u.nav, u.stack, u.current = nil, nil, ""
	u.banner.Hide()
	u.showLogin(name, "")
}

// Wait blocks until the window's background work has finished; tests and
// shutdown use it.
func (u *UI) Wait() { u.tasks.Wait() }
