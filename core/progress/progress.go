// Package progress is the one small type long-running work uses to say how
// far it is: the window shows it as a progress bar with Cancel, the CLI as a
// bar on a terminal. Work takes a Func and calls it as it goes; a nil Func
// is allowed and ignored. It also says how far work is in words a person
// reads (Amounts, Pace), with a Meter that estimates the speed.
package progress

// Report is how far a piece of work is.
type Report struct {
	Phase string // what is happening: "Uploading", "Synchronizing"
	Done  int64  // units done (bytes or items)
	Total int64  // units in all; 0 when not known
	Item  string // the current file or entry, if any
	Bytes bool   // Done and Total count bytes, not items
	// Unit is what Done and Total count when they are not bytes, in the
	// singular ("file", "entry"); "" shows bare numbers.
	Unit string
}

// Func receives reports. It must be quick; it runs on the worker's goroutine.
type Func func(Report)

// Send calls f if it is not nil.
func (f Func) Send(r Report) {
	if f != nil {
		f(r)
	}
}
