// Package sshsig reads, checks and makes OpenSSH signatures (the SSHSIG
// format of `ssh-keygen -Y sign`, OpenSSH's PROTOCOL.sshsig) with ed25519
// keys, using only the standard library, so that the installer can verify
// a publisher without golang.org/x/crypto/ssh (+1.1 MB).
//
// A signature is over H(message), not the message: the signer and the
// verifier hash the message themselves, which lets the installer hash the
// file in the same pass as its checksum.
package sshsig

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
)

// KeyType is the only key type supported, as OpenSSH names it.
const KeyType = "ssh-ed25519"

const (
	magic      = "SSHSIG"
	version    = 1
	armorBegin = "-----BEGIN SSH SIGNATURE-----\n"
	armorEnd   = "-----END SSH SIGNATURE-----\n"
	lineLen    = 70 // OpenSSH wraps the base64 body at 70 columns
)

// Signature is a decoded SSHSIG blob.
type Signature struct {
	PublicKey ed25519.PublicKey
	Namespace string
	HashAlg   string // "sha256" or "sha512": the hash of the message
	Sig       []byte // the ed25519 signature of SignedData
}

// Fingerprint is the signer's key fingerprint as `ssh-keygen -l` prints it.
func (s *Signature) Fingerprint() string { return Fingerprint(s.PublicKey) }

// Verify checks that s signs the message whose hash (by s.HashAlg) is digest.
func (s *Signature) Verify(digest []byte) error {
	if !ed25519.Verify(s.PublicKey, SignedData(s.Namespace, s.HashAlg, digest), s.Sig) {
		return errors.New("the signature does not match the signed bytes")
	}
	return nil
}

// SignedData is what the key signs: the SSHSIG preamble, namespace and the
// message's hash.
func SignedData(namespace, hashAlg string, digest []byte) []byte {
	var b []byte
	b = append(b, magic...)
	b = putString(b, []byte(namespace))
	b = putString(b, nil) // reserved
	b = putString(b, []byte(hashAlg))
	return putString(b, digest)
}

// Marshal returns the armored signature, byte for byte what
// `ssh-keygen -Y sign` writes to FILE.sig.
func (s *Signature) Marshal() []byte {
	var blob []byte
	blob = append(blob, magic...)
	blob = binary.BigEndian.AppendUint32(blob, version)
	blob = putString(blob, PublicKeyBlob(s.PublicKey))
	blob = putString(blob, []byte(s.Namespace))
	blob = putString(blob, nil)
	blob = putString(blob, []byte(s.HashAlg))
	blob = putString(blob, putString(putString(nil, []byte(KeyType)), s.Sig))
	body := base64.StdEncoding.EncodeToString(blob)
	var out bytes.Buffer
	out.WriteString(armorBegin)
	for len(body) > 0 {
		n := min(lineLen, len(body))
		out.WriteString(body[:n])
		out.WriteByte('\n')
		body = body[n:]
	}
	out.WriteString(armorEnd)
	return out.Bytes()
}

// Signer makes ed25519 signatures; the builder adapts private keys and
// ssh-agent keys to it.
type Signer interface {
	PublicKey() ed25519.PublicKey
	Sign(data []byte) ([]byte, error)
}

// Sign signs the message whose hash (by hashAlg) is digest.
func Sign(s Signer, namespace, hashAlg string, digest []byte) (*Signature, error) {
	sig, err := s.Sign(SignedData(namespace, hashAlg, digest))
	if err != nil {
		return nil, fmt.Errorf("failed to sign: %w", err)
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("the signer returned a %d-byte signature, not an ed25519 one", len(sig))
	}
	return &Signature{PublicKey: s.PublicKey(), Namespace: namespace, HashAlg: hashAlg, Sig: sig}, nil
}

// Parse decodes an armored signature. It accepts only the exact bytes that
// Marshal gives for the decoded values, so that no byte of it can change
// without the change being seen.
func Parse(armored []byte) (*Signature, error) {
	body, ok := bytes.CutPrefix(armored, []byte(armorBegin))
	if ok {
		body, ok = bytes.CutSuffix(body, []byte(armorEnd))
	}
	if !ok {
		return nil, errors.New("not an armored SSH signature (no BEGIN/END SSH SIGNATURE lines)")
	}
	blob, err := base64.StdEncoding.Strict().DecodeString(string(bytes.ReplaceAll(body, []byte("\n"), nil)))
	if err != nil {
		return nil, fmt.Errorf("bad base64 in the signature: %w", err)
	}
	s, err := parseBlob(blob)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(s.Marshal(), armored) {
		return nil, errors.New("the signature is not in its canonical form (altered line breaks or padding)")
	}
	return s, nil
}

func parseBlob(b []byte) (*Signature, error) {
	r := reader{b: b}
	if string(r.bytes(len(magic))) != magic {
		return nil, errors.New("not an SSHSIG blob")
	}
	if v := r.uint32(); v != version {
		return nil, fmt.Errorf("SSHSIG version %d is not supported", v)
	}
	pub, err := parsePublicKeyBlob(r.string())
	if err != nil {
		return nil, err
	}
	s := &Signature{PublicKey: pub, Namespace: string(r.string())}
	r.string() // reserved
	s.HashAlg = string(r.string())
	sig := reader{b: r.string()}
	if kt := string(sig.string()); kt != KeyType && r.err == nil {
		return nil, fmt.Errorf("signature type %q is not supported (only %s)", kt, KeyType)
	}
	s.Sig = sig.string()
	switch {
	case r.err != nil || sig.err != nil:
		return nil, errors.New("truncated SSHSIG blob")
	case len(r.b) > 0 || len(sig.b) > 0:
		return nil, errors.New("unexpected bytes after the SSHSIG blob")
	case len(s.Sig) != ed25519.SignatureSize:
		return nil, fmt.Errorf("ed25519 signature of %d bytes", len(s.Sig))
	case s.HashAlg != "sha256" && s.HashAlg != "sha512":
		return nil, fmt.Errorf("hash algorithm %q is not one of SSHSIG's (sha256, sha512)", s.HashAlg)
	}
	return s, nil
}

// PublicKeyBlob is the SSH wire encoding of pub, base64 of which is the
// second field of an authorized_keys line.
func PublicKeyBlob(pub ed25519.PublicKey) []byte {
	return putString(putString(nil, []byte(KeyType)), pub)
}

func parsePublicKeyBlob(b []byte) (ed25519.PublicKey, error) {
	r := reader{b: b}
	kt := string(r.string())
	key := r.string()
	switch {
	case r.err != nil:
		return nil, errors.New("truncated public key")
	case kt != KeyType:
		return nil, fmt.Errorf("key type %q is not supported (only %s)", kt, KeyType)
	case len(key) != ed25519.PublicKeySize || len(r.b) != 0:
		return nil, errors.New("malformed ed25519 public key")
	}
	return ed25519.PublicKey(key), nil
}

// Fingerprint returns "SHA256:…" as `ssh-keygen -l` prints it.
func Fingerprint(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(PublicKeyBlob(pub))
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// AuthorizedKey returns pub as an authorized_keys line without comment.
func AuthorizedKey(pub ed25519.PublicKey) string {
	return KeyType + " " + base64.StdEncoding.EncodeToString(PublicKeyBlob(pub))
}

func putString(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

// reader takes SSH wire fields off b; after the first short read every
// read returns nil and err is set.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err = errors.New("short")
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) uint32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) string() []byte {
	n := r.uint32()
	if n > uint32(len(r.b)) {
		r.err = errors.New("short")
		return nil
	}
	return r.bytes(int(n))
}

// Key is one trusted public key and where it came from.
type Key struct {
	PublicKey ed25519.PublicKey
	Source    string // "FILE:LINE", or the source of a one-line text
	Comment   string // principals of an allowed_signers line, or the key's comment
}

// String names the key for messages: fingerprint, comment and source.
func (k Key) String() string {
	s := Fingerprint(k.PublicKey)
	if k.Comment != "" {
		s += " (" + k.Comment + ")"
	}
	return s + " from " + k.Source
}

// ParseKeys reads trusted keys from text in either of OpenSSH's formats:
// authorized_keys lines ("ssh-ed25519 AAAA… comment") or allowed_signers
// lines ("principals [options] ssh-ed25519 AAAA…"). An allowed_signers
// line whose namespaces="…" option does not list namespace is skipped, as
// ssh-keygen would. source names the text in Key.Source.
func ParseKeys(text []byte, source, namespace string) ([]Key, error) {
	var keys []Key
	lines := strings.Split(string(text), "\n")
	for i, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		where := source
		if len(lines) > 1 {
			where = fmt.Sprintf("%s:%d", source, i+1)
		}
		fields := strings.Fields(line)
		at := -1
		for j, f := range fields {
			if f == KeyType || strings.HasPrefix(f, "ssh-") || strings.HasPrefix(f, "ecdsa-") || strings.HasPrefix(f, "sk-") {
				at = j
				break
			}
		}
		if at < 0 || at+1 >= len(fields) {
			return nil, fmt.Errorf("%s: no public key on this line (want \"ssh-ed25519 AAAA…\")", where)
		}
		if fields[at] != KeyType {
			return nil, fmt.Errorf("%s: %s keys are not supported, only %s", where, fields[at], KeyType)
		}
		blob, err := base64.StdEncoding.DecodeString(fields[at+1])
		if err != nil {
			return nil, fmt.Errorf("%s: bad base64 in the key: %w", where, err)
		}
		pub, err := parsePublicKeyBlob(blob)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		if !allowsNamespace(fields[:at], namespace) {
			continue
		}
		k := Key{PublicKey: pub, Source: where, Comment: strings.Join(fields[at+2:], " ")}
		if at > 0 {
			k.Comment = fields[0] // the principals of an allowed_signers line
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s holds no %s key for namespace %q", source, KeyType, namespace)
	}
	return keys, nil
}

// allowsNamespace reads the namespaces="a,b" option of allowed_signers.
func allowsNamespace(prefix []string, namespace string) bool {
	opts := strings.Join(prefix, " ")
	i := strings.Index(opts, `namespaces="`)
	if i < 0 {
		return true
	}
	v, _, _ := strings.Cut(opts[i+len(`namespaces="`):], `"`)
	for _, ns := range strings.Split(v, ",") {
		if ns == namespace {
			return true
		}
	}
	return false
}

// Names describes each key of keys as Key.String does.
func Names(keys []Key) []string {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = k.String()
	}
	return names
}

// Find returns the key in keys equal to pub.
func Find(keys []Key, pub ed25519.PublicKey) (Key, bool) {
	for _, k := range keys {
		if k.PublicKey.Equal(pub) {
			return k, true
		}
	}
	return Key{}, false
}

// LoadKeys reads the trusted keys named by arg, as --verify-key takes
// them: one key given inline ("ssh-ed25519 AAAA…"; another type is
// refused by name), or the name of a file of authorized_keys or
// allowed_signers lines.
func LoadKeys(arg, namespace string) ([]Key, error) {
	t := strings.TrimSpace(arg)
	keyLine := strings.HasPrefix(t, "ssh-") || strings.HasPrefix(t, "ecdsa-") || strings.HasPrefix(t, "sk-")
	if keyLine && strings.Contains(t, " ") {
		return ParseKeys([]byte(arg), "the key given inline", namespace)
	}
	b, err := os.ReadFile(arg)
	if err != nil {
		return nil, fmt.Errorf("cannot read the trusted keys: %w", err)
	}
	return ParseKeys(b, arg, namespace)
}
