package testvm

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

func newToken() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// report is what the markers on the console say.
type report struct {
	booted, done  bool
	install, exec *int
	errors        []string
}

var markerRe = regexp.MustCompile(`@@TESTVM:([0-9a-f]+):([A-Z]+)(?::([^@\r\n]*))?@@`)

// parseMarkers reads the lines "@@TESTVM:<token>:<WHAT>[:<value>]@@" that
// the guest's /init prints; other tokens are ignored.
func parseMarkers(console, token string) report {
	var r report
	for _, m := range markerRe.FindAllStringSubmatch(console, -1) {
		if m[1] != token {
			continue
		}
		switch m[2] {
		case "BOOTED":
			r.booted = true
		case "DONE":
			r.done = true
		case "ERROR":
			r.errors = append(r.errors, m[3])
		case "INSTALL", "EXEC":
			n, err := strconv.Atoi(strings.TrimSpace(m[3]))
			if err != nil {
				continue
			}
			if m[2] == "INSTALL" {
				r.install = &n
			} else {
				r.exec = &n
			}
		}
	}
	return r
}

// check turns the report into Run's error.
func (r report) check(wantExec bool, qerr error, console string) error {
	var msg string
	switch {
	case len(r.errors) > 0:
		msg = "guest: " + strings.Join(r.errors, "; ")
	case r.install == nil:
		why := "the guest never reported the install result"
		if !r.booted {
			why = "the guest never started its init"
		}
		if strings.Contains(console, "Kernel panic") {
			why += " (kernel panic)"
		}
		if qerr != nil {
			why += ": " + qerr.Error()
		}
		msg = why
	case *r.install != 0:
		msg = fmt.Sprintf("install failed with exit status %d", *r.install)
	case wantExec && r.exec == nil:
		msg = "the guest never reported the exit status of Exec"
		if qerr != nil {
			msg += ": " + qerr.Error()
		}
	default:
		return nil
	}
	return &GuestError{Msg: msg, Console: console}
}

// GuestError is returned when the guest failed; it carries the console.
type GuestError struct {
	Msg     string
	Console string
}

func (e *GuestError) Error() string {
	t := strings.TrimRight(strings.ReplaceAll(e.Console, "\r", ""), "\n")
	if t == "" {
		return "testvm: " + e.Msg + " (no console output)"
	}
	return "testvm: " + e.Msg + "\n--- guest console (last lines) ---\n" + tail(t, 40)
}
