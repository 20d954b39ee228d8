// Command ifcgen writes a large IFC file for benchmarks by replicating the
// DATA section of a sample file (see package ifcgen):
//
//	go run ./core/ifc/ifcgen/cmd/ifcgen -sample X.ifc -mb 200 -o out.ifc
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"codeberg.org/plinth/plinth/core/ifc/ifcgen"
)

func main() {
	sample := flag.String("sample", "", "the IFC file to replicate (required)")
	mb := flag.Float64("mb", 200, "size of the output in MiB (about)")
	out := flag.String("o", "", "output file (required)")
	seed := flag.Int64("seed", 1, "seed of the fresh GlobalIds")
	flag.Parse()
	if *sample == "" || *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: ifcgen -sample FILE.ifc [-mb 200] [-seed 1] -o OUT.ifc")
		os.Exit(2)
	}
	if err := run(*sample, int64(*mb*(1<<20)), *out, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "ifcgen:", err)
		os.Exit(1)
	}
}

func run(samplePath string, target int64, outPath string, seed int64) error {
	sample, err := os.ReadFile(samplePath)
	if err != nil {
		return err
	}
	f, err := os.Create(outPath)
	if err != nil {
		return err
	}
	start := time.Now()
	n, err := ifcgen.Generate(f, sample, target, seed)
	if err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	st, err := os.Stat(outPath)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%s: %d instances, %d bytes in %v\n", outPath, n, st.Size(), time.Since(start).Round(time.Millisecond))
	return nil
}
