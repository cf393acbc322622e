package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/terrapack/terrapack/payload"
	"golang.org/x/term"
)

// acceptanceFile in .terrapack/ records that the license was accepted.
const acceptanceFile = "license-accepted.json"

// acceptLicense makes sure the customer accepted the installer's license:
// with --accept, through an acceptance of the same text recorded by the
// earlier install, or by reading it (paged) on a terminal and answering yes.
// It returns how, for the record ("" when there is no license).
func acceptLicense(m *payload.Manifest, o options, prev *previous) (how string, err error) {
	switch {
	case m.License == "":
		return "", nil
	case o.accept:
		return "--accept", nil
	case prev != nil && prev.license == licenseSum(m):
		return "accepted for the earlier install", nil
	}
	if !isTerminal(o.stdin) || !isTerminal(o.stderr) {
		return "", &refusal{
			msg:  fmt.Sprintf("%s has a license that must be accepted, and there is no terminal to ask on", m.Title()),
			hint: "read it with --license and run again with --accept",
		}
	}
	in := bufio.NewReader(o.stdin)
	page(o.stderr, in, m.License)
	for {
		fmt.Fprint(o.stderr, "Do you accept the license? [yes/no] ")
		line, err := in.ReadString('\n')
		switch strings.ToLower(strings.TrimSpace(line)) {
		case "yes", "y":
			return "answered yes on the terminal", nil
		case "no", "n":
			return "", &refusal{msg: "the license was not accepted; nothing was installed"}
		}
		if err != nil {
			return "", &refusal{msg: "no answer to the license question; nothing was installed", hint: "answer yes or no, or run with --accept"}
		}
	}
}

// termSize is the size of the terminal w is, if it is one.
func termSize(w io.Writer) (width, height int, err error) {
	f, ok := w.(*os.File)
	if !ok {
		return 0, 0, os.ErrInvalid
	}
	return term.GetSize(int(f.Fd()))
}

// page shows text one screen at a time on w (stderr); Enter shows the next
// screen, q skips to the question.
func page(w io.Writer, in *bufio.Reader, text string) {
	rows := 24
	if _, h, err := termSize(w); err == nil && h > 2 {
		rows = h
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for i := 0; i < len(lines); i += rows - 1 {
		end := min(i+rows-1, len(lines))
		fmt.Fprintln(w, strings.Join(lines[i:end], "\n"))
		if end == len(lines) {
			return
		}
		fmt.Fprintf(w, "-- more (%d%%): Enter for the next page, q to stop reading --", 100*end/len(lines))
		answer, err := in.ReadString('\n')
		fmt.Fprint(w, "\r\033[K")
		if err != nil || strings.TrimSpace(answer) == "q" {
			return
		}
	}
}

func licenseSum(m *payload.Manifest) string {
	s := sha256.Sum256([]byte(m.License))
	return hex.EncodeToString(s[:])
}

// recordAcceptance writes .terrapack/license-accepted.json into root.
func recordAcceptance(root string, m *payload.Manifest, how string) error {
	if how == "" {
		return nil
	}
	b, _ := json.MarshalIndent(map[string]any{
		"license_sha256": licenseSum(m),
		"accepted_by":    how,
		"uid":            os.Getuid(),
		"time":           time.Now().UTC().Format(time.RFC3339),
	}, "", "  ")
	if err := os.WriteFile(filepath.Join(root, payload.MetaDir, acceptanceFile), append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("failed to record the license acceptance: %w", err)
	}
	return nil
}

// readAcceptance returns the license hash an install recorded as accepted.
func readAcceptance(meta string) string {
	var a struct {
		Sum string `json:"license_sha256"`
	}
	if b, err := os.ReadFile(filepath.Join(meta, acceptanceFile)); err == nil {
		json.Unmarshal(b, &a)
	}
	return a.Sum
}
