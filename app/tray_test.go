package app

import (
	"bytes"
	"image/png"
	"os"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/health"
	"codeberg.org/plinth/plinth/core/schedule"
)

func TestTrayState(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 30, 0, 0, time.Local)
	night := time.Date(2026, 12, 2, 2, 0, 3, 0, time.Local)
	full := func(s schedule.State, running bool) []schedule.Status {
		s.Name = "backup.level2"
		return []schedule.Status{{State: s, Title: "Full data backup", Running: running}}
	}
	safe := health.Report{State: health.Safe}
	atRisk := health.Report{State: health.AtRisk, Reasons: []health.Reason{
		{Code: "backup.none", State: health.AtRisk, Sentence: "No full backup has been taken yet: if the disk fails, everything is lost."},
		{Code: "autostart.off", State: health.Attention, Sentence: "Plinth does not start when you log in."}}}
	attention := health.Report{State: health.Attention, Reasons: []health.Reason{
		{Code: "verify.never", State: health.Attention, Sentence: "No full backup has been verified yet."}}}
	tests := []struct {
		name      string
		rep       health.Report
		jobs      []schedule.Status
		line      string
		attention bool
	}{
		{"safe, backed up tonight", safe, full(schedule.State{LastSuccess: night}, false), "All safe · last backup 02:00", false},
		{"safe, backed up days ago", safe, full(schedule.State{LastSuccess: night.AddDate(0, 0, -3)}, false), "All safe · last backup Sun 02:00", false},
		{"safe, no job here", safe, nil, "All safe", false},
		{"at risk, two reasons", atRisk, nil, "At risk: No full backup has been taken yet: if the disk fails, everything is… (+1 more)", true},
		{"needs attention, one reason", attention, full(schedule.State{LastSuccess: night}, false), "Needs attention: No full backup has been verified yet", true},
		{"backing up", attention, full(schedule.State{LastSuccess: night}, true), "Backing up now…", true},
	}
	for _, tt := range tests {
		line, att := trayState(tt.rep, tt.jobs, now)
		if line != tt.line || att != tt.attention {
			t.Errorf("%s: %q, %v; want %q, %v", tt.name, line, att, tt.line, tt.attention)
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
