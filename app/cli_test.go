package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/core/health"
	"codeberg.org/plinth/plinth/core/notify/notifytest"
	"codeberg.org/plinth/plinth/storage/fsys/disktest"
)

type result struct {
	code     int
	out, err string
}

// run runs one command in-process against dir with the given environment
// and standard input; no terminal is attached.
func run(t *testing.T, dir string, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var g Global
	g.DataDir = dir
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		switch args[0] {
		case "-user":
			g.User, args = args[1], args[2:]
		case "-password-stdin":
			g.PasswordStdin, args = true, args[1:]
		default:
			t.Fatalf("test harness: unknown global flag %s", args[0])
		}
	}
	var out, errb bytes.Buffer
	io := IO{In: strings.NewReader(stdin), Out: &out, Err: &errb,
		Getenv: func(k string) string { return env[k] }}
	code := RunCommand(context.Background(), g, args, io)
	return result{code, out.String(), errb.String()}
}

var master = map[string]string{"PLINTH_PASSWORD": "master password"}

func initialised(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if r := run(t, dir, master, "", "init"); r.code != 0 {
		t.Fatalf("init: %+v", r)
	}
	return dir
}

func TestInitAndStatusJSON(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new folder")
	r := run(t, dir, master, "", "init")
	if r.code != 0 || !strings.Contains(r.out, "Plinth is set up in "+dir) {
		t.Fatalf("init = %+v", r)
	}
	r = run(t, dir, nil, "", "status", "--json")
	if r.code != 0 || r.err != "" {
		t.Fatalf("status --json = %+v", r)
	}
	var st Status
	dec := json.NewDecoder(strings.NewReader(r.out))
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("status output is not JSON: %v\n%s", err, r.out)
	}
	if dec.More() {
		t.Fatalf("status printed more than one JSON object:\n%s", r.out)
	}
	if st.DataFolder != dir || !st.Initialised || st.Users != 1 ||
		len(st.Manager.Identity) != 32 || len(st.FileServer.Identity) != 32 ||
		st.Manager.Identity == st.FileServer.Identity || !st.Manager.Healthy || !st.FileServer.Healthy ||
		st.Manager.Path != filepath.Join(dir, "manager") || st.FileServer.Path != filepath.Join(dir, "fileserver") {
		t.Fatalf("status = %+v", st)
	}
	// A new folder has no backup yet: at risk, and the JSON says so in
	// the shape scripts read.
	var raw struct {
		Health struct {
			State   string `json:"state"`
			Reasons []struct {
				Code, Sentence, Page, Action string
			} `json:"reasons"`
			Events []json.RawMessage `json:"events"`
		} `json:"health"`
	}
	if err := json.Unmarshal([]byte(r.out), &raw); err != nil {
		t.Fatal(err)
	}
	h := raw.Health
	if h.State != "at-risk" || len(h.Reasons) == 0 || h.Reasons[0].Code != "backup.none" || h.Reasons[0].Page != "backups" ||
		h.Reasons[0].Action != "Back up now" || h.Reasons[0].Sentence == "" || h.Events == nil {
		t.Fatalf("health = %+v\n%s", h, r.out)
	}
	if st.Health.State != health.AtRisk {
		t.Fatalf("health state %q", st.Health.State)
	}
	// The text says it first, each reason in a sentence.
	r = run(t, dir, nil, "", "status")
	if lines := strings.Split(r.out, "\n"); r.code != 0 || lines[0] != "At risk" ||
		lines[1] != "  - No full backup has been taken yet: if the disk fails, everything is lost." {
		t.Fatalf("status = %+v", r)
	}

	// The identity is stable across runs.
	r2 := run(t, dir, nil, "", "status", "--json")
	var st2 Status
	_ = json.Unmarshal([]byte(r2.out), &st2)
	if st2.Manager.Identity != st.Manager.Identity {
		t.Error("manager identity changed between two status runs")
	}

	r = run(t, dir, master, "", "init")
	if r.code != 1 || r.err != "Data folder "+dir+" is already set up; log in as masteradmin\n" {
		t.Fatalf("second init = %+v", r)
	}
}

func TestStatusOnEmptyFolderCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nothing here")
	r := run(t, dir, nil, "", "status")
	if r.code != 1 || !strings.Contains(r.err, "is not set up yet; run 'plinth init'") {
		t.Fatalf("status on an empty folder = %+v", r)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatal("status created the data folder")
	}
}

// A Plinth that holds the folder but does not answer on the control
// endpoint (hung, or an older Plinth) gets one sentence that says so.
func TestSecondProcessGetsOneSentence(t *testing.T) {
	dir := initialised(t)
	a, err := Open(context.Background(), Config{DataDir: dir, MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	shortPatience(t)
	for _, args := range [][]string{{"status"}, {"status", "--json"}, {"init"}, {"user", "list"}, {"quit"}} {
		r := run(t, dir, master, "", args...)
		if r.code != 1 || r.out != "" || !strings.HasPrefix(r.err, "Plinth is already running with data folder "+dir+", and it did not answer on its control endpoint") ||
			strings.Count(r.err, "\n") != 1 {
			t.Errorf("%v while locked = %+v", args, r)
		}
	}
}

// shortPatience makes commands give up on a holder that never answers
// at once instead of after holderPatience.
func shortPatience(t *testing.T) {
	old := holderPatience
	holderPatience = 300 * time.Millisecond
	t.Cleanup(func() { holderPatience = old })
}

func TestUserCommands(t *testing.T) {
	dir := initialised(t)
	withNew := map[string]string{"PLINTH_PASSWORD": "master password", "PLINTH_NEW_PASSWORD": "anna password"}

	tests := []struct {
		name    string
		env     map[string]string
		stdin   string
		args    []string
		code    int
		out     string // substring of stdout
		errText string // exact stderr first line ("" = empty)
	}{
		{"add", withNew, "", []string{"user", "add", "anna", "--role", "project-admin", "--email", "anna@office.test"}, 0, "Added anna as Project Administrator.", ""},
		{"flags before name", map[string]string{"PLINTH_PASSWORD": "master password", "PLINTH_NEW_PASSWORD": "sam password"}, "", []string{"user", "add", "--role", "server-admin", "sam"}, 0, "Added sam as Server Administrator.", ""},
		{"duplicate", withNew, "", []string{"user", "add", "ANNA", "--role", "none"}, 1, "", `A user named "ANNA" already exists`},
		{"missing role", withNew, "", []string{"user", "add", "bob"}, 2, "", "User add needs --role"},
		{"bad role", withNew, "", []string{"user", "add", "bob", "--role", "boss"}, 2, "", `Unknown role "boss": use server-admin, project-admin or none`},
		{"bad name", withNew, "", []string{"user", "add", "b/ob", "--role", "none"}, 1, "", `Bad user name: '/' is not allowed in a name (use letters, digits, space, '.', '_', '-', '@')`},
		{"wrong password", map[string]string{"PLINTH_PASSWORD": "nope nope", "PLINTH_NEW_PASSWORD": "x password"}, "", []string{"user", "add", "bob", "--role", "none"}, 1, "", "Wrong user name or password"},
		{"no password anywhere", nil, "", []string{"user", "list"}, 1, "", "No password given: set PLINTH_PASSWORD, use -password-stdin, or run in a terminal"},
		{"stdin passwords", nil, "master password\nbob password\n", []string{"-password-stdin", "user", "add", "bob", "--role", "none"}, 0, "Added bob as None.", ""},
		{"project admin may not add", map[string]string{"PLINTH_PASSWORD": "anna password", "PLINTH_NEW_PASSWORD": "eve password"}, "", []string{"-user", "anna", "user", "add", "eve", "--role", "none"}, 1, "", `User anna does not have the "Modify access" permission on the Servers page`},
		{"role change", master, "", []string{"user", "role", "bob", "project-admin"}, 0, "bob is now Project Administrator.", ""},
		{"masteradmin role fixed", master, "", []string{"user", "role", "masteradmin", "none"}, 1, "", "Masteradmin is always a Server Administrator"},
		{"reset", map[string]string{"PLINTH_PASSWORD": "master password", "PLINTH_NEW_PASSWORD": "bob new password"}, "", []string{"user", "reset-password", "bob"}, 0, "The password of bob is changed.", ""},
		{"bob logs in with new password", map[string]string{"PLINTH_PASSWORD": "bob new password"}, "", []string{"-user", "bob", "user", "list"}, 0, "anna", ""},
		{"remove", master, "", []string{"user", "rm", "sam"}, 0, "Removed sam.", ""},
		{"remove unknown", master, "", []string{"user", "rm", "sam"}, 1, "", `There is no user "sam"`},
		{"unknown command", master, "", []string{"frobnicate"}, 2, "", `Unknown command "frobnicate"; 'plinth help' lists the commands`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, dir, tt.env, tt.stdin, tt.args...)
			firstErr, _, _ := strings.Cut(r.err, "\n")
			if r.code != tt.code || !strings.Contains(r.out, tt.out) || firstErr != tt.errText {
				t.Fatalf("got code %d out %q err %q\nwant code %d out ~%q err %q", r.code, r.out, r.err, tt.code, tt.out, tt.errText)
			}
		})
	}

	r := run(t, dir, master, "", "user", "list", "--json")
	var list struct {
		Users []struct {
			Name, Role, Email string
			Master            bool
		}
	}
	if err := json.Unmarshal([]byte(r.out), &list); err != nil {
		t.Fatalf("user list --json: %v\n%s", err, r.out)
	}
	var got []string
	for _, u := range list.Users {
		got = append(got, u.Name+"/"+u.Role+"/"+u.Email)
	}
	if want := "masteradmin/server-admin/,anna/project-admin/anna@office.test,bob/project-admin/"; strings.Join(got, ",") != want {
		t.Fatalf("users = %s, want %s", strings.Join(got, ","), want)
	}
}

func TestUnwritableDataFolder(t *testing.T) {
	var parent string
	if os.Geteuid() == 0 {
		parent = disktest.Mount(t, "size=1m,ro")
	} else {
		parent = t.TempDir()
		_ = os.Chmod(parent, 0o500)
		t.Cleanup(func() { _ = os.Chmod(parent, 0o700) })
	}
	dir := filepath.Join(parent, "plinth")
	r := run(t, dir, master, "", "init")
	if r.code != 1 || !strings.HasPrefix(r.err, "Plinth cannot write to folder "+dir) || strings.Count(r.err, "\n") != 1 {
		t.Fatalf("init in a read-only folder = %+v", r)
	}
}

// E-mail set up from the command line, tested against a real SMTP server,
// and a user's notifications read back.
func TestSMTPCommands(t *testing.T) {
	dir := initialised(t)
	cert, _ := notifytest.SelfSigned(t)
	srv := notifytest.Start(t, "", "none", cert, nil)
	port := strconv.Itoa(srv.Port)

	r := run(t, dir, master, "", "smtp", "set", "--host", "127.0.0.1", "--port", port, "--security", "none", "--from", "plinth@office.test")
	if r.code != 0 || !strings.Contains(r.out, "the password is kept in") {
		t.Fatalf("smtp set = %+v", r)
	}
	r = run(t, dir, master, "", "smtp", "set", "--host", "h", "--security", "bogus", "--from", "a@b.c")
	if r.code != 2 || !strings.HasPrefix(r.err, `Unknown security "bogus"`) {
		t.Fatalf("bad security = %+v", r)
	}
	r = run(t, dir, master, "", "smtp", "test", "--to", "admin@office.test")
	if r.code != 0 {
		t.Fatalf("smtp test = %+v", r)
	}
	if got := srv.Messages(); len(got) != 1 || got[0].To[0] != "admin@office.test" ||
		notifytest.Parse(t, got[0].Data).Subject != "[Plinth] Plinth test e-mail" {
		t.Fatalf("server received %+v", got)
	}
	r = run(t, dir, master, "", "user", "email", "masteradmin", "not an address")
	if r.code != 1 || r.err != "\"not an address\" is not an e-mail address\n" {
		t.Fatalf("bad address = %+v", r)
	}
	run(t, dir, master, "", "user", "email", "masteradmin", "master@office.test")

	// A drift check that finds disagreement notifies masteradmin: in the
	// center, and by e-mail when the command exits.
	a, err := Open(context.Background(), Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Files.Synthesize(context.Background(), files.RootID, "lost", 2, files.ServerOnly); err != nil {
		t.Fatal(err)
	}
	_ = a.Close()
	if r := run(t, dir, master, "", "check"); r.code != 0 || !strings.Contains(r.out, "2 files unknown to the Manager") {
		t.Fatalf("check = %+v", r)
	}
	r = run(t, dir, master, "", "notifications", "--json", "--unread")
	var list struct {
		Notifications []struct{ Kind, Text, Target string }
	}
	if err := json.Unmarshal([]byte(r.out), &list); err != nil || len(list.Notifications) != 1 ||
		list.Notifications[0].Kind != "filesync.needed" || list.Notifications[0].Target != "servers/fileserver" {
		t.Fatalf("notifications = %s", r.out)
	}
	got := srv.Messages()
	if len(got) != 2 || got[1].To[0] != "master@office.test" ||
		!strings.Contains(notifytest.Parse(t, got[1].Data).Plain, "Open in Plinth: Servers › Manager › Settings › File Server Settings") {
		t.Fatalf("e-mail after the check: %+v", got)
	}
}
