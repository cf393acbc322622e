package builder

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/term"

	"github.com/terrapack/terrapack/internal/atomicfile"
	"github.com/terrapack/terrapack/payload"
	"github.com/terrapack/terrapack/sshsig"
)

// SignKeyError is a signing key that cannot be used, with the likely fix.
type SignKeyError struct {
	Err  error
	Hint string
}

func (e *SignKeyError) Error() string { return e.Err.Error() }
func (e *SignKeyError) Unwrap() error { return e.Err }

// LoadSigner reads the OpenSSH ed25519 private key at path. A key
// protected by a passphrase is used through the ssh-agent at SSH_AUTH_SOCK
// when the agent holds it, else the passphrase is asked on the terminal.
// The key stays in memory; nothing of it is written anywhere.
func LoadSigner(path string) (sshsig.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, &SignKeyError{fmt.Errorf("failed to read signing key: %w", err), "give the private key file made by `ssh-keygen -t ed25519`, e.g. ~/.ssh/id_ed25519"}
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		signer, err = unlock(path, pem, missing.PublicKey)
	}
	if err != nil {
		var ske *SignKeyError
		if errors.As(err, &ske) {
			return nil, err
		}
		return nil, &SignKeyError{fmt.Errorf("signing key %q: %w", path, err), "give an OpenSSH private key file (ssh-keygen -t ed25519), not the .pub"}
	}
	return toSigner(path, signer)
}

// unlock finds the key in the agent, or asks for its passphrase.
func unlock(path string, pem []byte, pub ssh.PublicKey) (ssh.Signer, error) {
	if pub == nil {
		if b, err := os.ReadFile(path + ".pub"); err == nil {
			pub, _, _, _, _ = ssh.ParseAuthorizedKey(b)
		}
	}
	var agentNote string
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" && pub != nil {
		s, err := agentSigner(sock, pub)
		if err == nil {
			return s, nil
		}
		agentNote = err.Error()
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		msg := fmt.Sprintf("signing key %q is protected by a passphrase and no terminal is there to ask it", path)
		if agentNote != "" {
			msg += " (" + agentNote + ")"
		}
		return nil, &SignKeyError{errors.New(msg), fmt.Sprintf("add it to an agent first: eval $(ssh-agent) && ssh-add %s", path)}
	}
	fmt.Fprintf(os.Stderr, "Enter passphrase for %s: ", path)
	pass, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return nil, fmt.Errorf("failed to read the passphrase: %w", err)
	}
	s, err := ssh.ParsePrivateKeyWithPassphrase(pem, pass)
	if errors.Is(err, x509.IncorrectPasswordError) {
		return nil, &SignKeyError{fmt.Errorf("wrong passphrase for %q", path), "try again, or add the key to ssh-agent"}
	}
	return s, err
}

// agentSigner returns the agent's signer for pub.
func agentSigner(sock string, pub ssh.PublicKey) (ssh.Signer, error) {
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, fmt.Errorf("ssh-agent at SSH_AUTH_SOCK not reachable: %v", err)
	}
	// The connection lives as long as the signer: one build.
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ssh-agent: %v", err)
	}
	for _, s := range signers {
		if bytes.Equal(s.PublicKey().Marshal(), pub.Marshal()) {
			return s, nil
		}
	}
	conn.Close()
	return nil, fmt.Errorf("the ssh-agent does not hold key %s", ssh.FingerprintSHA256(pub))
}

// toSigner adapts an ssh.Signer of an ed25519 key.
func toSigner(path string, s ssh.Signer) (sshsig.Signer, error) {
	// An agent's key is no CryptoPublicKey until parsed again.
	pk, err := ssh.ParsePublicKey(s.PublicKey().Marshal())
	pub, isEd := ed25519.PublicKey(nil), false
	if cpk, ok := pk.(ssh.CryptoPublicKey); ok && err == nil {
		pub, isEd = cpk.CryptoPublicKey().(ed25519.PublicKey)
	}
	if !isEd {
		return nil, &SignKeyError{fmt.Errorf("signing key %q is a %s key; terrapack signs with ed25519 only", path, s.PublicKey().Type()),
			"make one with: ssh-keygen -t ed25519 -f terrapack_signing_key"}
	}
	return sshSigner{s: s, pub: pub}, nil
}

type sshSigner struct {
	s   ssh.Signer
	pub ed25519.PublicKey
}

func (s sshSigner) PublicKey() ed25519.PublicKey { return s.pub }

func (s sshSigner) Sign(data []byte) ([]byte, error) {
	sig, err := s.s.Sign(rand.Reader, data) // ed25519 uses no randomness
	if err != nil {
		return nil, err
	}
	return sig.Blob, nil
}

// WriteDetachedSig writes path.sig, the signature of the whole file at
// path exactly as `ssh-keygen -Y sign -n terrapack` makes it (sha512),
// checkable with `ssh-keygen -Y verify` and nothing else.
func WriteDetachedSig(path string, signer sshsig.Signer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha512.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("failed to read %q: %w", path, err)
	}
	sig, err := sshsig.Sign(signer, payload.SignatureNamespace, "sha512", h.Sum(nil))
	if err != nil {
		return err
	}
	return atomicfile.Write(path+".sig", 0o644, func(f *os.File) error {
		_, err := f.Write(sig.Marshal())
		return err
	})
}

// CheckKeyOutside refuses a signing key that is, or is inside, source,
// a file or folder being packed: the private key would be shipped.
func CheckKeyOutside(key, source string) error {
	k, err1 := filepath.Abs(key)
	s, err2 := filepath.Abs(source)
	if err1 != nil || err2 != nil {
		return nil // reported by LoadSigner or Build
	}
	if real, err := filepath.EvalSymlinks(k); err == nil {
		k = real
	}
	if real, err := filepath.EvalSymlinks(s); err == nil {
		s = real
	}
	if k == s || strings.HasPrefix(k, s+string(filepath.Separator)) {
		return &SignKeyError{fmt.Errorf("signing key %q is inside %q, which is being packed: it would be shipped to customers", key, source),
			"keep the private key outside what you pack"}
	}
	return nil
}
