package imodel

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// ReportJSON is a run's report as JSON, shaped like iTwin's
// synchronization reports: the run's state and result, then each file
// with its state, counts, warnings and errors (category, whether the user
// can fix it).
func ReportJSON(r Run) ([]byte, error) {
	type file struct {
		File      string        `json:"file"`
		State     string        `json:"state"`
		Inserted  int           `json:"inserted"`
		Updated   int           `json:"updated"`
		Deleted   int           `json:"deleted"`
		Unchanged int           `json:"unchanged"`
		Warnings  int           `json:"warnings"`
		Details   []string      `json:"warningDetails,omitempty"`
		Errors    []ReportError `json:"errors,omitempty"`
		Seconds   float64       `json:"seconds"`
	}
	out := struct {
		Run        string        `json:"run"`
		Connection string        `json:"connection"`
		By         string        `json:"by"`
		Trigger    string        `json:"trigger"`
		Started    time.Time     `json:"started"`
		Finished   time.Time     `json:"finished,omitzero"`
		State      string        `json:"state"`
		Result     string        `json:"result"`
		Changeset  int64         `json:"changeset,omitempty"`
		Errors     []ReportError `json:"errors,omitempty"`
		Files      []file        `json:"files"`
	}{r.ID, r.ConnName, r.By, r.Trigger, r.Started, r.Finished, r.State, r.Result, r.Changeset, r.Errors, []file{}}
	for _, f := range r.Files {
		x := file{File: f.File, State: f.State, Inserted: f.Inserted, Updated: f.Updated, Deleted: f.Deleted, Unchanged: f.Unchanged,
			Warnings: len(f.Warnings), Errors: f.Errors, Seconds: f.Seconds}
		for _, w := range f.Warnings {
			x.Details = append(x.Details, w.String())
		}
		out.Files = append(out.Files, x)
	}
	return json.MarshalIndent(out, "", "  ")
}

// ReportCSV is a run's report as CSV: one row per file, then one per
// warning and error.
func ReportCSV(r Run) ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"run", "connection", "result", "file", "state", "inserted", "updated", "deleted", "unchanged", "kind", "category", "userFixable", "line", "message"})
	base := []string{r.ID, r.ConnName, r.Result}
	itoa := strconv.Itoa
	for _, e := range r.Errors {
		_ = w.Write(append(base, "", r.State, "", "", "", "", "error", e.Category, strconv.FormatBool(e.UserFixable), "", e.Message))
	}
	for _, f := range r.Files {
		counts := []string{f.File, f.State, itoa(f.Inserted), itoa(f.Updated), itoa(f.Deleted), itoa(f.Unchanged)}
		_ = w.Write(append(append(append([]string{}, base...), counts...), "file", "", "", "", ""))
		for _, x := range f.Warnings {
			_ = w.Write(append(append(append([]string{}, base...), counts...), "warning", "", "true", itoa(x.Line), x.Msg))
		}
		for _, e := range f.Errors {
			_ = w.Write(append(append(append([]string{}, base...), counts...), "error", e.Category, strconv.FormatBool(e.UserFixable), itoa(e.Line), e.Message))
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, fmt.Errorf("write the report: %w", err)
	}
	return b.Bytes(), nil
}
