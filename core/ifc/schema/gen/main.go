// Command gen writes tables_gen.go of package schema from the official
// IFC EXPRESS schemas (IFC2X3.exp, IFC4.exp, IFC4X3.exp). Run it through
// go generate in core/ifc/schema. The schema folder is the -schemas flag,
// else $PLINTH_IFC_SCHEMAS, else ../../../testdata/ifc/schemas relative to
// core/ifc/schema.
package main

import (
	"flag"
	"fmt"
	"os"

	"codeberg.org/plinth/plinth/core/ifc/schema/internal/express"
)

func main() {
	def := "../../../testdata/ifc/schemas"
	if env := os.Getenv("PLINTH_IFC_SCHEMAS"); env != "" {
		def = env
	}
	dir := flag.String("schemas", def, "folder holding IFC2X3.exp, IFC4.exp and IFC4X3.exp (default from $PLINTH_IFC_SCHEMAS if set)")
	out := flag.String("o", "tables_gen.go", "file to write")
	verbose := flag.Bool("v", false, "print the notes on the schemas (redeclared attributes, multiple supertypes)")
	flag.Parse()

	src, notes, err := express.Generate(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
	if *verbose {
		for _, n := range notes {
			fmt.Fprintln(os.Stderr, n)
		}
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
