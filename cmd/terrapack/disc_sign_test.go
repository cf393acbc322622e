package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pvdAppUse is where the media checksum lives: the primary volume
// descriptor's application-use area.
const pvdAppUse, pvdAppUseSize = 16*2048 + 883, 512

// TestSignedDisc: a disc made with --sign checks with the commands its
// README.txt gives (sha256sum -c, ssh-keygen -Y verify, checkisomd5), run
// as written; its media checksum is what implantisomd5 itself implants;
// checkisomd5 and terrapack verify reject a damaged copy; verify --key
// names the signer and refuses other keys and unsigned discs.
func TestSignedDisc(t *testing.T) {
	t.Parallel()
	needTools(t, "xorriso", "sha256sum", "checkisomd5", "implantisomd5")
	key, other := signingKey(t, ""), signingKey(t, "")
	fp := fingerprint(t, key)
	dir := t.TempDir()
	run, img := filepath.Join(dir, "app.run"), filepath.Join(dir, "app.iso")
	mustOK(t, terrapack(t, "build", sampleTree(t), "-o", run, "--name", "sample", "--sign", key, "--iso", img, "-q"))

	out := filepath.Join(t.TempDir(), "cdrom")
	mustOK(t, runCmd(t, nil, "xorriso", "-osirrox", "on", "-indev", img, "-extract", "/", out))
	readme := string(readFile(t, filepath.Join(out, "README.txt")))
	if !strings.Contains(readme, "signed with the ed25519 key "+fp) {
		t.Errorf("README.txt does not name the key:\n%s", readme)
	}
	// The README's check commands, as a customer would type them.
	var script []string
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if !strings.HasPrefix(l, "    ") || strings.Contains(l, "--to ") {
			continue
		}
		for strings.HasSuffix(l, `\`) && i+1 < len(lines) {
			i++
			l = strings.TrimSuffix(l, `\`) + lines[i]
		}
		script = append(script, strings.TrimSpace(l))
	}
	if len(script) != 3 {
		t.Fatalf("README.txt should give 3 check commands, has %q:\n%s", script, readme)
	}
	pub := readFile(t, key+".pub")
	must(t, os.WriteFile(filepath.Join(out, "allowed_signers"), append([]byte("publisher "), pub...), 0o644))
	sh := strings.NewReplacer("/media/cdrom", out, "/dev/cdrom", img).Replace(strings.Join(script, "\n"))
	r := mustOK(t, runCmd(t, nil, "bash", "-euo", "pipefail", "-c", sh))
	for _, w := range []string{"app.run: OK", "Good \"terrapack\" signature for publisher", "PASS"} {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Errorf("README commands: no %q:\n%s", w, r)
		}
	}

	// implantisomd5 on the same image with the area blanked implants the same bytes.
	b := readFile(t, img)
	blank := bytes.Clone(b)
	copy(blank[pvdAppUse:pvdAppUse+pvdAppUseSize], bytes.Repeat([]byte(" "), pvdAppUseSize))
	theirs := filepath.Join(dir, "theirs.iso")
	must(t, os.WriteFile(theirs, blank, 0o644))
	mustOK(t, runCmd(t, nil, "implantisomd5", theirs))
	if !bytes.Equal(readFile(t, theirs), b) {
		t.Errorf("implantisomd5 implants %q\nwe implant %q", readFile(t, theirs)[pvdAppUse:pvdAppUse+200], b[pvdAppUse:pvdAppUse+200])
	}

	v := mustOK(t, terrapack(t, "verify", "--key", key+".pub", img)).stdout
	for _, w := range []string{"ok  media checksum", "ok  SHA256SUMS signed by trusted key " + fp, "ok  app.run: sample", "signed by trusted key " + fp} {
		if !strings.Contains(v, w) {
			t.Errorf("verify --key lacks %q:\n%s", w, v)
		}
	}
	mustFail(t, terrapack(t, "verify", "--key", other+".pub", img), 1, "SHA256SUMS.sig: signed by "+fp+", not a trusted key", "not trusted")

	// One byte changed in the installer's data on the disc, or in SHA256SUMS.
	sums := readFile(t, filepath.Join(out, "SHA256SUMS"))
	for name, at := range map[string]int{"installer": bytes.Index(b, readFile(t, run)) + 5000, "SHA256SUMS": bytes.Index(b, sums) + 3} {
		bad := bytes.Clone(b)
		bad[at] ^= 1
		p := filepath.Join(dir, "bad.iso")
		must(t, os.WriteFile(p, bad, 0o644))
		if r := runCmd(t, nil, "checkisomd5", p); r.code == 0 || !strings.Contains(r.stderr, "the result is: FAIL") {
			t.Errorf("%s damaged: checkisomd5 accepts the copy:\n%s", name, r)
		}
		want := "media checksum mismatch"
		if name == "SHA256SUMS" {
			want = "SHA256SUMS.sig: does not match SHA256SUMS"
		}
		mustFail(t, terrapack(t, "verify", p), 1, want)
	}

	// An unsigned disc passes without a key, not with one.
	plain := filepath.Join(dir, "plain.iso")
	mustOK(t, terrapack(t, "iso", build(t, sampleTree(t)), "-o", plain))
	if v := mustOK(t, terrapack(t, "verify", plain)).stdout; !strings.Contains(v, "SHA256SUMS unsigned") {
		t.Errorf("verify of an unsigned disc:\n%s", v)
	}
	mustOK(t, runCmd(t, nil, "checkisomd5", plain))
	mustFail(t, terrapack(t, "verify", "--key", key+".pub", plain), 1, "SHA256SUMS.sig: missing", "the installer is not signed")
}

// TestDiscDates: without SOURCE_DATE_EPOCH every date on the disc is the
// newest modification time of the files it holds, so the same files give
// the same image; with it, that value.
func TestDiscDates(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run := build(t, sampleTree(t))
	extra := filepath.Join(dir, "notes")
	must(t, os.MkdirAll(extra, 0o755))
	must(t, os.WriteFile(filepath.Join(extra, "a.txt"), []byte("a\n"), 0o644))
	older, newest := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC), time.Date(2022, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, os.Chtimes(run, older, older))
	must(t, os.Chtimes(filepath.Join(extra, "a.txt"), newest, newest))
	must(t, os.Chtimes(extra, older, older))

	img1, img2 := filepath.Join(dir, "1.iso"), filepath.Join(dir, "2.iso")
	mustOK(t, runCmd(t, []string{"SOURCE_DATE_EPOCH="}, terrapackBin, "iso", run, extra, "-o", img1))
	time.Sleep(1100 * time.Millisecond)
	mustOK(t, runCmd(t, []string{"SOURCE_DATE_EPOCH="}, terrapackBin, "iso", run, extra, "-o", img2))
	a := readFile(t, img1)
	if !bytes.Equal(a, readFile(t, img2)) {
		t.Error("two images of the same files differ")
	}
	checkDates(t, a, "20220102030405", newest)

	img3 := filepath.Join(dir, "3.iso")
	mustOK(t, runCmd(t, []string{"SOURCE_DATE_EPOCH=1700000000"}, terrapackBin, "iso", run, extra, "-o", img3))
	checkDates(t, readFile(t, img3), "20231114221320", time.Unix(1700000000, 0).UTC())
}

// checkDates checks the volume's creation and modification dates and the
// root directory record's date.
func checkDates(t *testing.T, img []byte, want string, when time.Time) {
	t.Helper()
	pvd := img[16*2048:]
	for _, at := range []int{813, 830} {
		if got := string(pvd[at : at+14]); got != want {
			t.Errorf("volume date at %d is %s, want %s", at, got, want)
		}
	}
	rec := pvd[156+18:]
	got := time.Date(1900+int(rec[0]), time.Month(rec[1]), int(rec[2]), int(rec[3]), int(rec[4]), int(rec[5]), 0, time.UTC)
	if !got.Equal(when) {
		t.Errorf("root directory date %v, want %v", got, when)
	}
	if regexp.MustCompile(`1980`).Match(pvd[813:827]) {
		t.Error("the 1980 default date is still used")
	}
}
