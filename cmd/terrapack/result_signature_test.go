package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestJSONResultSignature: the --json result says whether the installer is
// signed, by which key (the fingerprint ssh-keygen -l prints), whether this
// run matched the signature against the file's bytes and whether the signer
// was checked against trusted keys, naming the key that matched — for a
// signed installer checked and not checked, an unsigned one, refusals and
// runs that read no payload (an identical install found intact, an
// uninstall: neither checks the keys nor the signature).
func TestJSONResultSignature(t *testing.T) {
	t.Parallel()
	key, other := signingKey(t, ""), signingKey(t, "")
	fp := fingerprint(t, key)
	src := sampleTree(t)
	signed, unsigned := build(t, src, "--sign", key), build(t, src)
	allowed := allowedSigners(t, key)

	sig := func(signed bool, fp string, verified, checked bool, comment, source string) map[string]any {
		return map[string]any{"signed": signed, "fingerprint": fp, "verified": verified, "checked": checked, "key_comment": comment, "key_source": source}
	}
	target := filepath.Join(t.TempDir(), "app") // installed by the first case
	fresh := func() string { return filepath.Join(t.TempDir(), "app") }
	mine := t.TempDir() // a folder of the customer's: refused
	must(t, os.WriteFile(filepath.Join(mine, "notes"), []byte("mine\n"), 0o644))
	for _, c := range []struct {
		name      string
		installer string
		args, env []string
		code      int
		want      map[string]any
	}{
		{"signed, allowed_signers", signed, []string{"--to", target, "--verify-key", allowed}, nil, 0,
			sig(true, fp, true, true, "vendor@example.com", allowed+":1")},
		{"signed, not checked", signed, []string{"--to", fresh()}, nil, 0,
			sig(true, fp, true, false, "", "")},
		{"signed, identical install intact: nothing read", signed, []string{"--to", target, "--force"}, nil, 0,
			sig(true, fp, false, false, "", "")},
		{"signed, key from the environment, dry run", signed, []string{"--to", fresh(), "--dry-run"}, []string{"TERRAPACK_VERIFY_KEY=" + key + ".pub"}, 0,
			sig(true, fp, true, true, "vendor@example.com", key+".pub:1")},
		{"signed, refused after the whole file was checked", signed, []string{"--to", mine}, nil, 4,
			sig(true, fp, true, false, "", "")},
		{"signed, untrusted key", signed, []string{"--to", fresh(), "--verify-key", other + ".pub"}, nil, 3,
			sig(true, fp, false, true, "", "")},
		{"signed, uninstall", signed, []string{"--to", target, "--uninstall", "--verify-key", other + ".pub"}, nil, 0,
			sig(true, fp, false, false, "", "")},
		{"unsigned", unsigned, []string{"--to", fresh()}, nil, 0,
			sig(false, "", false, false, "", "")},
		{"unsigned, key required", unsigned, []string{"--to", fresh(), "--verify-key", key + ".pub"}, nil, 3,
			sig(false, "", false, true, "", "")},
	} {
		r := runCmd(t, c.env, c.installer, append(c.args, "--json", "--quiet")...)
		if r.code != c.code {
			t.Fatalf("%s: exit %d, want %d:\n%s", c.name, r.code, c.code, r)
		}
		if got := parseResult(t, r)["signature"]; !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: signature %v, want %v", c.name, got, c.want)
		}
	}
}
