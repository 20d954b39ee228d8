package app

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchFolder is a data folder holding the real IFC samples, 40 variants
// of each (a comment line apart), in one project.
func benchFolder(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	src := b.TempDir()
	samples, _ := filepath.Glob(filepath.Join("..", "testdata", "ifc", "samples", "*.ifc"))
	for _, s := range samples {
		raw, err := os.ReadFile(s)
		if err != nil {
			b.Fatal(err)
		}
		for i := range 40 {
			v := append([]byte(fmt.Sprintf("/* variant %d */\n", i)), raw...)
			if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("%02d-%s", i, filepath.Base(s))), v, 0o600); err != nil {
				b.Fatal(err)
			}
		}
	}
	env := func(k string) string { return master[k] }
	for _, args := range [][]string{{"init"}, {"import", "--to", "/Office", src}} {
		var out, errb bytes.Buffer
		if code := RunCommand(context.Background(), Global{DataDir: dir}, args, IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: env}); code != 0 {
			b.Fatalf("%v: %s", args, errb.String())
		}
	}
	return dir
}

// A command answered by the running Plinth against the same command run
// headless (its peer: what every command cost before the control
// endpoint, and still costs when no Plinth runs): the headless one opens
// and checks both stores each time.
func BenchmarkCommand(b *testing.B) {
	for _, args := range [][]string{{"status", "--json"}, {"ls", "/Office", "--json"}} {
		name := strings.Join(args[:1], " ")
		b.Run(name+"/headless", func(b *testing.B) {
			dir := benchFolder(b)
			b.ResetTimer()
			for b.Loop() {
				benchRun(b, dir, args)
			}
		})
		b.Run(name+"/forwarded", func(b *testing.B) {
			dir := benchFolder(b)
			a, err := Open(context.Background(), Config{DataDir: dir, MustExist: true})
			if err != nil {
				b.Fatal(err)
			}
			defer a.Close()
			if err := a.ServeControl(Holder{Kind: "bench"}); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for b.Loop() {
				benchRun(b, dir, args)
			}
		})
	}
}

func benchRun(b *testing.B, dir string, args []string) {
	var out, errb bytes.Buffer
	code := RunCommand(context.Background(), Global{DataDir: dir}, args, IO{In: strings.NewReader(""), Out: &out, Err: &errb,
		Getenv: func(k string) string { return master[k] }})
	if code != 0 {
		b.Fatalf("%v: %s", args, errb.String())
	}
}

// The health report (the Overview, the tray every 5 s, plinth status)
// against its peer, the store figures plinth status showed before it:
// what the report adds to every status and tray refresh. The same folder
// of 200 files from the real IFC samples, with a full backup taken.
func BenchmarkHealth(b *testing.B) {
	dir := benchFolder(b)
	var out, errb bytes.Buffer
	if code := RunCommand(context.Background(), Global{DataDir: dir}, []string{"backup", "--level", "2"},
		IO{In: strings.NewReader(""), Out: &out, Err: &errb, Getenv: func(k string) string { return master[k] }}); code != 0 {
		b.Fatal(errb.String())
	}
	a, err := Open(context.Background(), Config{DataDir: dir, MustExist: true})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	b.Run("report", func(b *testing.B) {
		for b.Loop() {
			if _, err := a.HealthReport(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("store-figures", func(b *testing.B) {
		for b.Loop() {
			_ = storeStatus(a.Manager)
			_ = storeStatus(a.FileServer)
		}
	})
}
