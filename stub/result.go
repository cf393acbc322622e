package main

import (
	"encoding/json"
	"io"
	"time"
)

// resultSchema names the layout of the --json object (docs/RESULT.md); it
// changes only when a key changes meaning or goes away.
const resultSchema = "terrapack.result/1"

// result is what --json prints on stdout when the installer ends. Every key
// is always present, lists empty rather than null, so that a fleet tool can
// read it without checks.
type result struct {
	Schema          string    `json:"schema"`
	Status          string    `json:"status"` // ok, usage, failed, damaged, refused, hook-failed, interrupted
	ExitCode        int       `json:"exit_code"`
	Action          string    `json:"action"` // install, upgrade, repair, uninstall, none
	Changed         bool      `json:"changed"`
	DryRun          bool      `json:"dry_run"`
	Target          string    `json:"target"`
	Name            string    `json:"name"`
	Version         string    `json:"version"`
	PreviousVersion string    `json:"previous_version"`
	InstallerSHA256 string    `json:"installer_sha256"`
	Signature       signature `json:"signature"`
	Counts          counts    `json:"counts"`
	Config          configs   `json:"config"`
	Data            data      `json:"data"`
	Added           added     `json:"added"`
	Repaired        []string  `json:"repaired"`
	Conflicts       []string  `json:"conflicts"`
	Kept            []string  `json:"kept"` // what --uninstall left in place
	DurationSeconds float64   `json:"duration_seconds"`
	Error           string    `json:"error"`
	Hint            string    `json:"hint"`
}

// signature says who signed the installer and what this run checked of it.
type signature struct {
	Signed      bool   `json:"signed"`
	Fingerprint string `json:"fingerprint"` // the signer's key as `ssh-keygen -l` prints it; "" when unsigned
	// Verified: this run read the whole file and the signature matched its
	// bytes (a run that stops earlier, or has nothing to write, did not).
	Verified bool `json:"verified"`
	// Checked: trusted keys were given (--verify-key, TERRAPACK_VERIFY_KEY)
	// and the signer was required to be one of them.
	Checked    bool   `json:"checked"`
	KeyComment string `json:"key_comment"` // of the trusted key that matched: allowed_signers principals or the key's comment
	KeySource  string `json:"key_source"`  // where that key was read: FILE:LINE, or "the key given inline"
}

// counts describe the new tree against the previous install's list.
type counts struct {
	Files     int64 `json:"files"`
	Dirs      int64 `json:"dirs"`
	Symlinks  int64 `json:"symlinks"`
	Hardlinks int64 `json:"hardlinks"`
	Bytes     int64 `json:"bytes"`
	New       int   `json:"new"`      // entries the previous install did not have
	Replaced  int   `json:"replaced"` // entries both have
	Removed   int   `json:"removed"`  // entries of the previous install the new one drops
}

// configs is what happened to each config file (paths in the tree).
type configs struct {
	Kept     []string `json:"kept"`     // the customer's version stays
	Beside   []string `json:"beside"`   // of those, the new version is at PATH.terrapack-new
	Replaced []string `json:"replaced"` // unchanged, so the new version is in place
	New      []string `json:"new"`      // not in the previous install
	Removed  []string `json:"removed"`  // unchanged and dropped by the new version
}

type data struct {
	Moved []string `json:"moved"` // kept (keep:) entries carried into the new tree
	Files int      `json:"files"` // files below them
}

type added struct {
	Carried     []string `json:"carried"`      // the customer's files, in the new tree
	SetAside    []string `json:"set_aside"`    // the customer's files whose folder is gone, in Folder
	AsideFolder string   `json:"aside_folder"` // where SetAside went ("" if nothing)
}

func newResult() *result {
	return &result{
		Schema: resultSchema, Action: "none",
		Config:    configs{Kept: []string{}, Beside: []string{}, Replaced: []string{}, New: []string{}, Removed: []string{}},
		Data:      data{Moved: []string{}},
		Added:     added{Carried: []string{}, SetAside: []string{}},
		Repaired:  []string{},
		Conflicts: []string{},
		Kept:      []string{},
	}
}

// finish fills the outcome and prints res as one line of JSON on w.
func (res *result) finish(w io.Writer, code int, err error, start time.Time) {
	res.ExitCode = code
	res.Status = statusNames[code]
	if res.Status == "" {
		res.Status = "failed"
	}
	if err != nil {
		res.Error = err.Error()
	}
	res.Changed = code == exitOK && res.Action != "none"
	res.DurationSeconds = float64(time.Since(start).Milliseconds()) / 1000
	b, _ := json.Marshal(res)
	w.Write(append(b, '\n'))
}

var statusNames = map[int]string{
	exitOK: "ok", exitFailed: "failed", exitUsage: "usage", exitDamaged: "damaged",
	exitRefused: "refused", exitHookFailed: "hook-failed", exitInterrupted: "interrupted",
}
