// Package browsertest starts the headless Chromium that the pages' tests
// (the coordinator's status page, the person's device page) drive with
// chromedp: Debian's chromium, with the flags a machine without a network
// needs, failing rather than skipping under CI=true when it is missing.
// Only tests import it.
package browsertest
