package app

import (
	"bytes"
	"image/png"
	"os"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/schedule"
)

func TestTrayState(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, time.Local)
	night := time.Date(2026, 12, 2, 2, 0, 3, 0, time.Local)
	job := func(name, title string, s schedule.State, running bool) schedule.Status {
		s.Name = name
		return schedule.Status{State: s, Title: title, Running: running}
	}
	ok := job("backup.level2", "Full data backup", schedule.State{LastSuccess: night, LastEnd: night, Runs: 3}, false)
	tests := []struct {
		name      string
		jobs      []schedule.Status
		line      string
		attention bool
	}{
		{"never backed up", nil, "Needs attention: no full backup yet", true},
		{"backed up tonight", []schedule.Status{ok}, "All safe · last backup 02:00", false},
		{"backed up days ago", []schedule.Status{job("backup.level2", "Full data backup",
			schedule.State{LastSuccess: night.AddDate(0, 0, -3), LastEnd: night.AddDate(0, 0, -3)}, false)}, "All safe · last backup Sun 02:00", false},
		{"backing up", []schedule.Status{job("backup.level2", "Full data backup", ok.State, true)}, "Backing up now…", false},
		{"last backup failed", []schedule.Status{job("backup.level2", "Full data backup",
			schedule.State{LastSuccess: night.AddDate(0, 0, -1), LastEnd: night, LastError: "target full", Failures: 1}, false)},
			"Needs attention: full data backup failed", true},
		{"a check failed", []schedule.Status{ok, job("filesync.detect", "Compare the Manager and the File Server",
			schedule.State{LastEnd: night, LastError: "damaged", Failures: 2}, false)},
			"Needs attention: compare the Manager and the File Server failed", true},
		{"failed, then succeeded", []schedule.Status{ok, job("filesync.detect", "Compare the Manager and the File Server",
			schedule.State{LastEnd: night, LastSuccess: night, LastError: "", Failures: 2}, false)},
			"All safe · last backup 02:00", false},
	}
	for _, tt := range tests {
		line, attention := trayState(tt.jobs, now)
		if line != tt.line || attention != tt.attention {
			t.Errorf("%s: %q, %v; want %q, %v", tt.name, line, attention, tt.line, tt.attention)
		}
	}
}

// The attention icon is the icon with a mark: same size, visibly different.
func TestMarkIcon(t *testing.T) {
	icon, err := os.ReadFile("../Icon.png")
	if err != nil {
		t.Fatal(err)
	}
	marked, err := markIcon(icon)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := png.Decode(bytes.NewReader(icon))
	b, err := png.Decode(bytes.NewReader(marked))
	if err != nil || a.Bounds() != b.Bounds() {
		t.Fatalf("marked icon: %v, %v vs %v", err, b.Bounds(), a.Bounds())
	}
	changed := 0
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 {
				changed++
			}
		}
	}
	if area := a.Bounds().Dx() * a.Bounds().Dy(); changed < area/20 || changed > area/4 {
		t.Fatalf("the mark changed %d of %d pixels", changed, area)
	}
	if _, err := markIcon([]byte("not a png")); err == nil {
		t.Fatal("a broken icon was marked")
	}
}
