package testvm

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

type cpioEntry struct {
	mode       uint32
	rmaj, rmin uint32
	data       string
}

// readCpio parses a gzip-compressed newc archive.
func readCpio(t *testing.T, gz []byte) map[string]cpioEntry {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]cpioEntry{}
	off := 0
	field := func(i int) uint32 {
		v, err := strconv.ParseUint(string(raw[off+6+8*i:off+6+8*i+8]), 16, 32)
		if err != nil {
			t.Fatalf("bad cpio header at %d: %v", off, err)
		}
		return uint32(v)
	}
	for {
		if string(raw[off:off+6]) != "070701" {
			t.Fatalf("bad cpio magic at %d", off)
		}
		mode, size, rmaj, rmin, nsize := field(1), field(6), field(9), field(10), field(11)
		name := string(raw[off+110 : off+110+int(nsize)-1])
		off += (110 + int(nsize) + 3) &^ 3
		data := string(raw[off : off+int(size)])
		off += (int(size) + 3) &^ 3
		if name == "TRAILER!!!" {
			break
		}
		if _, dup := out[name]; dup {
			t.Errorf("duplicate cpio entry %q", name)
		}
		out[name] = cpioEntry{mode, rmaj, rmin, data}
	}
	if off != len(raw) {
		t.Errorf("%d bytes after the trailer", len(raw)-off)
	}
	return out
}

func TestInitramfsContent(t *testing.T) {
	dir := t.TempDir()
	bb := filepath.Join(dir, "busybox")
	os.WriteFile(bb, []byte("BUSYBOX"), 0o755)
	mods := filepath.Join(dir, "mods")
	os.Mkdir(mods, 0o755)
	for _, m := range []string{"cdrom", "isofs"} {
		os.WriteFile(filepath.Join(mods, m+".ko"), []byte("KO "+m), 0o644)
	}
	p := initParams{
		Token: "0123abcd", Mode: modeMinimal, Installer: "my app.run", To: "/opt/it's",
		Exec: "echo hi; exit 3\n", Modules: []string{"cdrom", "isofs"},
	}
	var buf bytes.Buffer
	if err := buildInitramfs(&buf, bb, []string{"sh", "mount", "insmod", "chroot"}, mods, p); err != nil {
		t.Fatal(err)
	}
	ents := readCpio(t, buf.Bytes())
	want := func(name string, mode uint32, data string) {
		t.Helper()
		e, ok := ents[name]
		if !ok {
			t.Fatalf("initramfs lacks %q", name)
		}
		if e.mode != mode {
			t.Errorf("%s: mode %o, want %o", name, e.mode, mode)
		}
		if data != "" && e.data != data {
			t.Errorf("%s: content %q, want %q", name, e.data, data)
		}
	}
	want("init", 0o100755, initScript)
	want("bin/busybox", 0o100755, "BUSYBOX")
	want("bin/sh", 0o120777, "busybox")
	want("bin/chroot", 0o120777, "busybox")
	want("lib/modules/cdrom.ko", 0o100644, "KO cdrom")
	want("lib/modules/isofs.ko", 0o100644, "KO isofs")
	want("testvm/exec", 0o100644, p.Exec)
	want("dev/console", 0o020600, "")
	if e := ents["dev/console"]; e.rmaj != 5 || e.rmin != 1 {
		t.Errorf("dev/console is %d:%d", e.rmaj, e.rmin)
	}
	for _, d := range []string{"proc", "sys", "dev", "tmp", "cdrom", "newroot"} {
		want(d, 0o040755, "")
	}
	if _, ok := ents["bin/busybox/busybox"]; ok {
		t.Error("busybox linked to itself")
	}

	// The config is valid shell that yields the values back.
	cfgFile := filepath.Join(dir, "config")
	os.WriteFile(cfgFile, []byte(ents["testvm/config"].data), 0o644)
	out, err := exec.Command("sh", "-c", `. "$1"; printf '%s|%s|%s|%s|%s' "$TOKEN" "$MODE" "$INSTALLER" "$TO" "$MODULES"`, "sh", cfgFile).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "0123abcd|minimal|my app.run|/opt/it's|cdrom isofs"; got != want {
		t.Errorf("config gives %q, want %q", got, want)
	}
}

func TestInitScriptSyntax(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	cmd := exec.Command(sh, "-n")
	cmd.Stdin = strings.NewReader(initScript)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("init script: %v\n%s", err, out)
	}
	// The minimal root must not get /proc: only the initramfs mounts it.
	minimal := initScript[strings.Index(initScript, `if [ "$MODE" = minimal ]`):strings.Index(initScript, "\nelse\n")]
	if strings.Contains(minimal, "proc") {
		t.Errorf("the minimal root mounts proc:\n%s", minimal)
	}
	for _, s := range []string{`chroot $R "/media/cdrom/$INSTALLER" --to "$TO"`, `say "INSTALL:$rc"`, `say "EXEC:$rc"`, "poweroff -f"} {
		if !strings.Contains(initScript, s) {
			t.Errorf("init script lacks %q", s)
		}
	}
}

func TestParseMarkers(t *testing.T) {
	console := "SeaBIOS\r\n@@TESTVM:abc123:BOOTED@@\r\n" +
		"@@TESTVM:ffff:INSTALL:9@@\r\n" + // another run's token
		"[    1.0] random kernel line\r\n" +
		"installing...\r\n@@TESTVM:abc123:INSTALL:0@@\r\n" +
		"hello\r\n@@TESTVM:abc123:EXEC:7@@\r\n@@TESTVM:abc123:DONE@@\r\n"
	r := parseMarkers(console, "abc123")
	if !r.booted || !r.done || r.install == nil || *r.install != 0 || r.exec == nil || *r.exec != 7 || len(r.errors) != 0 {
		t.Fatalf("parse: %+v", r)
	}
	if err := r.check(true, nil, console); err != nil {
		t.Errorf("check: %v", err)
	}

	r = parseMarkers("@@TESTVM:abc123:BOOTED@@\n@@TESTVM:abc123:ERROR:expected exactly one *.run at the disc root, found 2@@\n", "abc123")
	err := r.check(true, nil, "console text")
	var ge *GuestError
	if !errors.As(err, &ge) || !strings.Contains(err.Error(), "found 2") || !strings.Contains(err.Error(), "console text") {
		t.Errorf("error marker: %v", err)
	}

	r = parseMarkers("@@TESTVM:abc123:BOOTED@@\n@@TESTVM:abc123:INSTALL:3@@\n", "abc123")
	if err := r.check(true, nil, ""); err == nil || !strings.Contains(err.Error(), "install failed with exit status 3") {
		t.Errorf("failed install: %v", err)
	}

	panicked := "Kernel panic - not syncing: VFS: Unable to mount root fs"
	r = parseMarkers(panicked, "abc123")
	err = r.check(true, errors.New("qemu exited before the guest finished"), panicked)
	if err == nil || !strings.Contains(err.Error(), "never started its init") || !strings.Contains(err.Error(), "kernel panic") || !strings.Contains(err.Error(), panicked) {
		t.Errorf("panic: %v", err)
	}

	r = parseMarkers("@@TESTVM:abc123:BOOTED@@\n@@TESTVM:abc123:INSTALL:0@@\n", "abc123")
	if err := r.check(true, errors.New("guest timed out after 5m0s"), ""); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("timeout: %v", err)
	}
	if err := r.check(false, nil, ""); err != nil {
		t.Errorf("no exec wanted: %v", err)
	}
}

func TestConsoleSinkDone(t *testing.T) {
	s := &consoleSink{done: []byte("@@TESTVM:t1:DONE@@"), doneCh: make(chan struct{})}
	for _, chunk := range []string{"boot\n@@TEST", "VM:t1:DO", "NE@@", "\nmore"} {
		s.Write([]byte(chunk))
	}
	select {
	case <-s.doneCh:
	default:
		t.Fatal("done marker split over writes not noticed")
	}
	if got := s.String(); got != "boot\n@@TESTVM:t1:DONE@@\nmore" {
		t.Errorf("console %q", got)
	}
}

func TestCheckPrerequisites(t *testing.T) {
	defer func(lp func(string) (string, error), bb func() (string, error)) {
		lookPathFunc, findStaticBusyboxF = lp, bb
	}(lookPathFunc, findStaticBusyboxF)
	lookPathFunc = func(string) (string, error) { return "", exec.ErrNotFound }
	findStaticBusyboxF = func() (string, error) {
		return "", errors.New("static busybox not found: apt-get install busybox-static")
	}
	cases := map[string][]string{
		"minimal":        {"qemu-system-x86_64 not found: apt-get install qemu-system-x86", "xz not found: apt-get install xz-utils", "apt-get install busybox-static"},
		"bullseye":       {"apt-get install qemu-system-x86", "debootstrap not found: apt-get install debootstrap", "mkfs.ext4 not found: apt-get install e2fsprogs"},
		"/x/root.tar.xz": {"apt-get install qemu-system-x86", "apt-get install e2fsprogs", "tar not found: apt-get install tar"},
	}
	for rootfs, wants := range cases {
		err := CheckPrerequisites(rootfs)
		if err == nil {
			t.Fatalf("%s: no error", rootfs)
		}
		for _, w := range wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", rootfs, err, w)
			}
		}
	}
	if err := CheckPrerequisites("minimal"); strings.Contains(err.Error(), "debootstrap") {
		t.Errorf("minimal asks for debootstrap: %v", err)
	}

	// Everything present.
	lookPathFunc = func(p string) (string, error) { return "/usr/bin/" + filepath.Base(p), nil }
	findStaticBusyboxF = func() (string, error) { return "/bin/busybox", nil }
	for _, r := range []string{"minimal", "bullseye", "/some/dir"} {
		if err := CheckPrerequisites(r); err != nil {
			t.Errorf("%s: %v", r, err)
		}
	}
}

func TestModuleOrder(t *testing.T) {
	deps := map[string][]string{
		"ext4":           {"jbd2", "mbcache", "crc16", "?crypto-crc32c"},
		"jbd2":           {"?crypto-crc32c"},
		"mbcache":        nil,
		"crc16":          nil,
		"crc32c_generic": nil,
		"sr_mod":         {"scsi_mod", "cdrom", "scsi_common"},
		"scsi_mod":       {"scsi_common"},
		"scsi_common":    nil,
		"cdrom":          nil,
		"isofs":          {"cdrom"},
		"ata_piix":       {"libata"},
		"libata":         {"scsi_mod"},
	}
	got := moduleOrder(deps, []string{"ata_piix", "sr_mod", "isofs", "virtio_blk", "ext4"})
	want := []string{"scsi_common", "scsi_mod", "libata", "ata_piix", "cdrom", "sr_mod", "isofs", "crc32c_generic", "jbd2", "mbcache", "crc16", "ext4"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order\n got %v\nwant %v", got, want)
	}
}

func TestMirrorFromSources(t *testing.T) {
	dir := t.TempDir()
	deb822 := filepath.Join(dir, "debian.sources")
	os.WriteFile(deb822, []byte("Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://mirror.example/debian/\nSuites: bookworm\n\nURIs: http://mirror.example/debian-security\n"), 0o644)
	if got := mirrorFromSources(deb822); got != "http://mirror.example/debian" {
		t.Errorf("deb822: %q", got)
	}
	list := filepath.Join(dir, "sources.list")
	os.WriteFile(list, []byte("# deb http://x/debian sid main\ndeb http://security.debian.org/debian-security bookworm-security main\ndeb [arch=amd64] https://m.example/debian bookworm main\n"), 0o644)
	if got := mirrorFromSources(list); got != "https://m.example/debian" {
		t.Errorf("list: %q", got)
	}
}

func TestKernelRelease(t *testing.T) {
	img := make([]byte, 0x1000)
	copy(img[0x202:], "HdrS")
	binary.LittleEndian.PutUint16(img[0x20E:], 0x300)
	copy(img[0x500:], "6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP\x00")
	p := filepath.Join(t.TempDir(), "vmlinuz")
	os.WriteFile(p, img, 0o644)
	if rel, err := kernelRelease(p); err != nil || rel != "6.1.0-56-amd64" {
		t.Errorf("bzImage release %q, %v", rel, err)
	}
	os.WriteFile(p, []byte("\x7fELF....Linux version 5.10.0-30-amd64 (debian-kernel@lists.debian.org)"), 0o644)
	if rel, err := kernelRelease(p); err != nil || rel != "5.10.0-30-amd64" {
		t.Errorf("vmlinux release %q, %v", rel, err)
	}
}

func TestEnsureCached(t *testing.T) {
	root := t.TempDir()
	calls := 0
	logf := func(string, ...any) {}
	build := func(tmp string) error {
		calls++
		return os.WriteFile(filepath.Join(tmp, "f"), []byte("x"), 0o644)
	}
	ctx := context.Background()
	// Leftover of a crashed build of the same entry.
	os.MkdirAll(filepath.Join(root, ".tmp-thing-123", "sub"), 0o755)
	for i := 0; i < 2; i++ {
		dir, err := ensureCached(ctx, root, "thing", logf, "thing", build)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(dir, "f")); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Errorf("built %d times", calls)
	}
	_, err := ensureCached(ctx, root, "broken", logf, "broken thing", func(tmp string) error {
		os.WriteFile(filepath.Join(tmp, "half"), nil, 0o644)
		return fmt.Errorf("boom")
	})
	if err == nil || !strings.Contains(err.Error(), "prepare broken thing: boom") {
		t.Errorf("failed build: %v", err)
	}
	ents, _ := os.ReadDir(root)
	for _, e := range ents {
		if e.Name() != "thing" && !strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("left behind %q", e.Name())
		}
	}
}
