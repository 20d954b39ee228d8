//go:build smoke

package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The smoke test starts the real binary in a real X server (Xvfb), logs in
// with a masteradmin made by the CLI, and photographs every page with
// ImageMagick's `import -window root`. The pictures go to docs/screenshots/
// for the README. Run it with `make smoke` (part of `make test`).

const (
	screenW, screenH = 1100, 720 // the window's default size: it fills the screen
	smokePassword    = "smoke test password"
)

func need(t *testing.T, cmds ...string) {
	t.Helper()
	for _, c := range cmds {
		if _, err := exec.LookPath(c); err != nil {
			t.Fatalf("%s is missing; `make test` installs it (scripts/deps.sh test)", c)
		}
	}
}

// xvfb starts an X server of the default screen size on a display it
// picks itself (-displayfd) and returns the DISPLAY value.
func xvfb(t *testing.T) string { return xvfbSized(t, screenW, screenH) }

// gui is one running window.
type gui struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan error
}

func startGUI(t *testing.T, display, home string, stdin string, args ...string) *gui {
	t.Helper()
	return startThemedGUI(t, display, home, "light", stdin, args...)
}

// stop closes the window the way Ctrl+C does and checks a clean exit.
func (g *gui) stop(t *testing.T) {
	t.Helper()
	_ = g.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-g.done:
		if err != nil {
			t.Fatalf("window exited with %v; stderr: %s", err, g.stderr.String())
		}
	case <-time.After(20 * time.Second):
		// Where it hangs, for whoever reads the log: Go prints every
		// goroutine's stack on SIGQUIT.
		_ = g.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-g.done:
		case <-time.After(5 * time.Second):
			_ = g.cmd.Process.Kill()
			<-g.done
		}
		out := g.stderr.String()
		if len(out) > 60000 {
			out = out[len(out)-60000:]
		}
		t.Fatalf("window did not close within 20 s of SIGTERM; its goroutines (SIGQUIT):\n%s", out)
	}
}

// shoot photographs the screen once the window has settled and checks the
// picture is not blank.
func shoot(t *testing.T, display, file string) {
	t.Helper()
	var prev, img image.Image
	var raw []byte
	// The window draws asynchronously and a text cursor blinks: take
	// pictures until two in a row differ by no more than a cursor.
	for i := 0; i < 30 && img == nil; i++ {
		time.Sleep(300 * time.Millisecond)
		cmd := exec.Command("import", "-display", display, "-window", "root", "-strip", "png:-")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		cur, err := png.Decode(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		if prev != nil && differing(prev, cur) < 400 {
			img, raw = cur, out
		}
		prev = cur
	}
	if img == nil {
		t.Fatalf("%s: the screen never settled", file)
	}
	if err := os.WriteFile(file, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	colours := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|bl>>8] = true
		}
	}
	if len(colours) < 16 {
		t.Fatalf("%s looks blank: %d colours", file, len(colours))
	}
	t.Logf("%s: %d colours", file, len(colours))
}

func TestSmokeRealWindow(t *testing.T) {
	need(t, "Xvfb", "xdpyinfo", "import", "xdotool")
	display := xvfb(t)
	home := t.TempDir()
	shots, err := filepath.Abs("docs/screenshots")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	// The data folders live at a fixed place under bin/ so that the paths in
	// the screenshots do not change from run to run.
	work, err := filepath.Abs("bin/smoke")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(work); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(work) })

	// First start on an empty folder: the first-run screen.
	fresh := filepath.Join(work, "fresh")
	g := startGUI(t, display, home, "", "-data", fresh)
	shoot(t, display, filepath.Join(shots, "first-run.png"))
	g.stop(t)

	// A folder set up by the CLI, with a few users.
	dir := filepath.Join(work, "office data")
	env := []string{"PLINTH_PASSWORD=" + smokePassword}
	if p := plinth(t, env, "", "-data", dir, "init"); p.code != 0 {
		t.Fatalf("init: %+v", p)
	}
	for _, u := range [][2]string{{"anna.berg", "server-admin"}, {"tomas.novak", "project-admin"}, {"lea.meyer", "none"}} {
		p := plinth(t, append(env, "PLINTH_NEW_PASSWORD=password of "+u[0]), "", "-data", dir,
			"user", "add", u[0], "--role", u[1], "--email", u[0]+"@office.example")
		if p.code != 0 {
			t.Fatalf("user add: %+v", p)
		}
	}

	// A small office tree on the Projects page.
	tree := filepath.Join(work, "import")
	for _, f := range []string{"Tower A/Plans/Ground floor.pdf", "Tower A/Plans/Roof.pdf", "Tower A/Model/Tower A.ifc",
		"Tower A/Model/Structure.ifc", "School extension/Site plan.pdf", "Office library/Door types.mod"} {
		p := filepath.Join(tree, f)
		_ = os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, bytes.Repeat([]byte(f), 3000), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, mk := range [][2]string{{"/Tower A", "project"}, {"/School extension", "project"}, {"/Office library", "library"}} {
		if p := plinth(t, env, "", "-data", dir, "mkdir", mk[0], "--kind", mk[1]); p.code != 0 {
			t.Fatalf("mkdir: %+v", p)
		}
	}
	for _, top := range []string{"Tower A", "School extension", "Office library"} {
		if p := plinth(t, env, "", "-data", dir, "import", filepath.Join(tree, top)); p.code != 0 {
			t.Fatalf("import: %+v", p)
		}
	}

	// Restore the File Server from a backup taken before the last import,
	// so that the window has a disagreement and notifications to show.
	var b struct{ ID string }
	bp := plinth(t, env, "", "-data", dir, "backup", "--level", "2", "--json")
	if bp.code != 0 || json.Unmarshal([]byte(bp.out), &b) != nil {
		t.Fatalf("backup: %+v", bp)
	}
	late := filepath.Join(tree, "Competition entry")
	_ = os.MkdirAll(late, 0o755)
	_ = os.WriteFile(filepath.Join(late, "Board 1.pdf"), bytes.Repeat([]byte("board"), 5000), 0o644)
	if p := plinth(t, env, "", "-data", dir, "import", late); p.code != 0 {
		t.Fatalf("import: %+v", p)
	}
	if p := plinth(t, env, "", "-data", dir, "restore", b.ID, "--scope", "fileserver", "--yes"); p.code != 0 {
		t.Fatalf("restore: %+v", p)
	}

	// An iModel with two synced connections from real IFC files.
	ifcDir := filepath.Join(work, "ifc")
	_ = os.MkdirAll(ifcDir, 0o755)
	for dst, sample := range map[string]string{"structure.ifc": "example.ifc", "grid.ifc": "Sample_entities.ifc", "architecture.ifc": "IfcOpenHouse_IFC4.ifc"} {
		b, err := os.ReadFile(filepath.Join("testdata", "ifc", "samples", sample))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(ifcDir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{
		{"imodel", "create", "/Tower A", "Coordination"},
		{"connection", "add", "/Tower A/Coordination", "Structure", "--source", ifcDir, "--map", "structure.ifc,grid.ifc", "--schedule", "daily 02:00"},
		{"connection", "add", "/Tower A/Coordination", "Architecture", "--source", ifcDir, "--map", "architecture.ifc"},
		{"connection", "sync", "/Tower A/Coordination", "Structure"},
		{"connection", "sync", "/Tower A/Coordination", "Architecture"},
	} {
		if p := plinth(t, env, "", append([]string{"-data", dir}, args...)...); p.code != 0 {
			t.Fatalf("%v: %+v", args, p)
		}
	}

	// Without a password: the login screen.
	g = startGUI(t, display, home, "", "-data", dir)
	shoot(t, display, filepath.Join(shots, "login.png"))
	g.stop(t)

	// The first login offers to start Plinth at login, once.
	g = startGUI(t, display, home, smokePassword+"\n", "-data", dir, "-password-stdin")
	shoot(t, display, filepath.Join(shots, "autostart-offer.png"))
	g.stop(t)

	for _, page := range []string{"overview", "projects", "servers", "backups", "imodels", "notifications", "users"} {
		g := startGUI(t, display, home, smokePassword+"\n", "-data", dir, "-password-stdin", "-page", page)
		shoot(t, display, filepath.Join(shots, page+".png"))
		if page == "users" {
			// While the window holds the folder, a command runs inside it
			// (the control endpoint), and a second window brings the first
			// forward, saying so in one sentence.
			want := "Plinth is already running with this data folder; its window was brought forward.\n"
			p := plinth(t, nil, "", "-data", dir, "status")
			if p.code != 0 || p.stderr != "" || !strings.Contains(p.out, "Data folder  "+dir) {
				t.Errorf("status beside the window = %+v, want what headless status says", p)
			}
			// As on a machine where an earlier window was killed while it
			// saved its preferences: the second start must still say only
			// its one sentence.
			errPrefs := filepath.Join(home, ".config", "fyne", "org.plinth.console.open-error", "preferences.json")
			if err := os.MkdirAll(filepath.Dir(errPrefs), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(errPrefs, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			second := exec.Command(binary, "-data", dir)
			second.Env = append(os.Environ(), "DISPLAY="+display, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
				"LANG=C.UTF-8", "FYNE_THEME=light")
			var errb bytes.Buffer
			second.Stderr = &errb
			if err := second.Start(); err != nil {
				t.Fatal(err)
			}
			waited := make(chan error, 1)
			go func() { waited <- second.Wait() }()
			var err error
			select {
			case err = <-waited:
			case <-time.After(15 * time.Second):
				_ = second.Process.Kill()
				err = errors.New("the second start did not return within 15 s")
			}
			if err != nil || errb.String() != want {
				t.Errorf("second window: %v, stderr %q; want exit 0 and %q", err, errb.String(), want)
			}
		}
		g.stop(t)
	}

	// Every window closed its stores cleanly.
	log, err := os.ReadFile(filepath.Join(dir, "logs", "plinth.log"))
	if err != nil {
		t.Fatal(err)
	}
	if opened, closed := strings.Count(string(log), "msg=opening"), strings.Count(string(log), "msg=closed"); opened != closed {
		t.Errorf("log shows %d opens and %d clean closes", opened, closed)
	}
}

// differing counts the pixels in which two pictures of the screen differ.
func differing(a, b image.Image) int {
	if a.Bounds() != b.Bounds() {
		return a.Bounds().Dx() * a.Bounds().Dy()
	}
	n := 0
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				n++
			}
		}
	}
	return n
}

// A data folder of the format before versions, opened in the window: the
// upgrade is announced on stderr and carried out, a Plinth window comes up
// and settles, and it closes cleanly with the folder at the new format.
// (The upgrading window itself is gone too quickly on this small folder
// to be photographed; docs/RELIABILITY.md says how it was looked at.)
func TestSmokeUpgradeInWindow(t *testing.T) {
	need(t, "Xvfb", "xdpyinfo", "import", "xdotool")
	display := xvfb(t)
	root := t.TempDir()
	if out, err := exec.Command("cp", "-a", "testdata/format1/.", root).CombinedOutput(); err != nil {
		t.Fatalf("copy the fixture: %v %s", err, out)
	}
	dir := filepath.Join(root, "data")
	g := startGUI(t, display, t.TempDir(), "fixture-master-1\n", "-data", dir, "-user", "masteradmin", "-password-stdin")
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(g.stderr.String(), "upgrading the data folder"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the window said nothing of the upgrade; stderr: %s", g.stderr.String())
		}
	}
	var ff struct {
		Format   int
		Upgrades []struct{ Backup struct{ ID string } }
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		b, err := os.ReadFile(filepath.Join(dir, "format.json"))
		if err == nil && json.Unmarshal(b, &ff) == nil && ff.Format == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no format.json of format 2 after 20 s; stderr: %s", g.stderr.String())
		}
	}
	if len(ff.Upgrades) != 1 || ff.Upgrades[0].Backup.ID == "" {
		t.Fatalf("format.json: %+v", ff)
	}
	shoot(t, display, filepath.Join(t.TempDir(), "upgraded.png"))
	g.stop(t)
}

// Closing the window does not stop Plinth: without a system tray (as
// under Xvfb) it asks, and kept running it goes on with its schedule and
// answers commands from other processes — the same commands, the same
// output — until 'plinth quit' closes it cleanly.
func TestSmokeStaysResident(t *testing.T) {
	need(t, "Xvfb", "xdpyinfo", "import", "xdotool")
	display := xvfb(t)
	home := t.TempDir()
	shots, err := filepath.Abs("docs/screenshots")
	if err != nil {
		t.Fatal(err)
	}
	work, err := filepath.Abs("bin/smoke-resident")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.RemoveAll(work)
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	dir := filepath.Join(work, "office data")
	env := []string{"PLINTH_PASSWORD=" + smokePassword}
	cli := func(args ...string) proc { return plinth(t, env, "", append([]string{"-data", dir}, args...)...) }
	ifcDir := filepath.Join(work, "ifc")
	_ = os.MkdirAll(ifcDir, 0o755)
	sample, err := os.ReadFile(filepath.Join("testdata", "ifc", "samples", "IfcOpenHouse_IFC4.ifc"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ifcDir, "house.ifc"), sample, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"init"}, {"mkdir", "/House", "--kind", "project"},
		{"imodel", "create", "/House", "Coordination"},
		{"connection", "add", "/House/Coordination", "Architecture", "--source", ifcDir, "--map", "house.ifc"}} {
		if p := cli(args...); p.code != 0 {
			t.Fatalf("%v: %+v", args, p)
		}
	}

	g := startGUI(t, display, home, smokePassword+"\n", "-data", dir, "-password-stdin")
	time.Sleep(time.Second) // the pages settle after login
	xenv := append(os.Environ(), "DISPLAY="+display)
	search := func() string { return windowID(display) }
	wid := search()
	// The window manager's close button (WM_DELETE_WINDOW).
	wmClose(t, display, wid)
	shoot(t, display, filepath.Join(shots, "keep-running.png"))
	// "Keep running" is the dialog's right-hand, default button.
	click := exec.Command("xdotool", "mousemove", "619", "425", "click", "1")
	click.Env = xenv
	if err := click.Run(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); search() != ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the window is still on screen after Keep running")
		}
	}
	select {
	case err := <-g.done:
		t.Fatalf("Plinth ended when its window was closed: %v; stderr %s", err, g.stderr.String())
	default:
	}

	// Commands from another process run inside the hidden window.
	var st struct {
		DataFolder  string `json:"dataFolder"`
		Initialised bool   `json:"initialised"`
	}
	if p := cli("status", "--json"); p.code != 0 || json.Unmarshal([]byte(p.out), &st) != nil || st.DataFolder != dir || !st.Initialised {
		t.Fatalf("status --json beside the hidden window: %+v", p)
	}
	if p := cli("import", "--to", "/House", ifcDir); p.code != 0 || !strings.HasPrefix(p.out, "Imported 1 file") {
		t.Fatalf("import beside the hidden window: %+v", p)
	}
	var check struct{ Consistent bool }
	if p := cli("check", "--json"); p.code != 0 || json.Unmarshal([]byte(p.out), &check) != nil || !check.Consistent {
		t.Fatalf("check --json beside the hidden window: %+v", p)
	}
	if p := cli("connection", "sync", "/House/Coordination", "Architecture"); p.code != 0 || !strings.Contains(p.out, "inserted") {
		t.Fatalf("connection sync beside the hidden window: %+v", p)
	}
	var first struct{ ID string }
	if p := cli("backup", "--level", "2", "--json"); p.code != 0 || json.Unmarshal([]byte(p.out), &first) != nil || first.ID == "" {
		t.Fatalf("backup --level 2 --json beside the hidden window: %+v", p)
	}
	if p := plinth(t, []string{"PLINTH_PASSWORD=wrong"}, "", "-data", dir, "user", "list"); p.code != 1 || !strings.Contains(p.stderr, "Wrong user name or password") {
		t.Fatalf("a wrong password over the endpoint: %+v", p)
	}

	// A full backup scheduled a minute ahead happens with the window closed.
	at := time.Now().Add(time.Minute)
	if at.Second() > 45 {
		at = at.Add(time.Minute)
	}
	if p := cli("backup", "schedule", "daily", at.Format("15:04")); p.code != 0 || !strings.Contains(p.out, "the next one starts") {
		t.Fatalf("backup schedule: %+v", p)
	}
	backups := func() []struct{ ID string } {
		var l struct{ Backups []struct{ ID string } }
		p := cli("backups", "--json")
		if p.code != 0 || json.Unmarshal([]byte(p.out), &l) != nil {
			t.Fatalf("backups --json: %+v", p)
		}
		return l.Backups
	}
	scheduled := func() bool {
		for _, b := range backups() {
			if b.ID != first.ID {
				return true
			}
		}
		return false
	}
	for deadline := time.Until(at) + 60*time.Second; !scheduled(); time.Sleep(2 * time.Second) {
		if deadline -= 2 * time.Second; deadline < 0 {
			t.Fatalf("no scheduled full backup by %s; stderr %s", at.Add(time.Minute).Format("15:04:05"), g.stderr.String())
		}
	}

	// Ctrl+C on a forwarded backup stops it in the window's process and
	// leaves no backup behind.
	big := filepath.Join(work, "big")
	_ = os.MkdirAll(big, 0o755)
	for i := range 4 {
		b := make([]byte, 64<<20)
		_, _ = rand.Read(b)
		if err := os.WriteFile(filepath.Join(big, fmt.Sprintf("scan-%d.tif", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if p := cli("import", "--to", "/House", big); p.code != 0 {
		t.Fatalf("import: %+v", p)
	}
	before := len(backups())
	bc := exec.Command(binary, "-data", dir, "backup", "--level", "2")
	bc.Env = append(os.Environ(), env...)
	var bErr bytes.Buffer
	bc.Stderr = &bErr
	if err := bc.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(400 * time.Millisecond)
	_ = bc.Process.Signal(os.Interrupt)
	err = bc.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 130 || !strings.HasPrefix(bErr.String(), "Stopped") {
		t.Fatalf("Ctrl+C on a forwarded backup: %v, stderr %q; want exit 130", err, bErr.String())
	}
	if after := len(backups()); after != before {
		t.Fatalf("the cancelled backup left a backup: %d before, %d after", before, after)
	}

	// Starting Plinth again brings the window back.
	second := plinth(t, []string{"DISPLAY=" + display, "HOME=" + home}, "", "-data", dir)
	if second.code != 0 || second.stderr != "Plinth is already running with this data folder; its window was brought forward.\n" {
		t.Fatalf("second start: %+v", second)
	}
	for deadline := time.Now().Add(10 * time.Second); search() == ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the window did not come back")
		}
	}

	// plinth quit ends it cleanly, and returns once the folder is free.
	if p := cli("quit"); p.code != 0 || p.out != "Plinth (the window) is closing.\n" {
		t.Fatalf("quit: %+v", p)
	}
	select {
	case err := <-g.done:
		if err != nil {
			t.Fatalf("Plinth exited with %v after quit; stderr %s", err, g.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Plinth still runs 20 s after quit")
	}
	if p := cli("user", "list"); p.code != 0 {
		t.Fatalf("a headless command after quit: %+v", p)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "logs", "plinth.log"))
	if opened, closed := strings.Count(string(log), "msg=opening"), strings.Count(string(log), "msg=closed"); opened != closed {
		t.Errorf("log shows %d opens and %d clean closes", opened, closed)
	}
}
