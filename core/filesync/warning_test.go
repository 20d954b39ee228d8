package filesync

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"codeberg.org/plinth/plinth/core/files"
	"codeberg.org/plinth/plinth/storage"
)

func entries(n int) []files.Entry {
	out := make([]files.Entry, n)
	for i := range out {
		out[i] = files.Entry{ID: fmt.Sprint(i), Path: fmt.Sprintf("/Tower/f%d", i)}
	}
	return out
}

// The warning's sentences agree with their numbers.
func TestWarningWording(t *testing.T) {
	const folder = "Synched from File Server (2026-11-25 13-40-49)"
	tower := Place{Kind: files.KindProject, Path: "/Tower", Files: 1}
	for _, c := range []struct {
		name string
		plan Plan
		want []string // sentences, in order
	}{
		{"one of each", Plan{Diff: files.Diff{MissingOnServer: entries(1), UnknownToManager: entries(1), Differing: entries(1)}, Folder: folder, Affected: []Place{tower}}, []string{
			"1 file entry shown in the Manager has no content on the File Server and will be DELETED from the Manager.",
			"1 file on the File Server is unknown to the Manager and will be added to a new folder “" + folder + "”, keeping its sub-folders.",
			"1 file entry differs and will take the File Server's content.",
			"This changes files in project “Tower”.",
			"No project, library, folder or iModel is deleted, moved or renamed.",
		}},
		{"two of each", Plan{Diff: files.Diff{MissingOnServer: entries(2), UnknownToManager: entries(2), Differing: entries(2)}, Folder: folder,
			Affected: []Place{tower, {Kind: files.KindLibrary, Path: "/Doors", Files: 1}}}, []string{
			"2 file entries shown in the Manager have no content on the File Server and will be DELETED from the Manager.",
			"2 files on the File Server are unknown to the Manager and will be added to a new folder “" + folder + "”, keeping their sub-folders.",
			"2 file entries differ and will take the File Server's content.",
			"This changes files in project “Tower” and library “Doors”.",
			"No project, library, folder or iModel is deleted, moved or renamed.",
		}},
		{"only adoptions touch nothing but the new folder", Plan{Diff: files.Diff{UnknownToManager: entries(1234)}, Folder: folder}, []string{
			"1,234 files on the File Server are unknown to the Manager and will be added to a new folder “" + folder + "”, keeping their sub-folders.",
			"No project, library, folder or iModel is deleted, moved or renamed.",
		}},
		{"at most five places by name", Plan{Diff: files.Diff{MissingOnServer: entries(7)}, Folder: folder, Affected: []Place{
			{Kind: files.KindProject, Path: "/A"}, {Kind: files.KindProject, Path: "/Clients/B"}, {Kind: files.KindLibrary, Path: "/C"},
			{Kind: files.KindFolder, Path: "/D"}, {Kind: files.KindFolder, Path: "/"}, {Kind: files.KindProject, Path: "/F"}, {Kind: files.KindProject, Path: "/G"},
		}}, []string{
			"7 file entries shown in the Manager have no content on the File Server and will be DELETED from the Manager.",
			"This changes files in project “A”, project “Clients/B”, library “C”, folder “D”, the top level of the Projects page and 2 more.",
			"No project, library, folder or iModel is deleted, moved or renamed.",
		}},
	} {
		got := strings.Split(c.plan.Warning(), "\n")
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s: the warning reads\n%s\nwant\n%s", c.name, strings.Join(got, "\n"), strings.Join(c.want, "\n"))
		}
	}
}

// projectDrift makes a project Tower lose content on a restored File
// Server: missing entries in Tower have no content, and unknown old files
// of Tower are unknown to the Manager; with others, a library Doors and a
// plain folder Misc lose one entry each too.
func projectDrift(t *testing.T, missing, unknown int, others bool) *office {
	o := newOffice(t)
	ctx := context.Background()
	for name, kind := range map[string]files.Kind{"Tower": files.KindProject, "Doors": files.KindLibrary} {
		if _, err := o.files.Create(ctx, o.master, files.RootID, name, kind); err != nil {
			t.Fatal(err)
		}
	}
	o.put("/Tower/readme.txt", []byte("stays"))
	for i := range unknown {
		o.put(fmt.Sprintf("/Tower/old/plan-%d.pdf", i), []byte(fmt.Sprint("old plan ", i)))
	}
	o.save(storage.FileServer)
	for i := range unknown {
		o.rm(fmt.Sprintf("/Tower/old/plan-%d.pdf", i))
	}
	for i := range missing {
		o.put(fmt.Sprintf("/Tower/new/model-%d.ifc", i), []byte(fmt.Sprint("model ", i)))
	}
	if others {
		o.put("/Doors/door.rfa", []byte("door"))
		o.put("/Misc/sub/note.txt", []byte("note"))
	}
	o.restore(storage.FileServer)
	return o
}

// The warning names the folder Synchronize creates, even when the run
// starts seconds after the plan, and the projects the run changes, in
// sentences that agree with their numbers.
func TestPlanNamesTheFolderItCreates(t *testing.T) {
	const want = "Synched from File Server (2026-11-25 13-40-49)"
	for _, c := range []struct {
		name             string
		missing, unknown int
		others           bool
		says             []string
	}{
		{"one file", 1, 1, false, []string{
			"1 file entry shown in the Manager has no content on the File Server and will be DELETED from the Manager.",
			"1 file on the File Server is unknown to the Manager and will be added to a new folder “" + want + "”, keeping its sub-folders.",
			"This changes files in project “Tower”.",
		}},
		{"two files", 2, 2, true, []string{
			"4 file entries shown in the Manager have no content on the File Server and will be DELETED from the Manager.",
			"2 files on the File Server are unknown to the Manager and will be added to a new folder “" + want + "”, keeping their sub-folders.",
			"This changes files in project “Tower”, library “Doors” and folder “Misc”.",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := projectDrift(t, c.missing, c.unknown, c.others)
			ctx := context.Background()
			o.clock = time.Date(2026, 11, 25, 13, 40, 49, 0, time.Local)
			plan, err := o.sync.Plan(ctx, o.master)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Folder != want {
				t.Fatalf("plan folder %q, want %q", plan.Folder, want)
			}
			w := plan.Warning()
			for _, s := range c.says {
				if !strings.Contains(w, s) {
					t.Errorf("the warning lacks %q:\n%s", s, w)
				}
			}
			if strings.Contains(w, "not touched") {
				t.Errorf("the warning says projects are not touched:\n%s", w)
			}

			o.clock = o.clock.Add(7 * time.Second) // the admin reads, then presses Synchronize
			r, err := o.sync.Synchronize(ctx, o.master, plan, nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.Folder != want {
				t.Fatalf("the run adopted into %q, the warning said %q", r.Folder, want)
			}
			if _, err := o.files.Lookup(ctx, o.master, "/"+want+"/Tower/old/plan-0.pdf"); err != nil {
				t.Fatalf("the adopted file is not in the folder the warning named: %v\n%s", err, o.tree())
			}
			if strings.Contains(o.tree(), "13-40-56") {
				t.Fatalf("a folder named for the run's start was created:\n%s", o.tree())
			}
		})
	}
}

// An interrupted run is finished first, into its own folder: the plan made
// after it names that folder.
func TestPlanAfterInterruptedRunNamesItsFolder(t *testing.T) {
	old := batchSize
	batchSize = 1
	t.Cleanup(func() { batchSize = old })
	o := drift(t, 2, 2)
	ctx := context.Background()
	killed := errors.New("killed")
	o.sync.afterBatch = func(b int) error {
		if b == 3 { // after the deletions and the first adoption
			return killed
		}
		return nil
	}
	first, err := o.sync.Plan(ctx, o.master)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.sync.Synchronize(ctx, o.master, first, nil); !errors.Is(err, killed) {
		t.Fatalf("run did not stop: %v", err)
	}
	o.sync.afterBatch = nil
	o.clock = o.clock.Add(time.Hour)
	plan, err := o.sync.Plan(ctx, o.master)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Folder != first.Folder || !strings.Contains(plan.Warning(), "“"+first.Folder+"”") {
		t.Fatalf("after an interrupted run the plan names %q, want %q", plan.Folder, first.Folder)
	}
	r, err := o.sync.Synchronize(ctx, o.master, plan, nil)
	if err != nil || r.Folder != first.Folder || !r.Resumed {
		t.Fatalf("run = %+v, %v; want resumed into %q", r, err, first.Folder)
	}
}
