package app

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"codeberg.org/plinth/plinth/core/files"
)

// The permission matrix: every command that changes something, run by
// masteradmin, a Server Administrator, a Project Administrator and a user
// with role none. A refused command exits 1 with one sentence that names
// the missing permission (or says who may), and changes nothing: the
// files, users, backups and settings a user can see are the same before
// and after. An allowed one exits 0. docs/RELIABILITY.md counts the runs.
func TestPermissionMatrix(t *testing.T) {
	dir := initialised(t)
	src := t.TempDir()
	for _, f := range []string{"plan.pdf", "model.ifc"} {
		b := []byte("content of " + f)
		if f == "model.ifc" {
			sample, err := os.ReadFile(filepath.Join("..", "testdata", "ifc", "samples", "example.ifc"))
			if err != nil {
				t.Fatal(err)
			}
			b = sample
		}
		if err := os.WriteFile(filepath.Join(src, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	users := map[string]string{"sam": "server-admin", "pat": "project-admin", "nobody": "none"}
	for name, role := range users {
		env := map[string]string{"PLINTH_PASSWORD": "master password", "PLINTH_NEW_PASSWORD": name + " password"}
		if r := run(t, dir, env, "", "user", "add", name, "--role", role); r.code != 0 {
			t.Fatalf("user add: %+v", r)
		}
	}
	mustMaster := func(args ...string) result {
		t.Helper()
		r := run(t, dir, master, "", args...)
		if r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
		return r
	}
	mustMaster("mkdir", "/Tower", "--kind", "project")
	mustMaster("import", "--to", "/Tower", filepath.Join(src, "plan.pdf"))
	mustMaster("imodel", "create", "/Tower", "Model")
	mustMaster("connection", "add", "/Tower/Model", "Arch", "--source", src, "--map", "model.ifc")
	var b struct{ ID string }
	if err := json.Unmarshal([]byte(mustMaster("backup", "--level", "2", "--json").out), &b); err != nil {
		t.Fatal(err)
	}
	var s struct{ ID string }
	if err := json.Unmarshal([]byte(mustMaster("backup", "--level", "1", "--item", "/Tower", "--json").out), &s); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(t.TempDir(), "tower.tar")
	mustMaster("snapshot-export", s.ID, archive)

	// What a user can see of the data folder, to tell that a refused
	// command changed nothing: folders and files, users with their roles
	// and addresses, backups, connections, settings.
	state := func() string {
		t.Helper()
		ctx := context.Background()
		a, err := Open(ctx, Config{DataDir: dir, MustExist: true})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		m, _ := a.Accounts.ActAs(ctx, "masteradmin")
		var st []any
		var walk func(id, path string)
		walk = func(id, path string) {
			kids, err := a.Files.List(ctx, m, id)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range kids {
				st = append(st, path+"/"+k.Name, k.Kind, k.Hash, k.Versions)
				if k.Kind.IsContainer() {
					walk(k.ID, path+"/"+k.Name)
				}
			}
		}
		walk(files.RootID, "")
		users, _ := a.Accounts.AllUsers(ctx)
		for _, u := range users {
			st = append(st, u.Name, u.Role, u.Email, u.Locked)
		}
		bs, _ := a.Backups.All()
		for _, b := range bs {
			st = append(st, b.ID)
		}
		conns, _ := a.IModels.AllConnections()
		for _, c := range conns {
			st = append(st, c.Name, c.Mapped, c.Schedule.String(), c.Owner)
		}
		smtp, _ := a.Notify.SMTPSettings(ctx)
		tower, _ := a.Files.Lookup(ctx, m, "/Tower")
		sched, _, _ := a.Backups.SnapshotSchedule(ctx, tower.ID)
		l2, _ := a.Backups.Level2()
		st = append(st, smtp, sched, l2)
		b, _ := json.Marshal(st)
		return string(b)
	}

	type cmd struct {
		args  []string
		allow map[string]bool // users who may; masteradmin always may
		fresh bool            // changes too much to share the folder: run on a copy
	}
	all := map[string]bool{"sam": true, "pat": true, "nobody": true}
	admins := map[string]bool{"sam": true, "pat": true}
	servers := map[string]bool{"sam": true}
	master := map[string]bool{}
	out := t.TempDir()
	cmds := []cmd{
		{args: []string{"mkdir", "/New-USER", "--kind", "project"}, allow: admins},
		{args: []string{"mkdir", "/Tower/Sub-USER"}, allow: admins},
		{args: []string{"import", "--to", "/Tower", filepath.Join(src, "plan.pdf")}, allow: admins},
		{args: []string{"rm", "/Tower/plan.pdf"}, allow: admins, fresh: true},
		{args: []string{"export", "/Tower", filepath.Join(out, "USER")}, allow: all},
		{args: []string{"user", "add", "new-USER", "--role", "none"}, allow: servers},
		{args: []string{"user", "role", "nobody", "project-admin"}, allow: servers, fresh: true},
		{args: []string{"user", "reset-password", "nobody"}, allow: servers, fresh: true},
		{args: []string{"user", "rm", "nobody"}, allow: servers, fresh: true},
		{args: []string{"user", "email", "pat", "pat@office.test"}, allow: map[string]bool{"sam": true, "pat": true}}, // one's own address
		{args: []string{"sync-files", "--yes"}, allow: master},
		{args: []string{"smtp", "set", "--host", "127.0.0.1", "--port", "2525", "--security", "none", "--from", "plinth@office.test"}, allow: servers},
		{args: []string{"backup", "--level", "1", "--item", "/Tower"}, allow: admins},
		{args: []string{"backup", "--level", "2"}, allow: servers},
		{args: []string{"verify", b.ID}, allow: admins},
		{args: []string{"restore", b.ID, "--scope", "all", "--yes"}, allow: servers, fresh: true},
		{args: []string{"restore", s.ID, "--as-new", "Copy-USER", "--yes"}, allow: admins},
		{args: []string{"snapshot-export", s.ID, filepath.Join(out, "USER.tar")}, allow: admins},
		{args: []string{"snapshot-import", archive, "--as", "Imported-USER"}, allow: admins},
		{args: []string{"snapshot", "schedule", "/Tower", "daily", "--at", "01:00", "--keep", "3"}, allow: admins, fresh: true},
		{args: []string{"prune"}, allow: servers, fresh: true},
		{args: []string{"imodel", "create", "/Tower", "M-USER"}, allow: admins},
		{args: []string{"connection", "add", "/Tower/Model", "C-USER", "--source", src, "--map", "USER.ifc"}, allow: admins},
		{args: []string{"connection", "rename", "/Tower/Model", "Arch", "Arch-USER"}, allow: admins, fresh: true},
		{args: []string{"connection", "schedule", "/Tower/Model", "Arch", "daily", "02:00"}, allow: admins, fresh: true},
		{args: []string{"connection", "sync", "/Tower/Model", "Arch"}, allow: admins, fresh: true},
		{args: []string{"connection", "rm", "/Tower/Model", "Arch", "--keep-elements"}, allow: admins, fresh: true},
	}
	// Files each user's "connection add" can map.
	for _, u := range []string{"masteradmin", "sam", "pat", "nobody"} {
		if err := os.WriteFile(filepath.Join(src, u+".ifc"), []byte(""), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := state()
	runs, refused := 0, 0
	for _, c := range cmds {
		for _, user := range []string{"masteradmin", "sam", "pat", "nobody"} {
			args := make([]string, len(c.args))
			for i, a := range c.args {
				args[i] = strings.ReplaceAll(a, "USER", user)
			}
			allowed := user == "masteradmin" || c.allow[user]
			where := dir
			if allowed && c.fresh {
				where = filepath.Join(t.TempDir(), "copy")
				if o, err := exec.Command("cp", "-a", dir, where).CombinedOutput(); err != nil {
					t.Fatalf("copy: %v %s", err, o)
				}
			}
			env := map[string]string{"PLINTH_PASSWORD": user + " password", "PLINTH_NEW_PASSWORD": "a new password"}
			if user == "masteradmin" {
				env["PLINTH_PASSWORD"] = "master password"
			}
			r := run(t, where, env, "", append([]string{"-user", user}, args...)...)
			runs++
			switch {
			case allowed && r.code != 0:
				t.Errorf("%s: plinth %s: exit %d, want 0: %s", user, strings.Join(args, " "), r.code, r.err)
			case !allowed:
				refused++
				if r.code != 1 || strings.Count(r.err, "\n") != 1 ||
					!(strings.Contains(r.err, "does not have the") || strings.HasPrefix(r.err, "Only masteradmin")) {
					t.Errorf("%s: plinth %s: exit %d, stderr %q; want exit 1 and one sentence naming the permission", user, strings.Join(args, " "), r.code, r.err)
				}
				if now := state(); now != before {
					t.Fatalf("%s: the refused plinth %s changed the data folder", user, strings.Join(args, " "))
				}
			}
			if allowed && !c.fresh {
				before = state()
			}
		}
	}
	t.Logf("%d commands × 4 users: %d runs, %d refused", len(cmds), runs, refused)
}
