package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ShapeLevel1 is bench backup's run of the level-1 rows alone: the office
// data set imported, then only the snapshots, with no level-2 backup, peer
// or copy before them to leave writeback for the first snapshot's fsyncs.
const ShapeLevel1 = "level1"

// benchLevel1Alone generates the office data set in dir, imports it into a
// fresh Plinth as /Office, syncs the disk and measures the level-1 rows
// (benchLevel1), with the CPU time of the two snapshot processes.
func benchLevel1Alone(ctx context.Context, c *cli, dir, self string, sizeMiB, nFiles int) (rows, tail [][]string, err error) {
	data := filepath.Join(dir, "office")
	fmt.Fprintf(c.io.Out, "Generating %d files, %d MiB in all (half compressible text, half incompressible)…\n", nFiles, sizeMiB)
	if err := genOffice(data, int64(sizeMiB)<<20, nFiles); err != nil {
		return nil, nil, err
	}
	dataDir := filepath.Join(dir, "plinth")
	env := append(os.Environ(), "PLINTH_PASSWORD=benchmark password", "PLINTH_DATA="+dataDir)
	var cpu []time.Duration // of each child, in order
	run := plinthChild(ctx, self, env)
	plinth := func(args ...string) (time.Duration, int64, []byte, error) {
		r, out, err := run(args...)
		if err != nil {
			return 0, 0, nil, err
		}
		cpu = append(cpu, r.cpu)
		return r.wall, r.rss, out, nil
	}
	for _, args := range [][]string{{"init"}, {"mkdir", "/Office", "--kind", "project"}, {"import", "--to", "/Office", data}} {
		if _, _, _, err := plinth(args...); err != nil {
			return nil, nil, err
		}
	}
	nData, dataBytes := dirFiles(data), dirSize(data)
	if err := os.RemoveAll(data); err != nil {
		return nil, nil, err
	}
	_ = exec.CommandContext(ctx, "sync").Run() // the import's writeback is not the snapshot's
	cpu = cpu[:0]
	l1, err := benchLevel1(ctx, dataDir, plinth)
	if err != nil {
		return nil, nil, err
	}
	secs := func(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }
	rows = [][]string{
		{strings.ToUpper(fmt.Sprintf("%s: %d files, %d MiB", ShapeLevel1, nData, dataBytes>>20)), "PROCESS CPU", "", ""},
		{"first level-1 snapshot (plinth backup --level 1)", secs(cpu[0]), "", ""},
		{"level-1 snapshot of the unchanged project", secs(cpu[1]), "", ""},
	}
	return rows, append([][]string{{"LEVEL1: MEASURE", "RESULT", "TARGET", ""}}, l1...), nil
}

// benchLevel1Run is bench backup -shape level1: benchLevel1Alone's
// tables.
func benchLevel1Run(ctx context.Context, c *cli, scratch string, sizeMiB, nFiles int) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	rows, tail, err := benchLevel1Alone(ctx, c, filepath.Join(scratch, ShapeLevel1), self, sizeMiB, nFiles)
	if err != nil {
		return fmt.Errorf("bench backup, %s shape: %w", ShapeLevel1, err)
	}
	fmt.Fprintln(c.io.Out)
	c.table(rows)
	fmt.Fprintln(c.io.Out)
	c.table(tail)
	return nil
}
