package main

import (
	"fmt"
	"os"

	"github.com/terrapack/terrapack/payload"
	"github.com/terrapack/terrapack/sshsig"
)

// verifyKeyEnv gives the trusted keys for unattended runs without --verify-key.
const verifyKeyEnv = "TERRAPACK_VERIFY_KEY"

// checkSigner decides, before anything is written, whether the installer's
// signer is acceptable: with trusted keys (arg, else $TERRAPACK_VERIFY_KEY)
// it must be one of them. It returns the line that tells the customer who
// signed, and notes in sig what was checked; Stream then checks the
// signature against the file's bytes.
func checkSigner(in *payload.Installer, arg string, sig *signature) (string, error) {
	if arg == "" {
		arg = os.Getenv(verifyKeyEnv)
	}
	if arg == "" {
		if in.Signature == nil {
			return "", nil
		}
		return fmt.Sprintf("signed by ed25519 key %s, not checked against a trusted key (give --verify-key KEYS to require it)",
			in.Signature.Fingerprint()), nil
	}
	sig.Checked = true
	keys, err := sshsig.LoadKeys(arg, payload.SignatureNamespace)
	if err != nil {
		return "", &usageError{msg: err.Error(),
			hint: "give --verify-key the publisher's public key: a file of \"ssh-ed25519 AAAA…\" or allowed_signers lines, or one key inline"}
	}
	k, err := in.RequireSigner(keys)
	if err != nil {
		return "", err
	}
	sig.KeyComment, sig.KeySource = k.Comment, k.Source
	return "signed by trusted key " + k.String(), nil
}
