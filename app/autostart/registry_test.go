package autostart

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

func TestWindowsCommandLine(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{`C:\Program Files\Plinth\plinth.exe`, "-background"}, `"C:\Program Files\Plinth\plinth.exe" -background`},
		{[]string{`C:\Plinth\plinth.exe`, "-data", `D:\Plinth data\`, "-background"}, `"C:\Plinth\plinth.exe" -data "D:\Plinth data\\" -background`},
		{[]string{`C:\p.exe`, "-data", `C:\`}, `"C:\p.exe" -data C:\`},
		{[]string{`C:\p.exe`, `a"b`, `a\"b`, `a\\b`, ""}, `"C:\p.exe" a\"b a\\\"b a\\b ""`},
		{[]string{`C:\p.exe`, `say "hi" \`}, `"C:\p.exe" "say \"hi\" \\"`},
		{[]string{`C:\p.exe`, `100% sûr`}, `"C:\p.exe" "100% sûr"`},
	} {
		got, err := WindowsCommandLine(tc.argv)
		if err != nil {
			t.Fatalf("WindowsCommandLine(%q): %v", tc.argv, err)
		}
		if got != tc.want {
			t.Errorf("WindowsCommandLine(%q)\n got %s\nwant %s", tc.argv, got, tc.want)
		}
		back, err := SplitWindowsCommandLine(got)
		if err != nil || !slices.Equal(back, tc.argv) {
			t.Errorf("SplitWindowsCommandLine(%s) = %q, %v; want %q", got, back, err, tc.argv)
		}
	}
	for _, bad := range [][]string{nil, {""}, {`C:\a"b.exe`}} {
		if got, err := WindowsCommandLine(bad); err == nil {
			t.Errorf("WindowsCommandLine(%q) = %s, want an error", bad, got)
		}
	}
}

// Command lines written by hand or by installers.
func TestSplitWindowsCommandLine(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{`C:\Plinth\plinth.exe -background`, []string{`C:\Plinth\plinth.exe`, "-background"}},
		{`"C:\a b\p.exe"`, []string{`C:\a b\p.exe`}},
		{`p.exe "a ""quoted"" word"`, []string{"p.exe", `a "quoted" word`}},
		{`p.exe a\\\\"b c"`, []string{"p.exe", `a\\b c`}},
	} {
		got, err := SplitWindowsCommandLine(tc.line)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("SplitWindowsCommandLine(%s) = %q, %v; want %q", tc.line, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "  ", `"C:\a b\p.exe`} {
		if got, err := SplitWindowsCommandLine(bad); err == nil {
			t.Errorf("SplitWindowsCommandLine(%s) = %q, want an error", bad, got)
		}
	}
}

// fakeRegistry is HKEY_CURRENT_USER in memory: keys of values.
type fakeRegistry struct {
	keys    map[string]map[string]any
	failSet error
}

type fakeKey struct {
	r    *fakeRegistry
	path string
}

func (r *fakeRegistry) open(path string, create bool) (regKey, error) {
	if _, ok := r.keys[path]; !ok {
		if !create {
			return nil, fs.ErrNotExist
		}
		r.keys[path] = map[string]any{}
	}
	return fakeKey{r, path}, nil
}

func (k fakeKey) GetStringValue(name string) (string, error) {
	switch v := k.r.keys[k.path][name].(type) {
	case nil:
		return "", fs.ErrNotExist
	case string:
		return v, nil
	default:
		return "", badEntry{errors.New("the value is not a string")}
	}
}

func (k fakeKey) GetBinaryValue(name string) ([]byte, error) {
	v, ok := k.r.keys[k.path][name].([]byte)
	if !ok {
		return nil, fs.ErrNotExist
	}
	return v, nil
}

func (k fakeKey) SetStringValue(name, value string) error {
	if k.r.failSet != nil {
		return k.r.failSet
	}
	k.r.keys[k.path][name] = value
	return nil
}

func (k fakeKey) DeleteValue(name string) error {
	if _, ok := k.r.keys[k.path][name]; !ok {
		return fs.ErrNotExist
	}
	delete(k.r.keys[k.path], name)
	return nil
}

func (k fakeKey) Close() error { return nil }

// The Windows place on a fake registry: the Run value is written, read
// back, reported turned off when Task Manager says so, and removed.
func TestRegistryPlace(t *testing.T) {
	r := &fakeRegistry{keys: map[string]map[string]any{}}
	p := registryPlace{open: r.open}
	if want := `HKCU\Software\Microsoft\Windows\CurrentVersion\Run\Plinth`; p.where() != want {
		t.Errorf("where = %s, want %s", p.where(), want)
	}
	e := Entry{Exe: fakeExe(t), DataDir: `D:\Plinth data`}

	// No Run key at all, then a Run key without Plinth: not found, and
	// removing is no error.
	for range 2 {
		if s, err := status(p, e); err != nil || s.Found {
			t.Fatalf("before writing: %+v, %v", s, err)
		}
		if err := p.remove(); err != nil {
			t.Fatal(err)
		}
		r.keys[runKeyPath] = map[string]any{"Other": `"C:\other.exe"`}
	}

	if err := p.write(e.Argv()); err != nil {
		t.Fatal(err)
	}
	line := r.keys[runKeyPath]["Plinth"].(string)
	if want := `"` + e.Exe + `" -data "D:\Plinth data" -background`; line != want {
		t.Errorf("Run value %s, want %s", line, want)
	}
	s, err := status(p, e)
	if err != nil || !s.Starts() || !slices.Equal(s.Command, e.Argv()) {
		t.Fatalf("after writing: %+v, %v", s, err)
	}

	// Task Manager turns it off: 03 00 00 00 and the time.
	r.keys[approvedKeyPath] = map[string]any{"Plinth": []byte{3, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8}}
	s, _ = status(p, e)
	if s.Enabled || !s.Found || s.Problem != "it is turned off in Task Manager's Startup apps" {
		t.Errorf("turned off in Task Manager: %+v", s)
	}
	r.keys[approvedKeyPath]["Plinth"] = []byte{2, 0, 0, 0}
	if s, _ = status(p, e); !s.Enabled {
		t.Errorf("turned on in Task Manager: %+v", s)
	}
	// Turning it on in Plinth clears Task Manager's choice.
	r.keys[approvedKeyPath]["Plinth"] = []byte{3, 0, 0, 0}
	if err := p.write(e.Argv()); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.keys[approvedKeyPath]["Plinth"]; ok {
		t.Error("Enable left Task Manager's off switch")
	}

	// A value of another type is not Plinth's: found and stale.
	r.keys[runKeyPath]["Plinth"] = []byte{1}
	if s, err := status(p, e); err != nil || !s.Stale || !strings.Contains(s.Problem, "not a string") {
		t.Errorf("binary value: %+v, %v", s, err)
	}

	r.keys[runKeyPath]["Plinth"] = line
	r.keys[approvedKeyPath]["Plinth"] = []byte{3, 0, 0, 0}
	if err := p.remove(); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.keys[runKeyPath]["Plinth"]; ok {
		t.Error("the Run value is still there")
	}
	if _, ok := r.keys[approvedKeyPath]["Plinth"]; ok {
		t.Error("the StartupApproved value is still there")
	}
	if r.keys[runKeyPath]["Other"] == nil {
		t.Error("remove took another program's value")
	}

	r.failSet = errors.New("access is denied")
	if err := p.write(e.Argv()); !errors.Is(err, r.failSet) {
		t.Errorf("write with a failing registry: %v", err)
	}
}
