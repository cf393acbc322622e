package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// The hostile corpus: installers written straight from docs/FORMAT.md by the
// code below, not by the builder, so that a valid checksum carries hostile
// content. testdata/hostile/NAME holds each case's payload bytes (as they go
// into the file, compressed), its manifest, and "expect": the exit code and a
// piece of the message. TestHostileCorpus appends them to the real stub with
// a correct stub information block and trailer, then runs --check and an
// install. `go test ./cmd/terrapack -run TestHostileCorpus -update` (the
// golden files' flag) rewrites the corpus from the table in hostileCases.

const corpusDir = "testdata/hostile"

// hostileCase is one installer of the corpus.
type hostileCase struct {
	name     string
	entries  []tarEntry
	rawTar   []byte         // instead of entries
	compress string         // zstd (default), gzip, none; "gzip-as-zstd" lies
	manifest map[string]any // merged over the honest manifest
	code     int
	message  string
	// flip, if >= 0, is a byte of the stub information block to alter
	// before the checksum is taken.
	flip int
}

type tarEntry struct {
	Name, Link string
	Type       byte
	Mode       int64
	Body       string
}

func hreg(name, body string, mode int64) tarEntry {
	return tarEntry{Name: name, Type: tar.TypeReg, Mode: mode, Body: body}
}
func hdir(name string) tarEntry { return tarEntry{Name: name + "/", Type: tar.TypeDir, Mode: 0o755} }
func hlink(name, to string) tarEntry {
	return tarEntry{Name: name, Type: tar.TypeSymlink, Link: to, Mode: 0o777}
}
func hhard(name, to string) tarEntry { return tarEntry{Name: name, Type: tar.TypeLink, Link: to} }
func plan(files ...any) map[string]any {
	return map[string]any{"build_prefix": "/build/app", "files": files}
}

func hostileCases() []hostileCase {
	elfish := "\x7fELF" + strings.Repeat("\x00", 60) + "/build/app/lib/ld.so\x00" + strings.Repeat("\x00", 20)
	chain := []tarEntry{hdir("a")}
	prev := "a"
	for i := 0; i < 12; i++ {
		n := fmt.Sprintf("l%02d", i)
		chain = append(chain, hlink(n, prev+"/.."))
		prev = n
	}
	interp := func(offset int64, capacity int) map[string]any {
		return map[string]any{"relocation": plan(map[string]any{"name": "bin/app", "kind": "elf",
			"interp": map[string]any{"offset": offset, "capacity": capacity, "value": "/build/app/lib/ld.so"}})}
	}
	app := hreg("bin/app", elfish, 0o755)
	return []hostileCase{
		{name: "valid", entries: []tarEntry{hdir("bin"), hreg("bin/hook", "#!/bin/sh\necho hook ran\n", 0o755), hlink("bin/h", "hook")},
			manifest: map[string]any{"post_install": "bin/hook"}, code: 0, message: "installed"},
		{name: "link-chain-up", entries: []tarEntry{hdir("d"), hlink("d/up", ".."), hlink("esc", "d/up/..")}, code: 3, message: `"esc": symlink to "d/up/.." leads outside`},
		{name: "link-chain-later", entries: []tarEntry{hlink("esc", "d/up/.."), hdir("d"), hlink("d/up", "..")}, code: 3, message: "leads outside the install"},
		{name: "link-chain-12", entries: chain, code: 3, message: "leads outside the install"},
		{name: "link-absolute", entries: []tarEntry{hlink("etc", "/etc")}, code: 3, message: `symlink to the absolute path "/etc"`},
		{name: "link-dangling-up", entries: []tarEntry{hlink("l", "not-yet/../../x")}, code: 3, message: "leads outside the install"},
		{name: "write-through-link", entries: []tarEntry{hlink("l", "."), hreg("l/x", "x", 0o644)}, code: 3, message: `its parent "l" is a symlink`},
		{name: "hardlink-outside", entries: []tarEntry{hhard("h", "../../etc/passwd")}, code: 3, message: `path contains ".."`},
		{name: "name-dotdot", entries: []tarEntry{hreg("../x", "x", 0o644)}, code: 3, message: `path contains ".."`},
		{name: "name-inner-dotdot", entries: []tarEntry{hdir("a"), hreg("a/../../x", "x", 0o644)}, code: 3, message: `path contains ".."`},
		{name: "hardlink-absolute", entries: []tarEntry{hhard("h", "/etc/passwd")}, code: 3, message: "hard link source"},
		{name: "name-absolute", entries: []tarEntry{hreg("/tmp/terrapack-corpus-x", "x", 0o644)}, code: 3, message: "absolute path"},
		{name: "name-too-long", entries: []tarEntry{hreg(strings.Repeat("n", 300), "x", 0o644)}, code: 3, message: "a component of 300 bytes"},
		{name: "name-reserved", entries: []tarEntry{hreg(".terrapack/files", "x", 0o644)}, code: 3, message: "reserved"},
		{name: "device", entries: []tarEntry{{Name: "null", Type: tar.TypeChar, Mode: 0o666}}, code: 3, message: "device nodes"},
		{name: "fifo", entries: []tarEntry{{Name: "p", Type: tar.TypeFifo, Mode: 0o644}}, code: 3, message: "unsupported entry type"},
		{name: "duplicate", entries: []tarEntry{hreg("x", "1", 0o644), hlink("x", "y")}, code: 3, message: "appears twice"},
		{name: "sparse", rawTar: sparseTar(), code: 3, message: `"s": sparse files are not part of the format`},
		{name: "hook-outside", entries: []tarEntry{hreg("x", "x", 0o644)}, manifest: map[string]any{"post_install": "../../outside/hook.sh"}, code: 3, message: "manifest post_install"},
		{name: "hook-missing", entries: []tarEntry{hreg("x", "x", 0o644)}, manifest: map[string]any{"post_install": "bin/none"}, code: 3, message: `hook "bin/none" is not in the payload`},
		{name: "hook-not-executable", entries: []tarEntry{hreg("hook", "#!/bin/sh\n", 0o644)}, manifest: map[string]any{"post_install": "hook"}, code: 3, message: "is not executable"},
		{name: "hook-symlink", entries: []tarEntry{hlink("hook", "/bin/true")}, manifest: map[string]any{"post_install": "hook"}, code: 3, message: "absolute path"},
		{name: "hook-relative-symlink", entries: []tarEntry{hreg("real", "#!/bin/sh\n", 0o755), hlink("hook", "real")}, manifest: map[string]any{"post_install": "hook"}, code: 3, message: "is not a regular file"},
		{name: "plan-capacity-2e40", entries: []tarEntry{hdir("bin"), app}, manifest: interp(64, 1<<40), code: 3, message: "interp: capacity 1099511627776"},
		{name: "plan-capacity-2e30", entries: []tarEntry{hdir("bin"), app}, manifest: interp(64, 1<<30), code: 3, message: "interp: capacity 1073741824"},
		{name: "plan-offset-10GiB", entries: []tarEntry{hdir("bin"), app}, manifest: interp(10<<30, 200), code: 3, message: "offset 10737418240 + capacity 200"},
		{name: "plan-overwrites-data", entries: []tarEntry{hdir("bin"), hreg("bin/app", strings.Repeat("precious data ", 20), 0o644)}, manifest: interp(0, 200),
			code: 3, message: `"bin/app" does not hold "/build/app/lib/ld.so\x00" at offset 0`},
		// A lying plan with a capacity smaller than any test's target: the
		// lie (found only in the payload) is a bad installer, exit 3, not a
		// target too long (exit 4).
		{name: "plan-offset-10GiB-small-capacity", entries: []tarEntry{hdir("bin"), app}, manifest: interp(10<<30, 20), code: 3, message: "offset 10737418240 + capacity 20"},
		{name: "plan-overwrites-data-small-capacity", entries: []tarEntry{hdir("bin"), hreg("bin/app", strings.Repeat("precious data ", 20), 0o644)}, manifest: interp(0, 20),
			code: 3, message: `"bin/app" does not hold "/build/app/lib/ld.so\x00" at offset 0`},
		{name: "plan-negative-offset", entries: []tarEntry{hdir("bin"), app}, manifest: interp(-1, 200), code: 3, message: "negative offset"},
		{name: "plan-shebang-valid", entries: []tarEntry{hdir("bin"), hreg("bin/tool", "#!/build/app/bin/sh -e\necho ok\n", 0o755)},
			manifest: map[string]any{"relocation": plan(map[string]any{"name": "bin/tool", "kind": "shebang", "shebang": map[string]any{"line": "#!/build/app/bin/sh -e", "style": "shell"}})}, code: 0, message: ""},
		{name: "plan-shebang-mismatch", entries: []tarEntry{hdir("bin"), hreg("bin/tool", "#!/bin/sh\necho ok\n", 0o755)},
			manifest: map[string]any{"relocation": plan(map[string]any{"name": "bin/tool", "kind": "shebang", "shebang": map[string]any{"line": "#!/build/app/bin/sh -e", "style": "shell"}})},
			code:     3, message: `"bin/tool" does not hold "#!/build/app/bin/sh -e" at offset 0`},
		{name: "plan-twice", entries: []tarEntry{hreg("a", "/build/app", 0o644)},
			manifest: map[string]any{"relocation": plan(map[string]any{"name": "a", "kind": "text"}, map[string]any{"name": "a", "kind": "text"})}, code: 3, message: "planned twice"},
		{name: "plan-unknown-kind", entries: []tarEntry{hreg("a", "x", 0o644)},
			manifest: map[string]any{"relocation": plan(map[string]any{"name": "a", "kind": "magic"})}, code: 3, message: `unknown kind "magic"`},
		{name: "plan-missing-entry", entries: []tarEntry{hreg("a", "x", 0o644)},
			manifest: map[string]any{"relocation": plan(map[string]any{"name": "b", "kind": "text"})}, code: 3, message: "missing from the payload: b"},
		{name: "plan-not-json", entries: []tarEntry{hreg("a", "x", 0o644)}, manifest: map[string]any{"relocation": "[1,2"}, code: 3, message: "unreadable plan"},
		{name: "plan-overlapping-strings", entries: []tarEntry{hreg("a", "/build/app\x00/build/app/x\x00", 0o644)},
			manifest: map[string]any{"relocation": plan(map[string]any{"name": "a", "kind": "binary", "strings": []any{
				map[string]any{"offset": 0, "capacity": 12, "value": "/build/app"}, map[string]any{"offset": 11, "capacity": 12, "value": "/build/app/x"}}})},
			code: 3, message: "overlaps the string before it"},
		{name: "not-a-tar", rawTar: bytes.Repeat([]byte("not a tar stream "), 64), compress: "none", code: 3, message: "payload: not a readable tar stream"},
		{name: "wrong-compression", entries: []tarEntry{hreg("a", "x", 0o644)}, compress: "gzip-as-zstd", code: 3, message: "payload"},
		{name: "unknown-compression", entries: []tarEntry{hreg("a", "x", 0o644)}, manifest: map[string]any{"compression": "lz4"}, code: 3, message: `manifest compression: unknown method "lz4"`},
		{name: "no-name", entries: []tarEntry{hreg("a", "x", 0o644)}, manifest: map[string]any{"name": ""}, code: 3, message: "manifest name: no name"},
		{name: "unpacked-size-lie", entries: []tarEntry{hreg("big", strings.Repeat("z", 1<<20), 0o644)}, manifest: map[string]any{"unpacked_size": 10}, code: 3, message: "more than the manifest's unpacked_size of 10 bytes"},
		{name: "entry-count-lie", entries: []tarEntry{hreg("a", "x", 0o644), hreg("b", "y", 0o644)}, manifest: map[string]any{"files": 1}, code: 3, message: "more entries than the manifest's 1"},
		{name: "stub-info-marker-flip", entries: []tarEntry{hreg("a", "x", 0o644)}, flip: 3, code: 3, message: "stub information block: its marker is altered"},
		{name: "stub-info-reserved-flip", entries: []tarEntry{hreg("a", "x", 0o644)}, flip: 100, code: 3, message: "stub information block: its reserved bytes are not zero"},
	}
}

// sparseTar is a PAX (GNU 1.0) sparse file of 10 GiB holding one byte, laid
// out by hand: archive/tar writes no sparse files.
func sparseTar() []byte {
	header := func(name string, flag byte, size int) []byte {
		h := make([]byte, 512)
		copy(h, name)
		copy(h[100:], "0000644\x00")
		copy(h[108:], "0000000\x00")
		copy(h[116:], "0000000\x00")
		copy(h[124:], fmt.Sprintf("%011o\x00", size))
		copy(h[136:], "00000000000\x00")
		h[156] = flag
		copy(h[257:], "ustar\x0000")
		copy(h[148:], "        ")
		sum := 0
		for _, b := range h {
			sum += int(b)
		}
		copy(h[148:], fmt.Sprintf("%06o\x00 ", sum))
		return h
	}
	pad := func(b []byte) []byte { return append(b, make([]byte, (512-len(b)%512)%512)...) }
	var recs string
	for _, kv := range [][2]string{{"GNU.sparse.major", "1"}, {"GNU.sparse.minor", "0"}, {"GNU.sparse.name", "s"}, {"GNU.sparse.realsize", "10737418240"}} {
		r := " " + kv[0] + "=" + kv[1] + "\n"
		n := len(r) + 1 // a record's length counts its own digits
		for len(strconv.Itoa(n))+len(r) != n {
			n++
		}
		recs += strconv.Itoa(n) + r
	}
	// The data: the sparse map (one region of 1 byte at 10 GiB - 1), then it.
	data := pad([]byte("1\n10737418239\n1\n"))
	data = append(data, pad([]byte("x"))...)
	out := header("PaxHeaders/s", 'x', len(recs))
	out = append(out, pad([]byte(recs))...)
	out = append(out, header("GNUSparseFile.0/s", '0', len(data))...)
	out = append(out, data...)
	return append(out, make([]byte, 1024)...)
}

// writeCorpus writes every case's files below dir.
func writeCorpus(t *testing.T, dir string) {
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for _, c := range hostileCases() {
		d := filepath.Join(dir, c.name)
		must(t, os.MkdirAll(d, 0o755))
		tarBytes, m := c.rawTar, map[string]any{"format": 1, "name": "hostile", "version": "1", "arch": "amd64", "compression": "zstd"}
		var files, dirs, links, hards, size int64
		if tarBytes == nil {
			var b bytes.Buffer
			tw := tar.NewWriter(&b)
			for _, e := range c.entries {
				h := &tar.Header{Name: e.Name, Typeflag: e.Type, Mode: e.Mode, Linkname: e.Link, Size: int64(len(e.Body)), Format: tar.FormatPAX}
				if e.Type != tar.TypeReg {
					h.Size = 0
				}
				must(t, tw.WriteHeader(h))
				_, err := tw.Write([]byte(e.Body))
				must(t, err)
				switch e.Type {
				case tar.TypeReg:
					files, size = files+1, size+int64(len(e.Body))
				case tar.TypeDir:
					dirs++
				case tar.TypeSymlink:
					links++
				default:
					hards++
				}
			}
			must(t, tw.Close())
			tarBytes = b.Bytes()
		}
		for k, v := range map[string]int64{"files": files, "dirs": dirs, "symlinks": links, "hardlinks": hards, "unpacked_size": size, "tar_size": int64(len(tarBytes))} {
			m[k] = v
		}
		for k, v := range c.manifest {
			m[k] = v
		}
		var body []byte
		switch c.compress {
		case "", "zstd":
			enc, err := zstd.NewWriter(nil)
			must(t, err)
			body = enc.EncodeAll(tarBytes, nil)
		case "gzip", "gzip-as-zstd":
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(tarBytes)
			must(t, zw.Close())
			body = b.Bytes()
			if c.compress == "gzip" {
				m["compression"] = "gzip"
			}
		case "none":
			body = tarBytes
			m["compression"] = "none"
		}
		mb, err := json.MarshalIndent(m, "", "  ")
		must(t, err)
		must(t, os.WriteFile(filepath.Join(d, "payload"), body, 0o644))
		must(t, os.WriteFile(filepath.Join(d, "manifest.json"), append(mb, '\n'), 0o644))
		expect := fmt.Sprintf("%d\n%s\n", c.code, c.message)
		if c.flip != 0 {
			expect += fmt.Sprintf("flip-stub-info %d\n", c.flip)
		}
		must(t, os.WriteFile(filepath.Join(d, "expect"), []byte(expect), 0o644))
	}
}

// assemble lays out [stub][payload][manifest][trailer] as docs/FORMAT.md
// says, with the stub information block patched and the SHA-256 over every
// byte before the trailer; flip (if not 0) alters that byte of the block.
func assemble(t *testing.T, stub, body, manifest []byte, flip int) []byte {
	t.Helper()
	marker := []byte("TERRAPACK-STUB-INFO-v1")
	at := bytes.Index(stub, marker)
	if at < 0 || bytes.Count(stub, marker) != 1 {
		t.Fatal("the stub has no single information block")
	}
	off, plen, mlen := uint64(len(stub)), uint64(len(body)), uint64(len(manifest))
	total := off + plen + mlen + 128
	fields := []uint64{off, plen, off + plen, mlen, total}
	f := append([]byte(nil), stub...)
	for i, v := range fields {
		binary.LittleEndian.PutUint64(f[at+32+8*i:], v)
	}
	if flip != 0 {
		f[at+flip] ^= 0x20
	}
	f = append(append(f, body...), manifest...)
	sum := sha256.Sum256(f)
	tr := make([]byte, 128)
	copy(tr, "TERRAPAK")
	binary.LittleEndian.PutUint32(tr[8:], 1)
	for i, v := range fields {
		binary.LittleEndian.PutUint64(tr[16+8*i:], v)
	}
	copy(tr[56:], sum[:])
	copy(tr[120:], "TERRAPAK")
	return append(f, tr...)
}

func TestHostileCorpus(t *testing.T) {
	t.Parallel()
	if *update {
		writeCorpus(t, corpusDir)
	}
	stub, err := os.ReadFile("../../builder/stubs/linux-amd64")
	must(t, err)
	dirs, err := os.ReadDir(corpusDir)
	must(t, err)
	if len(dirs) < len(hostileCases()) {
		t.Fatalf("%s holds %d cases, the generator %d: run with -update", corpusDir, len(dirs), len(hostileCases()))
	}
	for _, d := range dirs {
		t.Run(d.Name(), func(t *testing.T) {
			read := func(f string) []byte {
				b, err := os.ReadFile(filepath.Join(corpusDir, d.Name(), f))
				must(t, err)
				return b
			}
			exp := strings.Split(string(read("expect")), "\n")
			code, err := strconv.Atoi(exp[0])
			must(t, err)
			flip := 0
			if len(exp) > 2 && strings.HasPrefix(exp[2], "flip-stub-info ") {
				flip, _ = strconv.Atoi(strings.TrimPrefix(exp[2], "flip-stub-info "))
			}
			base := t.TempDir()
			run := filepath.Join(base, "hostile.run")
			must(t, os.WriteFile(run, assemble(t, stub, read("payload"), read("manifest.json"), flip), 0o755))
			// What a hostile hook or link would reach.
			outside := filepath.Join(base, "outside")
			must(t, os.MkdirAll(outside, 0o755))
			marker := filepath.Join(base, "hook-ran")
			must(t, os.WriteFile(filepath.Join(outside, "hook.sh"), []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o755))
			target := filepath.Join(base, "in", "app")

			check := runCmd(t, nil, run, "--check")
			install := runCmd(t, nil, run, "--to", target)
			if code == 0 {
				mustOK(t, check)
				mustOK(t, install)
				return
			}
			mustFail(t, check, code, exp[1])
			mustFail(t, install, code, exp[1])
			if strings.HasPrefix(d.Name(), "plan-") {
				// The plan is judged before the target: into a folder of
				// the customer's (exit 4 for a sound installer) a bad plan
				// is still a bad installer.
				mine := filepath.Join(outside, "mine")
				must(t, os.MkdirAll(mine, 0o755))
				must(t, os.WriteFile(filepath.Join(mine, "notes"), []byte("mine\n"), 0o644))
				mustFail(t, runCmd(t, nil, run, "--to", mine), code, exp[1])
				assertClean(t, mine, "notes")
				must(t, os.RemoveAll(mine))
			}
			if exists(target) || exists(marker) || exists("/tmp/terrapack-corpus-x") {
				t.Fatal("something was written")
			}
			assertClean(t, base, "hostile.run", "outside", "in")
			assertClean(t, outside, "hook.sh")
			if exists(filepath.Join(base, "in")) {
				assertClean(t, filepath.Join(base, "in"))
			}
		})
	}
}
