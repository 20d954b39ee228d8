//go:build !plinth_next

package upgrade

// next is 1 in the test build of a synthetic next format (tag
// plinth_next), which the upgrade tests run against this one.
const next = 0

var nextSteps []Step
