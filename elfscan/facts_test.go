package elfscan

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/terrapack/terrapack/internal/elfmagic"
	"github.com/terrapack/terrapack/internal/elftest"
	"github.com/terrapack/terrapack/relocate"
)

const longPrefix = elftest.LongPrefix

var (
	requireTool = elftest.RequireTool
	buildGreet  = elftest.BuildGreet
	run         = elftest.Run
	runClean    = elftest.RunClean
)

func readFactsFile(tb testing.TB, path string) *Facts {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	facts, err := ReadFacts(f)
	if err != nil {
		tb.Fatalf("ReadFacts(%s): %v", path, err)
	}
	if facts == nil {
		tb.Fatalf("ReadFacts(%s): not recognised as ELF", path)
	}
	return facts
}

func writeString(tb testing.TB, path string, s stringWriter, value string) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Write(f, value); err != nil {
		f.Close()
		tb.Fatalf("Write(%s, %q): %v", path, value, err)
	}
	// Closing before exec avoids ETXTBSY.
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// stringWriter is a string field the tests rewrite.
type stringWriter interface {
	Write(w io.WriterAt, value string) error
}

// interpWriter writes PT_INTERP as the bundler and installer do.
type interpWriter struct{ s *relocate.BinString }

func (i interpWriter) Write(w io.WriterAt, value string) error { return i.s.WriteNULPadded(w, value) }

// dynPaths returns the RPATH or RUNPATH entries, whichever the dtags flag produces.
func dynPaths(facts *Facts, dtags string) []DynString {
	if dtags == "--enable-new-dtags" {
		return facts.RunPath
	}
	return facts.RPath
}

// TestELFRelocateInPlace does what the bundler and installer do together:
// reserve a long PT_INTERP with patchelf, record capacities, then rewrite
// the interpreter and rpath in place, move the tree and run it.
func TestELFRelocateInPlace(t *testing.T) {
	requireTool(t, "patchelf")
	placeholder := "/" + strings.Repeat("p", 254)
	for _, dtags := range []string{"--disable-new-dtags", "--enable-new-dtags"} {
		t.Run(strings.TrimPrefix(dtags, "--"), func(t *testing.T) {
			buildRoot := t.TempDir()
			prog, lib := buildGreet(t, buildRoot, longPrefix, dtags)

			orig := readFactsFile(t, prog)
			if orig.Interp == nil {
				t.Fatal("gcc-built program has no PT_INTERP")
			}
			realInterp := orig.Interp.Value
			if runtime.GOARCH == "amd64" && realInterp != "/lib64/ld-linux-x86-64.so.2" {
				t.Errorf("interpreter = %q, want /lib64/ld-linux-x86-64.so.2", realInterp)
			}
			if got, want := orig.Needed, []string{"libgreet.so", "libc.so.6"}; !reflect.DeepEqual(got, want) {
				t.Errorf("Needed = %q, want %q", got, want)
			}
			if orig.Class != elf.ELFCLASS64 || (runtime.GOARCH == "amd64" && orig.Machine != elf.EM_X86_64) {
				t.Errorf("class/machine = %v/%v", orig.Class, orig.Machine)
			}
			crossCheck(t, prog, orig)
			crossCheck(t, lib, readFactsFile(t, lib))

			run(t, "patchelf", "--set-interpreter", placeholder, prog)
			facts := readFactsFile(t, prog)
			if facts.Interp == nil || facts.Interp.Value != placeholder || facts.Interp.Capacity < len(placeholder) {
				t.Fatalf("after patchelf Interp = %+v, want value %q with capacity >= %d", facts.Interp, placeholder, len(placeholder))
			}
			paths := dynPaths(facts, dtags)
			if len(paths) != 1 || paths[0].Value != longPrefix || paths[0].Capacity != len(longPrefix) || paths[0].Shared {
				t.Fatalf("rpath entries = %+v, want one unshared %q", paths, longPrefix)
			}
			if out, err := runClean(prog); err == nil {
				t.Fatalf("program ran with a placeholder interpreter: %s", out)
			}

			writeString(t, prog, interpWriter{facts.Interp}, realInterp)
			if out, err := runClean(prog); err == nil {
				t.Fatalf("program found libgreet.so before its rpath was rewritten: %s", out)
			}
			writeString(t, prog, paths[0], "$ORIGIN/../lib")

			// Capacity recorded at build time stays valid; the read-back value
			// is the new one.
			after := readFactsFile(t, prog)
			if after.Interp.Value != realInterp || after.Interp.Offset != facts.Interp.Offset || after.Interp.Capacity != facts.Interp.Capacity {
				t.Errorf("after rewrite Interp = %+v", after.Interp)
			}
			if p := dynPaths(after, dtags); len(p) != 1 || p[0].Value != "$ORIGIN/../lib" || p[0].Offset != paths[0].Offset {
				t.Errorf("after rewrite rpath = %+v", p)
			}

			installRoot := filepath.Join(t.TempDir(), "elsewhere")
			if err := os.Rename(buildRoot, installRoot); err != nil {
				t.Fatal(err)
			}
			prog = filepath.Join(installRoot, "bin", "prog")
			out, err := runClean(prog)
			if err != nil || out != "greet=42\n" {
				t.Fatalf("relocated program: err=%v output=%q", err, out)
			}

			if _, err := exec.LookPath("readelf"); err != nil {
				t.Logf("readelf not found, skipping binutils cross-check: %v", err)
				return
			}
			if l := run(t, "readelf", "-l", prog); !strings.Contains(l, "[Requesting program interpreter: "+realInterp+"]") {
				t.Errorf("readelf -l does not show the rewritten interpreter:\n%s", l)
			}
			want := "Library rpath: [$ORIGIN/../lib]"
			if dtags == "--enable-new-dtags" {
				want = "Library runpath: [$ORIGIN/../lib]"
			}
			if d := run(t, "readelf", "-d", prog); !strings.Contains(d, want) {
				t.Errorf("readelf -d does not show %q:\n%s", want, d)
			}
		})
	}
}

// crossCheck compares the facts with what debug/elf reports through section headers.
func crossCheck(t *testing.T, path string, facts *Facts) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	needed, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(needed, facts.Needed) && !(len(needed) == 0 && len(facts.Needed) == 0) {
		t.Errorf("%s: Needed = %q, debug/elf says %q", path, facts.Needed, needed)
	}
	if soname, _ := f.DynString(elf.DT_SONAME); len(soname) > 0 && soname[0] != facts.Soname || len(soname) == 0 && facts.Soname != "" {
		t.Errorf("%s: Soname = %q, debug/elf says %q", path, facts.Soname, soname)
	}
	if facts.Type != f.Type {
		t.Errorf("%s: Type = %v, debug/elf says %v", path, facts.Type, f.Type)
	}
	for tag, got := range map[elf.DynTag][]DynString{elf.DT_RPATH: facts.RPath, elf.DT_RUNPATH: facts.RunPath} {
		want, err := f.DynString(tag)
		if err != nil {
			t.Fatal(err)
		}
		var values []string
		for _, s := range got {
			values = append(values, s.Value)
		}
		if !reflect.DeepEqual(values, want) && !(len(values) == 0 && len(want) == 0) {
			t.Errorf("%s: %v = %q, debug/elf says %q", path, tag, values, want)
		}
	}
}

// mergedTail reports whether a DT_NEEDED entry or a .dynsym name points inside
// the first DT_RPATH string, found independently through debug/elf.
func mergedTail(t *testing.T, path string) bool {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rp, err := f.DynValue(elf.DT_RPATH)
	if err != nil || len(rp) == 0 {
		t.Fatalf("no DT_RPATH in %s: %v", path, err)
	}
	strs, err := f.DynString(elf.DT_RPATH)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := f.DynValue(elf.DT_NEEDED)
	if err != nil {
		t.Fatal(err)
	}
	data, err := f.Section(".dynsym").Data()
	if err != nil {
		t.Fatal(err)
	}
	for b := data; len(b) >= 24; b = b[24:] {
		refs = append(refs, uint64(f.ByteOrder.Uint32(b)))
	}
	for _, r := range refs {
		if r > rp[0] && r < rp[0]+uint64(len(strs[0])) {
			return true
		}
	}
	return false
}

// TestELFSharedTail builds programs whose RPATH ends with a DT_NEEDED name
// or a dynamic symbol name, which GNU ld stores as one string.
func TestELFSharedTail(t *testing.T) {
	for _, rpath := range []string{"/opt/x/libgreet.so", "/opt/x/greet"} {
		t.Run(filepath.Base(rpath), func(t *testing.T) {
			prog, _ := buildGreet(t, t.TempDir(), rpath, "--disable-new-dtags")
			if !mergedTail(t, prog) {
				t.Skipf("skipping: the linker did not merge %q with another string", rpath)
			}
			facts := readFactsFile(t, prog)
			if len(facts.RPath) != 1 || facts.RPath[0].Value != rpath || !facts.RPath[0].Shared {
				t.Fatalf("RPath = %+v, want one shared %q", facts.RPath, rpath)
			}
			// Without section headers the symbol table is sized from DT_GNU_HASH.
			data, err := os.ReadFile(prog)
			if err != nil {
				t.Fatal(err)
			}
			noSections, err := ReadFacts(bytes.NewReader(dropSectionHeaders(t, data)))
			if err != nil || !reflect.DeepEqual(noSections, facts) {
				t.Errorf("without section headers: %+v, %v; want %+v", noSections, err, facts)
			}

			before := data
			f, err := os.OpenFile(prog, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			err = facts.RPath[0].Write(f, "/x")
			f.Close()
			if err == nil {
				t.Fatal("Write accepted a shared string")
			}
			if after, _ := os.ReadFile(prog); !bytes.Equal(before, after) {
				t.Error("refused write changed the file")
			}
		})
	}
}

// dropSectionHeaders returns a copy of a little-endian ELF64 file with e_shnum zeroed.
func dropSectionHeaders(tb testing.TB, data []byte) []byte {
	tb.Helper()
	if elf.Class(data[elf.EI_CLASS]) != elf.ELFCLASS64 || elf.Data(data[elf.EI_DATA]) != elf.ELFDATA2LSB {
		tb.Skip("skipping: the host toolchain does not produce little-endian ELF64")
	}
	c := bytes.Clone(data)
	binary.LittleEndian.PutUint16(c[60:], 0)
	return c
}

// TestELFFactsWithoutSectionHeaders checks that the program-header-only path
// (what the dynamic loader sees) agrees with the section-assisted one.
func TestELFFactsWithoutSectionHeaders(t *testing.T) {
	prog, lib := buildGreet(t, t.TempDir(), longPrefix, "--enable-new-dtags")
	for _, path := range []string{prog, lib} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want := readFactsFile(t, path)
		got, err := ReadFacts(bytes.NewReader(dropSectionHeaders(t, data)))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s without section headers: %+v, %v; want %+v", path, got, err, want)
		}
	}
}

func TestElfStringEnds(t *testing.T) {
	//            0         1
	//            0123456789012345678
	tab := []byte("\x00/x/libfoo.so\x00bar\x00")
	const rpath, rpathEnd = 1, 13
	tests := []struct {
		name   string
		others []uint64
		shared bool
	}{
		{"alone", []uint64{0, 14}, false},
		{"tail", []uint64{4}, true},           // "libfoo.so" inside "/x/libfoo.so"
		{"last byte", []uint64{12}, true},     // "o"
		{"same start", []uint64{rpath}, true}, // a second entry for the same string
		{"next string", []uint64{14, 16}, false},
		{"out of range", []uint64{100, uint64(len(tab))}, false},
	}
	for _, tt := range tests {
		ends := elfStringEnds(tab, append([]uint64{rpath}, tt.others...))
		if got := ends[rpathEnd] > 1; got != tt.shared {
			t.Errorf("%s: shared = %v, want %v (ends %v)", tt.name, got, tt.shared, ends)
		}
	}
	// A string without terminator overlaps nothing and is ignored.
	if ends := elfStringEnds([]byte("\x00abc"), []uint64{1, 2}); len(ends) != 0 {
		t.Errorf("unterminated strings counted: %v", ends)
	}
}

// synthSpec describes a minimal hand-built ELF: one PT_LOAD covering the
// file, PT_INTERP, PT_DYNAMIC, .dynstr, .dynsym with DT_HASH, optionally
// DT_VERNEED, and no section headers.
type synthSpec struct {
	class     elf.Class
	bo        binary.ByteOrder
	machine   elf.Machine
	interp    string
	interpCap int
	strtab    string
	dyns      []elfDyn // string-valued entries, values are .dynstr offsets
	syms      []uint32 // st_name of each symbol after the null one
	verneed   []uint32 // vn_file, then one vna_name per auxiliary entry
}

// synthELF builds the file and returns where each dynamic entry's value lives.
func synthELF(s synthSpec) (data []byte, valuePos map[elf.DynTag]int, hashOff int) {
	const base = 0x10000
	is64 := s.class == elf.ELFCLASS64
	word, ehsize, phentsize, symEnt := 4, 52, 32, 16
	if is64 {
		word, ehsize, phentsize, symEnt = 8, 64, 56, 24
	}
	align := func(n int) int { return (n + 7) &^ 7 }

	off := ehsize + 3*phentsize
	interpOff := off
	off += s.interpCap + 1
	strOff := off
	off = align(off + len(s.strtab))
	symOff := off
	off += (1 + len(s.syms)) * symEnt
	hashOff = off
	nsyms := 1 + len(s.syms)
	off += 4 * (3 + nsyms)
	verOff := off
	if len(s.verneed) > 0 {
		off += 16 * len(s.verneed)
	}
	dynOff := align(off)
	dyns := append([]elfDyn(nil), s.dyns...)
	dyns = append(dyns,
		elfDyn{elf.DT_STRTAB, base + uint64(strOff)},
		elfDyn{elf.DT_STRSZ, uint64(len(s.strtab))},
		elfDyn{elf.DT_SYMTAB, base + uint64(symOff)},
		elfDyn{elf.DT_HASH, base + uint64(hashOff)})
	if len(s.verneed) > 0 {
		dyns = append(dyns, elfDyn{elf.DT_VERNEED, base + uint64(verOff)}, elfDyn{elf.DT_VERNEEDNUM, 1})
	}
	dyns = append(dyns, elfDyn{elf.DT_NULL, 0})
	size := dynOff + len(dyns)*2*word
	b := make([]byte, size)

	put := func(at int, v uint64) {
		if is64 {
			s.bo.PutUint64(b[at:], v)
		} else {
			s.bo.PutUint32(b[at:], uint32(v))
		}
	}
	copy(b, elf.ELFMAG)
	b[elf.EI_CLASS] = byte(s.class)
	b[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	if s.bo == binary.BigEndian {
		b[elf.EI_DATA] = byte(elf.ELFDATA2MSB)
	}
	b[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	s.bo.PutUint16(b[16:], uint16(elf.ET_DYN))
	s.bo.PutUint16(b[18:], uint16(s.machine))
	s.bo.PutUint32(b[20:], uint32(elf.EV_CURRENT))
	phoffPos, rest := 28, 40
	if is64 {
		phoffPos, rest = 32, 52
	}
	put(phoffPos, uint64(ehsize))
	s.bo.PutUint16(b[rest:], uint16(ehsize))
	s.bo.PutUint16(b[rest+2:], uint16(phentsize))
	s.bo.PutUint16(b[rest+4:], 3)

	prog := func(i int, typ elf.ProgType, off, filesz int) {
		p := ehsize + i*phentsize
		s.bo.PutUint32(b[p:], uint32(typ))
		if is64 {
			s.bo.PutUint64(b[p+8:], uint64(off))
			s.bo.PutUint64(b[p+16:], base+uint64(off))
			s.bo.PutUint64(b[p+24:], base+uint64(off))
			s.bo.PutUint64(b[p+32:], uint64(filesz))
			s.bo.PutUint64(b[p+40:], uint64(filesz))
		} else {
			s.bo.PutUint32(b[p+4:], uint32(off))
			s.bo.PutUint32(b[p+8:], base+uint32(off))
			s.bo.PutUint32(b[p+12:], base+uint32(off))
			s.bo.PutUint32(b[p+16:], uint32(filesz))
			s.bo.PutUint32(b[p+20:], uint32(filesz))
		}
	}
	prog(0, elf.PT_LOAD, 0, size)
	prog(1, elf.PT_INTERP, interpOff, s.interpCap+1)
	copy(b[interpOff:], s.interp)
	prog(2, elf.PT_DYNAMIC, dynOff, len(dyns)*2*word)

	copy(b[strOff:], s.strtab)
	for i, name := range s.syms {
		s.bo.PutUint32(b[symOff+(i+1)*symEnt:], name)
	}
	// One bucket, chains all zero: enough for nchain to size the table.
	s.bo.PutUint32(b[hashOff:], 1)
	s.bo.PutUint32(b[hashOff+4:], uint32(nsyms))
	if len(s.verneed) > 0 {
		s.bo.PutUint16(b[verOff:], 1)
		s.bo.PutUint16(b[verOff+2:], uint16(len(s.verneed)-1))
		s.bo.PutUint32(b[verOff+4:], s.verneed[0])
		s.bo.PutUint32(b[verOff+8:], 16)
		for i, name := range s.verneed[1:] {
			a := verOff + 16 + 16*i
			s.bo.PutUint32(b[a+8:], name)
			if i+2 < len(s.verneed) {
				s.bo.PutUint32(b[a+12:], 16)
			}
		}
	}
	valuePos = map[elf.DynTag]int{}
	for i, d := range dyns {
		at := dynOff + i*2*word
		put(at, uint64(d.tag))
		put(at+word, d.val)
		valuePos[d.tag] = at + word
	}
	return b, valuePos, hashOff
}

// synthStrtab lays out .dynstr for the synthetic files:
//
//	1: /opt/a/lib      RUNPATH, unshared
//	12: /opt/b/libz.so RPATH, shared with DT_NEEDED "libz.so" at 19
//	27: /opt/c/puts    RPATH, shared with a symbol name "puts" at 34
//	39: /opt/d/V_1     RUNPATH, shared with a version name "V_1" at 46
//	50: libc.so.6      DT_NEEDED and vn_file
const synthStrtab = "\x00/opt/a/lib\x00/opt/b/libz.so\x00/opt/c/puts\x00/opt/d/V_1\x00libc.so.6\x00"

func synthVariants() []synthSpec {
	var specs []synthSpec
	for _, v := range []struct {
		class   elf.Class
		bo      binary.ByteOrder
		machine elf.Machine
	}{
		{elf.ELFCLASS64, binary.LittleEndian, elf.EM_X86_64},
		{elf.ELFCLASS64, binary.BigEndian, elf.EM_PPC64},
		{elf.ELFCLASS32, binary.LittleEndian, elf.EM_386},
		{elf.ELFCLASS32, binary.BigEndian, elf.EM_MIPS},
	} {
		specs = append(specs, synthSpec{
			class: v.class, bo: v.bo, machine: v.machine,
			interp: "/lib/ld.so", interpCap: 40,
			strtab: synthStrtab,
			dyns: []elfDyn{
				{elf.DT_NEEDED, 19}, {elf.DT_NEEDED, 50},
				{elf.DT_RUNPATH, 1}, {elf.DT_RPATH, 12}, {elf.DT_RPATH, 27}, {elf.DT_RUNPATH, 39},
			},
			syms:    []uint32{34, 0},
			verneed: []uint32{50, 46},
		})
	}
	return specs
}

func TestReadFactsSynthetic(t *testing.T) {
	for _, spec := range synthVariants() {
		t.Run(spec.class.String()+"-"+spec.bo.String(), func(t *testing.T) {
			data, _, _ := synthELF(spec)
			// debug/elf must accept the fixture, or it is not a fair test.
			if _, err := elf.NewFile(bytes.NewReader(data)); err != nil {
				t.Fatalf("debug/elf rejects the synthetic file: %v", err)
			}
			got, err := ReadFacts(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			strOff := int64(bytes.Index(data, []byte(synthStrtab)))
			str := func(off int64, value string, shared bool) DynString {
				return DynString{BinString: relocate.BinString{Offset: strOff + off, Capacity: len(value), Value: value}, Shared: shared}
			}
			want := &Facts{
				Interp:  &relocate.BinString{Offset: int64(bytes.Index(data, []byte("/lib/ld.so"))), Capacity: 40, Value: "/lib/ld.so"},
				RPath:   []DynString{str(12, "/opt/b/libz.so", true), str(27, "/opt/c/puts", true)},
				RunPath: []DynString{str(1, "/opt/a/lib", false), str(39, "/opt/d/V_1", true)},
				Needed:  []string{"libz.so", "libc.so.6"},
				Class:   spec.class,
				Machine: spec.machine,
				Type:    elf.ET_DYN,
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}

			// The sizeless reader path (size found by probing) agrees.
			if probed, err := ReadFacts(sizelessReader{bytes.NewReader(data)}); err != nil || !reflect.DeepEqual(probed, got) {
				t.Errorf("probed size: %+v, %v", probed, err)
			}

			// Rewriting in memory round-trips.
			buf := &memFile{b: bytes.Clone(data)}
			if err := got.RunPath[0].Write(buf, "$ORIGIN"); err != nil {
				t.Fatal(err)
			}
			if err := got.Interp.WriteNULPadded(buf, "/x/ld-linux.so"); err != nil {
				t.Fatal(err)
			}
			again, err := ReadFacts(bytes.NewReader(buf.b))
			if err != nil {
				t.Fatal(err)
			}
			if again.RunPath[0].Value != "$ORIGIN" || again.Interp.Value != "/x/ld-linux.so" || again.Interp.Capacity != 40 {
				t.Errorf("after rewrite: %+v", again)
			}
		})
	}
}

func TestWriteRefusals(t *testing.T) {
	data, _, _ := synthELF(synthVariants()[0])
	facts, err := ReadFacts(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	unshared := facts.RunPath[0]
	tests := []struct {
		name  string
		s     stringWriter
		value string
	}{
		{"too long", unshared, unshared.Value + "/"},
		{"interp too long", interpWriter{facts.Interp}, "/" + strings.Repeat("x", facts.Interp.Capacity)},
		{"shared", facts.RPath[0], "/x"},
		{"embedded NUL", unshared, "/a\x00b"},
	}
	for _, tt := range tests {
		buf := &memFile{b: bytes.Clone(data)}
		if err := tt.s.Write(buf, tt.value); err == nil {
			t.Errorf("%s: Write accepted %q", tt.name, tt.value)
		}
		if !bytes.Equal(buf.b, data) {
			t.Errorf("%s: refused write changed the file", tt.name)
		}
	}

	// Exactly at capacity is fine, and a shorter value leaves no stale tail.
	buf := &memFile{b: bytes.Clone(data)}
	exact := strings.Repeat("y", unshared.Capacity)
	if err := unshared.Write(buf, exact); err != nil {
		t.Fatal(err)
	}
	if err := unshared.Write(buf, "/z"); err != nil {
		t.Fatal(err)
	}
	if got := buf.b[unshared.Offset : unshared.Offset+int64(unshared.Capacity)+2]; !bytes.Equal(got, []byte("/z\x00\x00\x00\x00\x00\x00\x00\x00\x00/")) {
		t.Errorf("slot after shortening = %q", got)
	}
}

// TestStringTooLongFile checks the refusal on a real file on disk.
func TestStringTooLongFile(t *testing.T) {
	prog, _ := buildGreet(t, t.TempDir(), longPrefix, "--disable-new-dtags")
	before, err := os.ReadFile(prog)
	if err != nil {
		t.Fatal(err)
	}
	facts := readFactsFile(t, prog)
	f, err := os.OpenFile(prog, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := facts.RPath[0].Write(f, longPrefix+"x"); err == nil {
		t.Error("too-long rpath accepted")
	}
	if err := facts.Interp.WriteNULPadded(f, "/"+strings.Repeat("x", facts.Interp.Capacity)); err == nil {
		t.Error("too-long interpreter accepted")
	}
	if after, _ := os.ReadFile(prog); !bytes.Equal(before, after) {
		t.Error("refused writes changed the file")
	}
}

func TestReadFactsNotELF(t *testing.T) {
	for _, in := range []string{"", "\x7fEL", "#!/bin/sh\necho hi\n", "MZ\x90\x00"} {
		facts, err := ReadFacts(strings.NewReader(in))
		if facts != nil || err != nil {
			t.Errorf("ReadFacts(%q) = %+v, %v; want nil, nil", in, facts, err)
		}
	}
	// An I/O error is reported, not mistaken for "not ELF".
	dir, err := os.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	if _, err := ReadFacts(dir); err == nil {
		t.Error("reading a directory did not fail")
	}
	// Magic but nothing else is a broken ELF, not "not ELF".
	if _, err := ReadFacts(strings.NewReader("\x7fELF\x02\x01")); err == nil {
		t.Error("truncated ELF identification accepted")
	}
}

// TestReadFactsHugeClaims corrupts size fields so they claim far more data
// than the file holds: parsing must fail without allocating for the claim.
func TestReadFactsHugeClaims(t *testing.T) {
	data, valuePos, hashOff := synthELF(synthVariants()[0])
	tests := []struct {
		name  string
		patch func(b []byte)
	}{
		{"DT_STRSZ", func(b []byte) { binary.LittleEndian.PutUint64(b[valuePos[elf.DT_STRSZ]:], 1<<40) }},
		{"nchain", func(b []byte) { binary.LittleEndian.PutUint32(b[hashOff+4:], 1<<31) }},
		{"phnum", func(b []byte) {
			binary.LittleEndian.PutUint16(b[54:], 0xffff)
			binary.LittleEndian.PutUint16(b[56:], 0xffff)
		}},
		{"VERNEEDNUM", func(b []byte) { binary.LittleEndian.PutUint64(b[valuePos[elf.DT_VERNEEDNUM]:], 1<<62) }},
	}
	for _, tt := range tests {
		b := bytes.Clone(data)
		tt.patch(b)
		r := &recordingReader{r: bytes.NewReader(b)}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := ReadFacts(r)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%s: corrupt file accepted", tt.name)
		}
		if r.max > int64(max(len(b), elf.EI_NIDENT)) {
			t.Errorf("%s: read request of %d bytes from a %d-byte file", tt.name, r.max, len(b))
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("%s: allocated %d bytes for a %d-byte file", tt.name, grew, len(b))
		}
	}
}

// sizelessReader hides Size so ReadFacts has to probe for the end.
type sizelessReader struct{ r io.ReaderAt }

func (s sizelessReader) ReadAt(p []byte, off int64) (int, error) { return s.r.ReadAt(p, off) }

// recordingReader remembers the largest read request.
type recordingReader struct {
	r   *bytes.Reader
	max int64
}

func (r *recordingReader) ReadAt(p []byte, off int64) (int, error) {
	r.max = max(r.max, int64(len(p)))
	return r.r.ReadAt(p, off)
}

func (r *recordingReader) Size() int64 { return r.r.Size() }

// memFile is an in-memory io.WriterAt that refuses to grow.
type memFile struct{ b []byte }

func (m *memFile) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, errors.New("write past end of file")
	}
	return copy(m.b[off:], p), nil
}

func FuzzReadFacts(f *testing.F) {
	var seeds [][]byte
	for _, spec := range synthVariants() {
		data, _, _ := synthELF(spec)
		seeds = append(seeds, data)
	}
	if _, err := exec.LookPath("gcc"); err == nil {
		prog, lib := buildGreet(f, f.TempDir(), longPrefix, "--enable-new-dtags")
		for _, path := range []string{prog, lib} {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			seeds = append(seeds, data)
		}
	} else {
		f.Logf("gcc not found, fuzzing from synthetic seeds only: %v", err)
	}
	for _, s := range seeds {
		f.Add(s)
		for _, n := range []int{0, 4, 16, 52, 64, 120, len(s) / 2, len(s) - 1} {
			if n >= 0 && n < len(s) {
				f.Add(s[:n])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &recordingReader{r: bytes.NewReader(data)}
		facts, err := ReadFacts(r)
		// The identification is always read whole; everything else is bounded.
		if r.max > int64(max(len(data), elf.EI_NIDENT)) {
			t.Fatalf("read request of %d bytes from a %d-byte input", r.max, len(data))
		}
		probed, perr := ReadFacts(sizelessReader{bytes.NewReader(data)})
		if (err == nil) != (perr == nil) || !reflect.DeepEqual(facts, probed) {
			t.Fatalf("size-probing reader disagrees: %+v, %v vs %+v, %v", probed, perr, facts, err)
		}
		if err != nil {
			return
		}
		if facts == nil {
			if elfmagic.Is(data) {
				t.Fatal("ELF magic reported as non-ELF")
			}
			return
		}
		var strs []relocate.BinString
		for _, s := range append(slices.Clone(facts.RPath), facts.RunPath...) {
			strs = append(strs, s.BinString)
		}
		if facts.Interp != nil {
			strs = append(strs, *facts.Interp)
		}
		for _, s := range strs {
			if s.Offset < 0 || s.Capacity < len(s.Value) || s.Offset+int64(s.Capacity)+1 > int64(len(data)) {
				t.Fatalf("string slot %+v outside the %d-byte input", s, len(data))
			}
		}
		// Rewriting a .dynstr string with its own value must be a no-op.
		for _, s := range append(slices.Clone(facts.RPath), facts.RunPath...) {
			if s.Shared {
				continue
			}
			buf := &memFile{b: bytes.Clone(data)}
			if err := s.Write(buf, s.Value); err != nil {
				t.Fatalf("rewriting %+v: %v", s, err)
			}
			if !bytes.Equal(buf.b, data) {
				t.Fatalf("rewriting %+v with its own value changed the input", s)
			}
		}
	})
}
