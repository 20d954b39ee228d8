//go:build smoke

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// xvfbSized starts an X server of the given screen size on a display it
// picks itself (-displayfd) and returns the DISPLAY value.
//
// -noreset: an X server resets when its last client leaves and, as it
// does, drops every client that connected meanwhile, so a window started
// right after xdpyinfo's check (or after the previous window closed) got
// "X11: Failed to open display". Thirty servers with ten clients started
// right after the check lost 13 of the 300 connections that way, and none
// with -noreset.
func xvfbSized(t *testing.T, width, height int) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", fmt.Sprintf("%dx%dx24", width, height), "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	line := make(chan string, 1)
	go func() {
		b := make([]byte, 16)
		n, _ := r.Read(b)
		line <- strings.TrimSpace(string(b[:n]))
	}()
	select {
	case n := <-line:
		if n == "" {
			t.Fatal("Xvfb did not start")
		}
		display := ":" + n
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if exec.Command("xdpyinfo", "-display", display).Run() == nil {
				return display
			}
		}
		t.Fatalf("Xvfb on %s does not answer", display)
	case <-time.After(15 * time.Second):
		t.Fatal("Xvfb did not say which display it took")
	}
	return ""
}

// Every page at the smallest size Plinth supports and at a large one, in
// the light and the dark theme: the window keeps its size (nothing on a
// page widens it) and every picture has content. The pictures go to
// bin/screenshots/ (not committed: they change with every run).
func TestSmokeSizesAndThemes(t *testing.T) {
	need(t, "Xvfb", "xdpyinfo", "import", "xdotool")
	work, err := filepath.Abs("bin/smoke-sizes")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.RemoveAll(work)
	t.Cleanup(func() { _ = os.RemoveAll(work) })
	out, err := filepath.Abs("bin/screenshots")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(work, "office data")
	env := []string{"PLINTH_PASSWORD=" + smokePassword}
	src := filepath.Join(work, "Competition entry — Tower A, phase 2 (revised)")
	_ = os.MkdirAll(filepath.Join(src, "Models"), 0o755)
	sample, err := os.ReadFile(filepath.Join("testdata", "ifc", "samples", "IfcOpenHouse_IFC4.ifc"))
	if err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(src, "Models", "house.ifc"), sample, 0o644)
	_ = os.WriteFile(filepath.Join(src, strings.Repeat("Ground floor plan, revision C, issued for coordination ", 1)+"(final).pdf"), bytes.Repeat([]byte("plan"), 4000), 0o644)
	for _, args := range [][]string{{"init"}, {"mkdir", "/" + filepath.Base(src), "--kind", "project"}, {"import", "--to", "/", src},
		{"imodel", "create", "/" + filepath.Base(src), "Coordination"},
		{"connection", "add", "/" + filepath.Base(src) + "/Coordination", "Architecture and structure", "--source", filepath.Join(src, "Models"), "--map", "house.ifc"},
		{"connection", "sync", "/" + filepath.Base(src) + "/Coordination", "Architecture and structure"},
		{"backup", "--level", "2"}} {
		if p := plinth(t, env, "", append([]string{"-data", dir}, args...)...); p.code != 0 {
			t.Fatalf("%v: %+v", args, p)
		}
	}
	for _, size := range [][2]int{{800, 600}, {1400, 900}} {
		display := xvfbSized(t, size[0], size[1])
		for _, theme := range []string{"light", "dark"} {
			home := t.TempDir()
			prefs := filepath.Join(home, ".config", "fyne", "org.plinth.console", "preferences.json")
			_ = os.MkdirAll(filepath.Dir(prefs), 0o700)
			if err := os.WriteFile(prefs, []byte(fmt.Sprintf(`{"window.width":%d,"window.height":%d,"autostart.offered":true}`, size[0], size[1])), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, page := range []string{"overview", "projects", "servers", "backups", "imodels", "notifications", "users"} {
				g := startThemedGUI(t, display, home, theme, smokePassword+"\n", "-data", dir, "-password-stdin", "-page", page)
				name := fmt.Sprintf("%dx%d-%s-%s.png", size[0], size[1], theme, page)
				shoot(t, display, filepath.Join(out, name))
				if w, h := windowSize(t, display); w != size[0] || h != size[1] {
					t.Errorf("%s: the window is %dx%d, want %dx%d", name, w, h, size[0], size[1])
				}
				g.stop(t)
			}
		}
	}
}

// startThemedGUI is startGUI with a theme.
func startThemedGUI(t *testing.T, display, home, theme, stdin string, args ...string) *gui {
	t.Helper()
	g := &gui{cmd: exec.Command(binary, args...), done: make(chan error, 1)}
	g.cmd.Env = append(os.Environ(), "DISPLAY="+display, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"LANG=C.UTF-8", "FYNE_THEME="+theme, "FYNE_SCALE=1")
	g.cmd.Stdin = strings.NewReader(stdin)
	g.cmd.Stderr = &g.stderr
	if err := g.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { g.done <- g.cmd.Wait() }()
	t.Cleanup(func() { _ = g.cmd.Process.Kill() })
	for deadline := time.Now().Add(20 * time.Second); windowID(display) == ""; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			// "Failed to open display" was seen twice, each time in the
			// test right after TestSmokeRealWindow, on :0 again: say what
			// the X server looked like then.
			answers := exec.Command("xdpyinfo", "-display", display).Run() == nil
			sockets, _ := exec.Command("ls", "-la", "/tmp/.X11-unix").CombinedOutput()
			t.Fatalf("no Plinth window after 20 s (the X server on %s answers now: %v; /tmp/.X11-unix:\n%s); stderr: %s",
				display, answers, sockets, g.stderr.String())
		}
	}
	return g
}

func windowID(display string) string {
	c := exec.Command("xdotool", "search", "--onlyvisible", "--name", "^Plinth$")
	c.Env = append(os.Environ(), "DISPLAY="+display)
	out, _ := c.Output()
	return strings.TrimSpace(string(out))
}

// wmClose closes the window the way a window manager's close button
// does: WM_DELETE_WINDOW (scripts/wmclose.py).
func wmClose(t *testing.T, display, wid string) {
	t.Helper()
	c := exec.Command("python3", "scripts/wmclose.py", wid)
	c.Env = append(os.Environ(), "DISPLAY="+display)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("wmclose: %v %s", err, out)
	}
}

// windowSize is the Plinth window's size on the screen.
func windowSize(t *testing.T, display string) (int, int) {
	t.Helper()
	c := exec.Command("xdotool", "getwindowgeometry", "--shell", windowID(display))
	c.Env = append(os.Environ(), "DISPLAY="+display)
	out, err := c.Output()
	if err != nil {
		t.Fatalf("getwindowgeometry: %v", err)
	}
	var w, h int
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "WIDTH":
			w = n
		case "HEIGHT":
			h = n
		}
	}
	return w, h
}
