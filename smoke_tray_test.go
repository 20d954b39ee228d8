//go:build smoke

package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/introspect"
)

// trayHost is a StatusNotifierWatcher on a private session bus: what a
// desktop with a system tray runs (KDE, GNOME with AppIndicators, XFCE).
// Plinth's tray icon registers with it, and the test reads and clicks the
// icon's menu over D-Bus the way the desktop's panel does.
type trayHost struct {
	addr string
	conn *dbus.Conn

	mu    sync.Mutex
	items []string // "sender/path" of the registered icons
}

func (h *trayHost) RegisterStatusNotifierItem(service string, sender dbus.Sender) *dbus.Error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.items = append(h.items, string(sender)+service)
	return nil
}

func (h *trayHost) RegisterStatusNotifierHost(string) *dbus.Error { return nil }

func startTrayHost(t *testing.T) *trayHost {
	t.Helper()
	cmd := exec.Command("dbus-daemon", "--session", "--nofork", "--print-address=1", "--address=unix:path="+filepath.Join(t.TempDir(), "bus"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("dbus-daemon: %v", err)
	}
	h := &trayHost{addr: strings.TrimSpace(addr)}
	if h.conn, err = dbus.Connect(h.addr); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.conn.Close() })
	const iface = "org.kde.StatusNotifierWatcher"
	if err := h.conn.Export(h, "/StatusNotifierWatcher", iface); err != nil {
		t.Fatal(err)
	}
	node := &introspect.Node{Name: "/StatusNotifierWatcher", Interfaces: []introspect.Interface{introspect.IntrospectData,
		{Name: iface, Methods: introspect.Methods(h)}}}
	if err := h.conn.Export(introspect.NewIntrospectable(node), "/StatusNotifierWatcher", "org.freedesktop.DBus.Introspectable"); err != nil {
		t.Fatal(err)
	}
	if reply, err := h.conn.RequestName(iface, dbus.NameFlagDoNotQueue); err != nil || reply != dbus.RequestNameReplyPrimaryOwner {
		t.Fatalf("request %s: %v %v", iface, reply, err)
	}
	return h
}

// menu is the tray icon's menu: label → item id.
func (h *trayHost) menu(t *testing.T) (map[string]int32, []string) {
	t.Helper()
	var sender string
	for deadline := time.Now().Add(20 * time.Second); sender == ""; time.Sleep(100 * time.Millisecond) {
		h.mu.Lock()
		if len(h.items) > 0 {
			sender, _, _ = strings.Cut(h.items[0], "/")
		}
		h.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatal("no tray icon registered within 20 s")
		}
	}
	var revision uint32
	var layout struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	obj := h.conn.Object(sender, "/StatusNotifierMenu")
	if err := obj.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&revision, &layout); err != nil {
		t.Fatalf("GetLayout: %v", err)
	}
	ids := map[string]int32{}
	var labels []string
	for _, c := range layout.Children {
		v, ok := c.Value().([]any)
		if !ok || len(v) < 2 {
			continue
		}
		id, _ := v[0].(int32)
		props, _ := v[1].(map[string]dbus.Variant)
		label, _ := props["label"].Value().(string)
		if label != "" {
			ids[label] = id
			labels = append(labels, label)
		}
	}
	return ids, labels
}

// click chooses a menu item as the panel does.
func (h *trayHost) click(t *testing.T, label string) {
	t.Helper()
	ids, labels := h.menu(t)
	id, ok := ids[label]
	if !ok {
		t.Fatalf("the tray menu has no %q: %q", label, labels)
	}
	h.mu.Lock()
	sender, _, _ := strings.Cut(h.items[0], "/")
	h.mu.Unlock()
	call := h.conn.Object(sender, "/StatusNotifierMenu").Call("com.canonical.dbusmenu.Event", 0, id, "clicked", dbus.MakeVariant(""), uint32(0))
	if call.Err != nil {
		t.Fatalf("click %q: %v", label, call.Err)
	}
}

// On a desktop with a system tray, Plinth's icon has its state, Open,
// Back up now and Quit; closing the window hides it to the tray with a
// notice the first time.
func TestSmokeTray(t *testing.T) {
	need(t, "Xvfb", "xdpyinfo", "import", "xdotool", "dbus-daemon")
	display := xvfb(t)
	host := startTrayHost(t)
	home := t.TempDir()
	shots, err := filepath.Abs("docs/screenshots")
	if err != nil {
		t.Fatal(err)
	}
	work, err := filepath.Abs("bin/smoke-tray")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.RemoveAll(work)
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	dir := filepath.Join(work, "office data")
	env := []string{"PLINTH_PASSWORD=" + smokePassword}
	cli := func(args ...string) proc { return plinth(t, env, "", append([]string{"-data", dir}, args...)...) }
	if p := cli("init"); p.code != 0 {
		t.Fatalf("init: %+v", p)
	}
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", host.addr)
	g := startGUI(t, display, home, smokePassword+"\n", "-data", dir, "-password-stdin")
	xenv := append(os.Environ(), "DISPLAY="+display)
	search := func() string { return windowID(display) }

	// The state line is the health report's (the Overview's): a new
	// folder has no backup yet. The first look may still be "Checking…".
	var labels []string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(300 * time.Millisecond) {
		_, labels = host.menu(t)
		if len(labels) == 4 && strings.HasPrefix(labels[0], "At risk: No full backup has been taken yet") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tray menu = %q, want the state line, Open Plinth, Back up now, Quit Plinth", labels)
		}
	}
	if want := []string{"Open Plinth", "Back up now", "Quit Plinth"}; strings.Join(labels[1:], "|") != strings.Join(want, "|") {
		t.Fatalf("tray menu = %q", labels)
	}

	// The close button: the first time, a notice; then the window hides.
	time.Sleep(time.Second)
	wmClose(t, display, search())
	shoot(t, display, filepath.Join(shots, "tray-notice.png"))
	ok := exec.Command("xdotool", "mousemove", "550", "416", "click", "1") // the notice's OK
	ok.Env = xenv
	_ = ok.Run()
	waitWindow(t, search, false)
	select {
	case err := <-g.done:
		t.Fatalf("Plinth ended when its window was closed: %v; stderr %s", err, g.stderr.String())
	default:
	}

	// Back up now, from the tray: a full backup, and the state line no
	// longer says there is none (the backups are on the data's disk: it
	// needs attention, not more).
	host.click(t, "Back up now")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var l struct{ Backups []struct{ ID string } }
		if p := cli("backups", "--json"); p.code == 0 && json.Unmarshal([]byte(p.out), &l) == nil && len(l.Backups) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Back up now in the tray made no backup within 30 s")
		}
	}
	for deadline := time.Now().Add(45 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		_, labels = host.menu(t)
		if len(labels) > 0 && (strings.HasPrefix(labels[0], "All safe · last backup ") || strings.HasPrefix(labels[0], "Needs attention: ")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tray's state line after a backup = %q", labels)
		}
	}

	// Open Plinth brings the window back; closing it again hides it
	// without the notice.
	host.click(t, "Open Plinth")
	waitWindow(t, search, true)
	wmClose(t, display, search())
	waitWindow(t, search, false)

	// Quit Plinth, with nothing running, ends it cleanly.
	host.click(t, "Quit Plinth")
	select {
	case err := <-g.done:
		if err != nil {
			t.Fatalf("Plinth exited with %v after Quit; stderr %s", err, g.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Plinth still runs 20 s after Quit Plinth in the tray")
	}
	if s := g.stderr.String(); strings.Contains(s, "systray error") {
		t.Errorf("stderr: %s", s)
	}
	log, _ := os.ReadFile(filepath.Join(dir, "logs", "plinth.log"))
	if opened, closed := strings.Count(string(log), "msg=opening"), strings.Count(string(log), "msg=closed"); opened != closed {
		t.Errorf("log shows %d opens and %d clean closes", opened, closed)
	}
}

func waitWindow(t *testing.T, search func() string, visible bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); (search() != "") != visible; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the window is not %s after 10 s", map[bool]string{true: "on screen", false: "hidden"}[visible])
		}
	}
}
