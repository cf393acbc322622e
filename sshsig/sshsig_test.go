package sshsig

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/sha512"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sshKeygen makes an ed25519 key pair with the real ssh-keygen.
func sshKeygen(t *testing.T) (priv, pub string) {
	t.Helper()
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skipf("ssh-keygen not installed (Debian package openssh-client): %v", err)
	}
	priv = filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "vendor@example.com", "-f", priv).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	return priv, priv + ".pub"
}

// TestParseSSHKeygenSignature: signatures made by ssh-keygen, with either
// hash, parse, verify, re-encode byte for byte, and carry the fingerprint
// ssh-keygen -l prints.
func TestParseSSHKeygenSignature(t *testing.T) {
	priv, pub := sshKeygen(t)
	msg := filepath.Join(t.TempDir(), "message")
	os.WriteFile(msg, bytes.Repeat([]byte("terrapack "), 1000), 0o644)
	content, _ := os.ReadFile(msg)
	fp, err := exec.Command("ssh-keygen", "-l", "-f", pub).Output()
	if err != nil {
		t.Fatal(err)
	}
	for alg, digest := range map[string][]byte{"sha256": sum256(content), "sha512": sum512(content)} {
		os.Remove(msg + ".sig")
		if out, err := exec.Command("ssh-keygen", "-Y", "sign", "-n", "terrapack", "-O", "hashalg="+alg, "-f", priv, msg).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen -Y sign: %v\n%s", err, out)
		}
		armored, _ := os.ReadFile(msg + ".sig")
		s, err := Parse(armored)
		if err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if s.HashAlg != alg || s.Namespace != "terrapack" {
			t.Fatalf("parsed %+v", s)
		}
		if err := s.Verify(digest); err != nil {
			t.Fatalf("%s: %v", alg, err)
		}
		if !bytes.Equal(s.Marshal(), armored) {
			t.Fatalf("re-encoded signature differs:\n%s\n%s", s.Marshal(), armored)
		}
		if !strings.Contains(string(fp), s.Fingerprint()+" ") {
			t.Fatalf("fingerprint %s, ssh-keygen -l says %s", s.Fingerprint(), fp)
		}
		if s.Verify(sum256([]byte("other"))) == nil {
			t.Fatal("signature verifies another message")
		}
	}
	// Every single-byte change of an armored signature is refused.
	armored, _ := os.ReadFile(msg + ".sig")
	for i := range armored {
		bad := bytes.Clone(armored)
		bad[i] ^= 0x01
		if s, err := Parse(bad); err == nil && s.Verify(sum512(content)) == nil {
			t.Fatalf("flip at byte %d (%q) still verifies", i, armored[i])
		}
	}
}

type keySigner ed25519.PrivateKey

func (k keySigner) PublicKey() ed25519.PublicKey {
	return ed25519.PrivateKey(k).Public().(ed25519.PublicKey)
}
func (k keySigner) Sign(d []byte) ([]byte, error) { return ed25519.Sign(ed25519.PrivateKey(k), d), nil }

// TestSignVerifiesWithSSHKeygen: what Sign makes, ssh-keygen -Y verify accepts.
func TestSignVerifiesWithSSHKeygen(t *testing.T) {
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skipf("ssh-keygen not installed: %v", err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	dir := t.TempDir()
	content := []byte("signed content\n")
	s, err := Sign(keySigner(key), "terrapack", "sha256", sum256(content))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "sig"), s.Marshal(), 0o644)
	os.WriteFile(filepath.Join(dir, "allowed"), []byte("vendor "+AuthorizedKey(s.PublicKey)+"\n"), 0o644)
	cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", filepath.Join(dir, "allowed"), "-I", "vendor", "-n", "terrapack", "-s", filepath.Join(dir, "sig"))
	cmd.Stdin = bytes.NewReader(content)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen -Y verify refused our signature: %v\n%s", err, out)
	}
}

func TestParseKeys(t *testing.T) {
	_, k1, _ := ed25519.GenerateKey(nil)
	_, k2, _ := ed25519.GenerateKey(nil)
	p1, p2 := k1.Public().(ed25519.PublicKey), k2.Public().(ed25519.PublicKey)
	text := "# trusted\n" + AuthorizedKey(p1) + " build@ci\n\n" +
		`vendor@example.com,other namespaces="git,terrapack" ` + AuthorizedKey(p2) + "\n" +
		`gitonly namespaces="git" ` + AuthorizedKey(p1) + "\n"
	keys, err := ParseKeys([]byte(text), "keys", "terrapack")
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || !keys[0].PublicKey.Equal(p1) || keys[0].Comment != "build@ci" || keys[0].Source != "keys:2" ||
		!keys[1].PublicKey.Equal(p2) || keys[1].Comment != "vendor@example.com,other" {
		t.Fatalf("parsed %+v", keys)
	}
	for _, bad := range []string{"ssh-rsa AAAAB3NzaC1yc2E= x", "nothing here", "ssh-ed25519 !!!", `x namespaces="git" ` + AuthorizedKey(p1)} {
		if _, err := ParseKeys([]byte(bad), "bad", "terrapack"); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func sum256(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
func sum512(b []byte) []byte { s := sha512.Sum512(b); return s[:] }
