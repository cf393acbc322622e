package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// signingKey makes an ed25519 key pair with the real ssh-keygen and
// returns the private key's path (the public one is path + ".pub").
func signingKey(t *testing.T, passphrase string) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skipf("skipping: ssh-keygen is not installed (apt-get install openssh-client): %v", err)
	}
	key := filepath.Join(t.TempDir(), "id_ed25519")
	mustOK(t, runCmd(t, nil, "ssh-keygen", "-q", "-t", "ed25519", "-N", passphrase, "-C", "vendor@example.com", "-f", key))
	return key
}

// fingerprint is the key's SHA256:… as ssh-keygen -l prints it.
func fingerprint(t *testing.T, key string) string {
	t.Helper()
	f := strings.Fields(mustOK(t, runCmd(t, nil, "ssh-keygen", "-l", "-f", key+".pub")).stdout)
	return f[1]
}

// allowedSigners writes an allowed_signers file trusting key as vendor@example.com.
func allowedSigners(t *testing.T, key string) string {
	t.Helper()
	pub, err := os.ReadFile(key + ".pub")
	must(t, err)
	p := filepath.Join(t.TempDir(), "allowed_signers")
	must(t, os.WriteFile(p, append([]byte("vendor@example.com "), pub...), 0o644))
	return p
}

// TestSignedInstaller: a signed build installs with the right key given as a
// file, inline, as allowed_signers or through TERRAPACK_VERIFY_KEY; it names
// its signer everywhere; the same input and key give the same bytes; the
// detached signature is ssh-keygen's own, byte for byte.
func TestSignedInstaller(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "")
	fp := fingerprint(t, key)
	src := sampleTree(t)
	dir := t.TempDir()
	run := filepath.Join(dir, "app.run")
	r := mustOK(t, runCmd(t, nil, terrapackBin, "build", src, "-o", run, "--sign", key, "--detached-sig"))
	if !strings.Contains(r.stderr, "signed with ed25519 key "+fp) {
		t.Errorf("build does not name the key:\n%s", r)
	}
	again := filepath.Join(t.TempDir(), "app.run")
	mustOK(t, runCmd(t, nil, terrapackBin, "build", src, "-o", again, "--sign", key, "--quiet"))
	if !bytes.Equal(readFile(t, run), readFile(t, again)) {
		t.Fatal("two signed builds of the same input differ")
	}

	if info := mustOK(t, runCmd(t, nil, run, "--info")).stdout; !strings.Contains(info, "ed25519 key "+fp) {
		t.Errorf("--info lacks the fingerprint:\n%s", info)
	}
	if out := mustOK(t, terrapack(t, "inspect", run)).stdout; !strings.Contains(out, fp) {
		t.Errorf("inspect lacks the fingerprint:\n%s", out)
	}
	check := mustOK(t, runCmd(t, nil, run, "--check")).stdout
	if !strings.Contains(check, "signed by ed25519 key "+fp+", not checked against a trusted key") {
		t.Errorf("--check without a key does not say who signed:\n%s", check)
	}
	check = mustOK(t, runCmd(t, nil, run, "--check", "--verify-key", key+".pub")).stdout
	if !strings.Contains(check, "signature: ok, signed by trusted key "+fp) {
		t.Errorf("--check with the key:\n%s", check)
	}

	pub := strings.TrimSpace(string(readFile(t, key+".pub")))
	for name, c := range map[string]struct{ args, env []string }{
		"no key":          {},
		"pub file":        {args: []string{"--verify-key", key + ".pub"}},
		"inline":          {args: []string{"--verify-key", pub}},
		"allowed_signers": {args: []string{"--verify-key", allowedSigners(t, key)}},
		"environment":     {env: []string{"TERRAPACK_VERIFY_KEY=" + key + ".pub"}},
	} {
		target := filepath.Join(t.TempDir(), "app")
		r := mustOK(t, runCmd(t, c.env, run, append([]string{"--to", target}, c.args...)...))
		want := "signed by trusted key " + fp
		if name == "no key" {
			want = "signed by ed25519 key " + fp + ", not checked against a trusted key"
		}
		if !strings.Contains(r.stderr, want) {
			t.Errorf("%s: stderr lacks %q:\n%s", name, want, r)
		}
		compareTrees(t, src, target)
	}

	// The detached signature: ssh-keygen's own bytes, and it verifies.
	sig := run + ".sig"
	must(t, os.WriteFile(filepath.Join(dir, "copy.run"), readFile(t, run), 0o644))
	mustOK(t, runCmd(t, nil, "ssh-keygen", "-Y", "sign", "-q", "-n", "terrapack", "-f", key, filepath.Join(dir, "copy.run")))
	if !bytes.Equal(readFile(t, sig), readFile(t, filepath.Join(dir, "copy.run.sig"))) {
		t.Error("the detached signature differs from ssh-keygen -Y sign's")
	}
	verify := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowedSigners(t, key), "-I", "vendor@example.com", "-n", "terrapack", "-s", sig)
	verify.Stdin = bytes.NewReader(readFile(t, run))
	if out, err := verify.CombinedOutput(); err != nil || !strings.Contains(string(out), "Good \"terrapack\" signature") {
		t.Errorf("ssh-keygen -Y verify of the detached signature: %v\n%s", err, out)
	}
	// terrapack verify with and without the key.
	if out := mustOK(t, terrapack(t, "verify", "--key", key+".pub", run)).stdout; !strings.Contains(out, "signed by trusted key "+fp) {
		t.Errorf("verify --key:\n%s", out)
	}
	if out := mustOK(t, terrapack(t, "verify", run)).stdout; !strings.Contains(out, "signed by "+fp+" (not checked") {
		t.Errorf("verify:\n%s", out)
	}
}

// TestSignatureRefused: a wrong key, an unsigned installer, a stripped or
// replaced signature and tampering anywhere (stub, payload, manifest,
// signature, trailer) all exit 3 with the signer's fingerprint and the keys
// tried, and write nothing. Where the tampering also fixes the checksum,
// only the signature can catch it.
func TestSignatureRefused(t *testing.T) {
	t.Parallel()
	key, other := signingKey(t, ""), signingKey(t, "")
	fp, otherFP := fingerprint(t, key), fingerprint(t, other)
	src := sampleTree(t)
	run := build(t, src, "--sign", key)
	unsigned := build(t, src)
	intruder := build(t, src, "--sign", other)

	try := func(name, installer string, wantSigned bool, want ...string) {
		t.Helper()
		base := t.TempDir()
		r := runCmd(t, nil, installer, "--to", filepath.Join(base, "app"), "--verify-key", key+".pub")
		mustFail(t, r, 3, want...)
		if !strings.Contains(r.stderr, "trusted keys tried: "+fp) && wantSigned {
			t.Errorf("%s: the keys tried are not named:\n%s", name, r)
		}
		assertClean(t, base)
		if r := runCmd(t, nil, installer, "--check", "--verify-key", key+".pub"); r.code != 3 {
			t.Errorf("%s: --check exit %d, want 3:\n%s", name, r.code, r)
		}
		if r := terrapack(t, "verify", "--key", key+".pub", installer); r.code == 0 {
			t.Errorf("%s: terrapack verify passed:\n%s", name, r)
		}
	}
	// The right installer, the wrong key.
	base := t.TempDir()
	r := runCmd(t, nil, run, "--to", filepath.Join(base, "app"), "--verify-key", other+".pub")
	mustFail(t, r, 3, "signed by a key that is not trusted", "signer's key "+fp, "trusted keys tried: "+otherFP)
	assertClean(t, base)

	// Keys that cannot be read: a usage error, nothing written.
	mustFail(t, runCmd(t, nil, run, "--to", filepath.Join(base, "app"), "--verify-key", filepath.Join(base, "missing.pub")), 2, "cannot read the trusted keys", "hint: give --verify-key the publisher's public key")
	mustFail(t, runCmd(t, nil, run, "--to", filepath.Join(base, "app"), "--verify-key", "ssh-rsa AAAAB3NzaC1yc2E= x"), 2, "ssh-rsa keys are not supported")
	assertClean(t, base)

	try("unsigned", unsigned, false, "the installer is not signed", "hint: nothing was installed")
	try("other signer", intruder, true, "not trusted", "signer's key "+otherFP)

	b := readFile(t, run)
	size := int64(len(b))
	siglen := int64(binary.LittleEndian.Uint64(b[size-128+88:]))
	sigoff := size - 128 - siglen
	payloadOff := int64(binary.LittleEndian.Uint64(b[size-128+16:]))
	manifestOff := int64(binary.LittleEndian.Uint64(b[size-128+32:]))
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		p := filepath.Join(dir, name)
		must(t, os.WriteFile(p, content, 0o755))
		return p
	}
	// flip changes one byte; with fix, the trailer's SHA-256 is made to
	// match again, as someone who read FORMAT.md would.
	flip := func(at int64, fix bool) []byte {
		c := bytes.Clone(b)
		c[at] ^= 0x20
		if fix {
			s := sha256.Sum256(c[:sigoff])
			copy(c[size-128+56:], s[:])
		}
		return c
	}
	stubAt := payloadOff / 2
	for _, c := range []struct {
		name string
		at   int64
		want string
	}{
		{"stub", stubAt, "signature does not match its contents"},
		{"payload", payloadOff + 100, "signature does not match its contents"},
		{"manifest", manifestOff + 10, "signature does not match its contents"},
	} {
		try(c.name+" with checksum fixed", write(c.name+"-fixed.run", flip(c.at, true)), false, c.want, "signer's key "+fp)
		try(c.name, write(c.name+".run", flip(c.at, false)), false, "SHA-256 mismatch")
		// Without --verify-key the damage is found all the same.
		mustFail(t, runCmd(t, nil, write(c.name+"-fixed2.run", flip(c.at, true)), "--to", filepath.Join(t.TempDir(), "app")), 3, "signature does not match")
	}
	// The signature, the flags, a reserved byte, the signature length
	// (every byte is tried in builder's TestEveryTrailerByteCounts).
	for _, at := range []int64{sigoff + 40, size - 128 + 12, size - 128 + 100, size - 128 + 88} {
		try("flip at "+strconv.FormatInt(at, 10), write("flip.run", flip(at, false)), false, "")
	}
	// The signature removed, the flag cleared and the checksum made good:
	// an unsigned installer, refused when a key is required.
	stripped := append(bytes.Clone(b[:sigoff]), b[size-128:]...)
	tr := stripped[len(stripped)-128:]
	binary.LittleEndian.PutUint32(tr[12:], 0)
	binary.LittleEndian.PutUint64(tr[88:], 0)
	binary.LittleEndian.PutUint64(tr[48:], uint64(len(stripped)))
	try("stripped", write("stripped.run", stripped), false, "")
}

// TestSignatureByHand runs docs/FORMAT.md's recipe: the signature and the
// signed bytes cut with tail and head, checked by ssh-keygen -Y verify.
func TestSignatureByHand(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "")
	doc := string(readFile(t, "../../docs/FORMAT.md"))
	_, recipe, ok := strings.Cut(doc, "## Checking the signature by hand")
	if ok {
		_, recipe, ok = strings.Cut(recipe, "```sh\n")
		recipe, _, _ = strings.Cut(recipe, "```")
	}
	if !ok || !strings.Contains(recipe, "ssh-keygen -Y verify") {
		t.Fatal("docs/FORMAT.md has no shell recipe under \"Checking the signature by hand\"")
	}
	run := build(t, sampleTree(t), "--sign", key)
	dir := t.TempDir()
	must(t, os.Rename(allowedSigners(t, key), filepath.Join(dir, "allowed_signers")))
	script := "cd " + dir + "\nf=" + run + "\n" + strings.TrimPrefix(recipe, "f=app.run\n")
	r := mustOK(t, runCmd(t, nil, "bash", "-euo", "pipefail", "-c", script))
	if !strings.Contains(r.stdout+r.stderr, "Good \"terrapack\" signature for vendor@example.com") {
		t.Fatalf("ssh-keygen did not accept the signature:\n%s", r)
	}
	// The same recipe on a changed installer fails.
	b := readFile(t, run)
	b[1000] ^= 1
	bad := filepath.Join(dir, "bad.run")
	must(t, os.WriteFile(bad, b, 0o755))
	if r := runCmd(t, nil, "bash", "-euo", "pipefail", "-c", "cd "+dir+"\nf="+bad+"\n"+strings.TrimPrefix(recipe, "f=app.run\n")); r.code == 0 {
		t.Fatalf("the recipe accepts a changed installer:\n%s", r)
	}
}

// TestSignWithPassphrase: a passphrase-protected key fails clearly without
// an agent or a terminal, and signs through a real ssh-agent; the result is
// the same bytes as with the key unprotected.
func TestSignWithPassphrase(t *testing.T) {
	t.Parallel()
	key := signingKey(t, "correct horse")
	src := sampleTree(t)
	epoch := "SOURCE_DATE_EPOCH=1700000000"
	out := filepath.Join(t.TempDir(), "app.run")
	r := runCmd(t, []string{"SSH_AUTH_SOCK=", epoch}, terrapackBin, "build", src, "-o", out, "--sign", key)
	mustFail(t, r, 1, "protected by a passphrase", "hint: add it to an agent first")
	if exists(out) {
		t.Fatal("an installer was written without a signature")
	}

	sock := startAgent(t)
	askpass := filepath.Join(t.TempDir(), "askpass")
	must(t, os.WriteFile(askpass, []byte("#!/bin/sh\necho 'correct horse'\n"), 0o755))
	mustOK(t, runCmd(t, []string{"SSH_AUTH_SOCK=" + sock, "SSH_ASKPASS=" + askpass, "SSH_ASKPASS_REQUIRE=force", "DISPLAY=none"}, "ssh-add", key))
	r = mustOK(t, runCmd(t, []string{"SSH_AUTH_SOCK=" + sock, epoch}, terrapackBin, "build", src, "-o", out, "--sign", key))
	mustOK(t, runCmd(t, nil, out, "--check", "--verify-key", key+".pub"))

	// The same key without its passphrase signs the same bytes.
	plain := filepath.Join(t.TempDir(), "plain")
	must(t, os.WriteFile(plain, readFile(t, key), 0o600))
	mustOK(t, runCmd(t, nil, "ssh-keygen", "-q", "-p", "-P", "correct horse", "-N", "", "-f", plain))
	out2 := filepath.Join(t.TempDir(), "app.run")
	mustOK(t, runCmd(t, []string{"SSH_AUTH_SOCK=", epoch}, terrapackBin, "build", src, "-o", out2, "--sign", plain))
	if !bytes.Equal(readFile(t, out), readFile(t, out2)) {
		t.Error("agent-signed and file-signed installers differ")
	}
	// On a terminal the passphrase is asked (script(1) gives the build a
	// pty and types it); a wrong one is refused.
	if _, err := exec.LookPath("script"); err != nil {
		t.Logf("not testing the passphrase prompt: script(1) is not installed (util-linux): %v", err)
	} else {
		for pass, want := range map[string]int{"correct horse": 0, "wrong": 1} {
			out3 := filepath.Join(t.TempDir(), "app.run")
			cmd := exec.Command("script", "-qec", terrapackBin+" build '"+src+"' -o '"+out3+"' -q --sign '"+key+"'", "/dev/null")
			cmd.Env = append(os.Environ(), "SSH_AUTH_SOCK=", epoch)
			stdin, _ := cmd.StdinPipe()
			var outb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &outb, &outb
			must(t, cmd.Start())
			time.Sleep(500 * time.Millisecond) // let it reach the prompt
			stdin.Write([]byte(pass + "\n"))
			err := cmd.Wait()
			code := cmd.ProcessState.ExitCode()
			switch {
			case code != want:
				t.Errorf("passphrase %q: exit %d (%v), want %d:\n%s", pass, code, err, want, outb.String())
			case want == 0 && !bytes.Equal(readFile(t, out3), readFile(t, out)):
				t.Error("the key unlocked at the prompt signs other bytes than through the agent")
			case want == 1 && !strings.Contains(outb.String(), "wrong passphrase"):
				t.Errorf("wrong passphrase not said:\n%s", outb.String())
			case !strings.Contains(outb.String(), "Enter passphrase for "):
				t.Errorf("no prompt:\n%s", outb.String())
			}
		}
	}
	// sign: in terrapack.yaml, with the key outside the tree.
	must(t, os.WriteFile(filepath.Join(src, "terrapack.yaml"), []byte("sign: "+plain+"\n"), 0o644))
	out4 := filepath.Join(t.TempDir(), "app.run")
	mustOK(t, runCmd(t, []string{"SSH_AUTH_SOCK="}, terrapackBin, "build", src, "-o", out4, "-q"))
	mustOK(t, runCmd(t, nil, out4, "--check", "--verify-key", key+".pub"))
	must(t, os.Remove(filepath.Join(src, "terrapack.yaml")))

	// A key inside the source folder would be shipped: refused.
	must(t, os.WriteFile(filepath.Join(src, "signing.key"), readFile(t, plain), 0o600))
	mustFail(t, terrapack(t, "build", src, "-o", out2, "--sign", filepath.Join(src, "signing.key")), 1, "which is being packed")
}

// startAgent runs a real ssh-agent for the test and returns its socket.
func startAgent(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("ssh-agent"); err != nil {
		t.Skipf("skipping: ssh-agent is not installed (apt-get install openssh-client): %v", err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command("ssh-agent", "-D", "-a", sock)
	must(t, agent.Start())
	t.Cleanup(func() {
		agent.Process.Signal(syscall.SIGTERM)
		agent.Wait()
	})
	for i := 0; i < 100 && !exists(sock); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if !exists(sock) {
		t.Fatal("ssh-agent did not create its socket")
	}
	return sock
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	must(t, err)
	return b
}
