// Package elfscan reads ELF files at build time: the path-bearing fields the
// dynamic loader uses (PT_INTERP, DT_RPATH, DT_RUNPATH, DT_NEEDED) and the
// references from code and data into strings, which bound how a string may be
// rewritten in place. Only program headers and the dynamic segment are trusted.
// The installer never links it: what it writes is relocate.BinString.
package elfscan

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"

	"github.com/terrapack/terrapack/internal/elfmagic"
	"github.com/terrapack/terrapack/relocate"
)

// Facts describes the path-bearing fields of one ELF file that can be rewritten in place.
type Facts struct {
	// Interp is PT_INTERP, nil if none; its capacity is p_filesz-1.
	Interp  *relocate.BinString
	RPath   []DynString // DT_RPATH entries (usually 0 or 1)
	RunPath []DynString // DT_RUNPATH entries
	Needed  []string    // DT_NEEDED names, in order
	Soname  string      // DT_SONAME, "" if none
	Class   elf.Class
	Machine elf.Machine
	Type    elf.Type
}

// DynString is a .dynstr string: its capacity is its current length, since
// trailing NULs may belong to strings we cannot see.
type DynString struct {
	relocate.BinString
	// Shared is true when another string (DT_NEEDED, DT_SONAME, a .dynsym
	// name, a version name, ...) overlaps this string's bytes, so rewriting it
	// in place would corrupt the other one.
	Shared bool
}

// Write overwrites s in place with value, NUL-padded; a shared string is refused.
func (s DynString) Write(w io.WriterAt, value string) error {
	if s.Shared {
		return fmt.Errorf("refusing to rewrite %q at offset %d: its bytes are shared with another string", s.Value, s.Offset)
	}
	return s.BinString.WriteNULPadded(w, value)
}

// ReadFacts parses r (an ELF file of any class/endianness Go's debug/elf
// supports). Non-ELF input returns (nil, nil) so callers can probe any file
// cheaply; a broken ELF returns an error with context.
//
// Only program headers and the dynamic segment are trusted (that is what the
// dynamic loader uses); section headers only help to size .dynsym.
func ReadFacts(r io.ReaderAt) (*Facts, error) {
	p, err := openELF(r)
	if p == nil || err != nil {
		return nil, err
	}
	return p.facts()
}

// openELF reads the identification, header and program headers of r;
// (nil, nil) when r is not ELF.
func openELF(r io.ReaderAt) (*elfParser, error) {
	var ident [elf.EI_NIDENT]byte
	n, err := r.ReadAt(ident[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("failed to read ELF identification: %w", err)
	}
	if !elfmagic.Is(ident[:n]) {
		return nil, nil
	}
	if n < len(ident) {
		return nil, fmt.Errorf("truncated ELF identification: %d of %d bytes", n, len(ident))
	}
	size, err := elfReaderSize(r)
	if err != nil {
		return nil, fmt.Errorf("failed to determine file size: %w", err)
	}
	p := &elfParser{r: r, size: size, class: elf.Class(ident[elf.EI_CLASS])}
	switch elf.Data(ident[elf.EI_DATA]) {
	case elf.ELFDATA2LSB:
		p.bo = binary.LittleEndian
	case elf.ELFDATA2MSB:
		p.bo = binary.BigEndian
	default:
		return nil, fmt.Errorf("unsupported ELF data encoding %d", ident[elf.EI_DATA])
	}
	if p.class != elf.ELFCLASS32 && p.class != elf.ELFCLASS64 {
		return nil, fmt.Errorf("unsupported ELF class %d", ident[elf.EI_CLASS])
	}
	if err := p.header(); err != nil {
		return nil, err
	}
	return p, nil
}

// elfParser reads the fields of one ELF file with bounds checked against its size.
type elfParser struct {
	r     io.ReaderAt
	size  int64
	bo    binary.ByteOrder
	class elf.Class

	typ                     elf.Type
	machine                 elf.Machine
	shoff, shentsize, shnum uint64
	progs                   []elfSegment
	loads                   []elfSegment // PT_LOAD, to map virtual addresses to file offsets
}

type elfSegment struct {
	typ                elf.ProgType
	flags              elf.ProgFlag
	off, vaddr, filesz uint64
}

// elfDyn is one dynamic entry.
type elfDyn struct {
	tag elf.DynTag
	val uint64
}

func (p *elfParser) is64() bool { return p.class == elf.ELFCLASS64 }

// word reads an address-sized field at off in b.
func (p *elfParser) word(b []byte, off int) uint64 {
	if p.is64() {
		return p.bo.Uint64(b[off:])
	}
	return uint64(p.bo.Uint32(b[off:]))
}

// read returns n bytes at off; n is checked against the file size before
// allocating, so a corrupt header cannot trigger a huge allocation.
func (p *elfParser) read(off, n uint64, what string) ([]byte, error) {
	if off > uint64(p.size) || n > uint64(p.size)-off {
		return nil, fmt.Errorf("%s (offset %d, size %d) lies outside the %d-byte file", what, off, n, p.size)
	}
	buf := make([]byte, n)
	if _, err := p.r.ReadAt(buf, int64(off)); err != nil && !(errors.Is(err, io.EOF) && n == 0) {
		return nil, fmt.Errorf("failed to read %s: %w", what, err)
	}
	return buf, nil
}

// header reads the ELF header and the program headers.
func (p *elfParser) header() error {
	hdrSize := uint64(52)
	if p.is64() {
		hdrSize = 64
	}
	hdr, err := p.read(0, hdrSize, "ELF header")
	if err != nil {
		return err
	}
	p.typ, p.machine = elf.Type(p.bo.Uint16(hdr[16:])), elf.Machine(p.bo.Uint16(hdr[18:]))
	// Offsets of e_phoff, e_shoff and e_phentsize differ between classes.
	var phoff uint64
	var rest []byte
	if p.is64() {
		phoff, p.shoff, rest = p.bo.Uint64(hdr[32:]), p.bo.Uint64(hdr[40:]), hdr[52:]
	} else {
		phoff, p.shoff, rest = uint64(p.bo.Uint32(hdr[28:])), uint64(p.bo.Uint32(hdr[32:])), hdr[40:]
	}
	phentsize, phnum := uint64(p.bo.Uint16(rest[2:])), uint64(p.bo.Uint16(rest[4:]))
	p.shentsize, p.shnum = uint64(p.bo.Uint16(rest[6:])), uint64(p.bo.Uint16(rest[8:]))
	if p.progs, err = p.readProgs(phoff, phentsize, phnum); err != nil {
		return err
	}
	for _, prog := range p.progs {
		if prog.typ == elf.PT_LOAD {
			p.loads = append(p.loads, prog)
		}
	}
	return nil
}

func (p *elfParser) facts() (*Facts, error) {
	facts := &Facts{Class: p.class, Machine: p.machine, Type: p.typ}
	var dynSeg *elfSegment
	for i := range p.progs {
		switch prog := &p.progs[i]; prog.typ {
		case elf.PT_INTERP:
			if facts.Interp != nil {
				return nil, errors.New("more than one PT_INTERP segment")
			}
			var err error
			if facts.Interp, err = p.readInterp(prog); err != nil {
				return nil, err
			}
		case elf.PT_DYNAMIC:
			if dynSeg == nil {
				dynSeg = prog
			}
		}
	}
	if dynSeg == nil {
		return facts, nil
	}
	if err := p.readDynamic(facts, dynSeg); err != nil {
		return nil, err
	}
	return facts, nil
}

func (p *elfParser) readProgs(phoff, phentsize, phnum uint64) ([]elfSegment, error) {
	if phnum == 0 {
		return nil, nil
	}
	minSize := uint64(32)
	if p.is64() {
		minSize = 56
	}
	if phentsize < minSize {
		return nil, fmt.Errorf("program header entry size %d is smaller than %d", phentsize, minSize)
	}
	buf, err := p.read(phoff, phentsize*phnum, "program headers")
	if err != nil {
		return nil, err
	}
	progs := make([]elfSegment, phnum)
	for i := range progs {
		b := buf[uint64(i)*phentsize:]
		progs[i].typ = elf.ProgType(p.bo.Uint32(b))
		if p.is64() {
			progs[i].flags = elf.ProgFlag(p.bo.Uint32(b[4:]))
			progs[i].off, progs[i].vaddr, progs[i].filesz = p.bo.Uint64(b[8:]), p.bo.Uint64(b[16:]), p.bo.Uint64(b[32:])
		} else {
			progs[i].off, progs[i].vaddr, progs[i].filesz = uint64(p.bo.Uint32(b[4:])), uint64(p.bo.Uint32(b[8:])), uint64(p.bo.Uint32(b[16:]))
			progs[i].flags = elf.ProgFlag(p.bo.Uint32(b[24:]))
		}
	}
	return progs, nil
}

func (p *elfParser) readInterp(prog *elfSegment) (*relocate.BinString, error) {
	if prog.filesz == 0 {
		return nil, errors.New("empty PT_INTERP segment")
	}
	buf, err := p.read(prog.off, prog.filesz, "PT_INTERP segment")
	if err != nil {
		return nil, err
	}
	end := bytes.IndexByte(buf, 0)
	if end < 0 {
		return nil, errors.New("PT_INTERP segment is not NUL-terminated")
	}
	return &relocate.BinString{Offset: int64(prog.off), Capacity: len(buf) - 1, Value: string(buf[:end])}, nil
}

// fileOffset maps a virtual address to a file offset through the PT_LOAD segments.
func (p *elfParser) fileOffset(vaddr uint64) (uint64, bool) {
	for _, l := range p.loads {
		if vaddr >= l.vaddr && vaddr-l.vaddr < l.filesz {
			return l.off + (vaddr - l.vaddr), true
		}
	}
	return 0, false
}

// dynamics reads the entries of the dynamic segment up to DT_NULL.
func (p *elfParser) dynamics(seg *elfSegment) ([]elfDyn, error) {
	buf, err := p.read(seg.off, seg.filesz, "dynamic segment")
	if err != nil {
		return nil, err
	}
	entSize := 8
	if p.is64() {
		entSize = 16
	}
	var dyns []elfDyn
	for b := buf; len(b) >= entSize; b = b[entSize:] {
		d := elfDyn{tag: elf.DynTag(p.word(b, 0)), val: p.word(b, entSize/2)}
		if d.tag == elf.DT_NULL {
			break
		}
		dyns = append(dyns, d)
	}
	return dyns, nil
}

func (p *elfParser) readDynamic(facts *Facts, seg *elfSegment) error {
	dyns, err := p.dynamics(seg)
	if err != nil {
		return err
	}
	addr := map[elf.DynTag]uint64{}
	for _, d := range dyns {
		switch d.tag {
		case elf.DT_STRTAB, elf.DT_STRSZ, elf.DT_SYMTAB, elf.DT_HASH, elf.DT_GNU_HASH,
			elf.DT_VERNEED, elf.DT_VERNEEDNUM, elf.DT_VERDEF, elf.DT_VERDEFNUM:
			addr[d.tag] = d.val
		}
	}

	var strOffs []uint64 // every reference into .dynstr, for overlap detection
	for _, d := range dyns {
		if isDynStringTag(d.tag) {
			strOffs = append(strOffs, d.val)
		}
	}
	if len(strOffs) == 0 {
		return nil
	}
	strVaddr, ok := addr[elf.DT_STRTAB]
	if !ok {
		return errors.New("dynamic segment has string entries but no DT_STRTAB")
	}
	strOff, ok := p.fileOffset(strVaddr)
	if !ok {
		return fmt.Errorf("DT_STRTAB address %#x is not in any PT_LOAD segment", strVaddr)
	}
	strtab, err := p.read(strOff, addr[elf.DT_STRSZ], "dynamic string table")
	if err != nil {
		return err
	}

	symOffs, complete, err := p.symbolNames(addr)
	if err != nil {
		return err
	}
	verOffs, err := p.versionNames(addr)
	if err != nil {
		return err
	}
	ends := elfStringEnds(strtab, append(append(strOffs, symOffs...), verOffs...))

	for _, d := range dyns {
		if d.tag != elf.DT_NEEDED && d.tag != elf.DT_SONAME && d.tag != elf.DT_RPATH && d.tag != elf.DT_RUNPATH {
			continue
		}
		end, ok := elfStringEnd(strtab, d.val)
		if !ok {
			return fmt.Errorf("%v string offset %d is outside the %d-byte dynamic string table", d.tag, d.val, len(strtab))
		}
		value := string(strtab[d.val:end])
		switch d.tag {
		case elf.DT_NEEDED:
			facts.Needed = append(facts.Needed, value)
			continue
		case elf.DT_SONAME:
			facts.Soname = value
			continue
		}
		s := DynString{
			BinString: relocate.BinString{Offset: int64(strOff + d.val), Capacity: len(value), Value: value},
			// The entry itself accounts for one reference; when the symbol
			// table could not be sized, assume the worst.
			Shared: ends[end] > 1 || !complete,
		}
		if d.tag == elf.DT_RPATH {
			facts.RPath = append(facts.RPath, s)
		} else {
			facts.RunPath = append(facts.RunPath, s)
		}
	}
	return nil
}

// isDynStringTag reports whether a dynamic entry's value is a .dynstr offset.
func isDynStringTag(tag elf.DynTag) bool {
	switch tag {
	case elf.DT_NEEDED, elf.DT_SONAME, elf.DT_RPATH, elf.DT_RUNPATH,
		elf.DT_AUXILIARY, elf.DT_FILTER, elf.DT_CONFIG, elf.DT_DEPAUDIT, elf.DT_AUDIT:
		return true
	}
	return false
}

// elfStringEnd returns the index of the NUL terminating the string at off.
func elfStringEnd(tab []byte, off uint64) (uint64, bool) {
	if off >= uint64(len(tab)) {
		return 0, false
	}
	i := bytes.IndexByte(tab[off:], 0)
	if i < 0 {
		return 0, false
	}
	return off + uint64(i), true
}

// elfStringEnds counts references per terminating NUL. Two strings of a
// NUL-terminated table overlap exactly when they end at the same NUL (linkers
// merge tails: "libfoo.so" may point inside "/x/libfoo.so"), so a string is
// shared when more than one reference ends where it does. References outside
// the table or without a terminator cannot overlap a terminated string and
// are skipped.
//
// Offsets are visited in order so each byte is scanned once: a table with
// many symbols and long strings must not take quadratic time.
func elfStringEnds(tab []byte, offs []uint64) map[uint64]int {
	sorted := slices.Clone(offs)
	slices.Sort(sorted)
	ends := make(map[uint64]int)
	end, found := uint64(0), false // the terminator of the previous offset
	for _, off := range sorted {
		if !found || off > end {
			if off >= uint64(len(tab)) {
				break
			}
			i := bytes.IndexByte(tab[off:], 0)
			if i < 0 {
				break
			}
			end, found = off+uint64(i), true
		}
		ends[end]++
	}
	return ends
}

// symbolNames returns the name offsets of all dynamic symbols. complete is
// false when the symbol table exists but its size cannot be determined.
func (p *elfParser) symbolNames(addr map[elf.DynTag]uint64) (offs []uint64, complete bool, err error) {
	symVaddr, ok := addr[elf.DT_SYMTAB]
	if !ok {
		return nil, true, nil
	}
	symOff, ok := p.fileOffset(symVaddr)
	if !ok {
		return nil, false, fmt.Errorf("DT_SYMTAB address %#x is not in any PT_LOAD segment", symVaddr)
	}
	entSize := uint64(16)
	if p.is64() {
		entSize = 24
	}
	count, ok, err := p.symbolCount(addr, symVaddr)
	if err != nil || !ok {
		return nil, false, err
	}
	if count > uint64(p.size)/entSize {
		return nil, false, fmt.Errorf("symbol count %d does not fit in the %d-byte file", count, p.size)
	}
	buf, err := p.read(symOff, count*entSize, "dynamic symbol table")
	if err != nil {
		return nil, false, err
	}
	// st_name is the first 32-bit field in both classes.
	offs = make([]uint64, 0, count)
	for b := buf; len(b) >= int(entSize); b = b[entSize:] {
		offs = append(offs, uint64(p.bo.Uint32(b)))
	}
	return offs, true, nil
}

// symbolCount sizes the dynamic symbol table from the SHT_DYNSYM section
// header, else from DT_HASH, else from DT_GNU_HASH.
func (p *elfParser) symbolCount(addr map[elf.DynTag]uint64, symVaddr uint64) (uint64, bool, error) {
	if n, ok := p.dynsymSectionCount(symVaddr); ok {
		return n, true, nil
	}
	if v, ok := addr[elf.DT_HASH]; ok {
		off, ok := p.fileOffset(v)
		if !ok {
			return 0, false, fmt.Errorf("DT_HASH address %#x is not in any PT_LOAD segment", v)
		}
		// nchain equals the number of symbols.
		b, err := p.read(off, 8, "DT_HASH header")
		if err != nil {
			return 0, false, err
		}
		return uint64(p.bo.Uint32(b[4:])), true, nil
	}
	if v, ok := addr[elf.DT_GNU_HASH]; ok {
		off, ok := p.fileOffset(v)
		if !ok {
			return 0, false, fmt.Errorf("DT_GNU_HASH address %#x is not in any PT_LOAD segment", v)
		}
		n, err := p.gnuHashCount(off)
		return n, err == nil, err
	}
	return 0, false, nil
}

// dynsymSectionCount uses section headers when present; they are optional,
// so any inconsistency just means "unknown".
func (p *elfParser) dynsymSectionCount(symVaddr uint64) (uint64, bool) {
	shoff, shentsize, shnum := p.shoff, p.shentsize, p.shnum
	minSize := uint64(40)
	if p.is64() {
		minSize = 64
	}
	if shoff == 0 || shnum == 0 || shentsize < minSize {
		return 0, false
	}
	buf, err := p.read(shoff, shentsize*shnum, "section headers")
	if err != nil {
		return 0, false
	}
	for i := uint64(0); i < shnum; i++ {
		b := buf[i*shentsize:]
		if elf.SectionType(p.bo.Uint32(b[4:])) != elf.SHT_DYNSYM {
			continue
		}
		var shAddr, shSize, shEntsize uint64
		if p.is64() {
			shAddr, shSize, shEntsize = p.bo.Uint64(b[16:]), p.bo.Uint64(b[32:]), p.bo.Uint64(b[56:])
		} else {
			shAddr, shSize, shEntsize = uint64(p.bo.Uint32(b[12:])), uint64(p.bo.Uint32(b[20:])), uint64(p.bo.Uint32(b[36:]))
		}
		if shAddr == symVaddr && shEntsize != 0 {
			return shSize / shEntsize, true
		}
	}
	return 0, false
}

// gnuHashCount finds the highest symbol index reachable through a GNU hash table.
func (p *elfParser) gnuHashCount(off uint64) (uint64, error) {
	hdr, err := p.read(off, 16, "DT_GNU_HASH header")
	if err != nil {
		return 0, err
	}
	nbuckets, symoffset, bloomSize := uint64(p.bo.Uint32(hdr)), uint64(p.bo.Uint32(hdr[4:])), uint64(p.bo.Uint32(hdr[8:]))
	bloomWord := uint64(4)
	if p.is64() {
		bloomWord = 8
	}
	bucketsOff := off + 16 + bloomSize*bloomWord
	if bloomSize > uint64(p.size) || nbuckets > uint64(p.size)/4 {
		return 0, fmt.Errorf("DT_GNU_HASH table (%d buckets, %d bloom words) does not fit in the %d-byte file", nbuckets, bloomSize, p.size)
	}
	buckets, err := p.read(bucketsOff, nbuckets*4, "DT_GNU_HASH buckets")
	if err != nil {
		return 0, err
	}
	var last uint64
	for b := buckets; len(b) >= 4; b = b[4:] {
		last = max(last, uint64(p.bo.Uint32(b)))
	}
	if last < symoffset {
		return symoffset, nil
	}
	// Walk the chain of the last bucket until its end marker (low bit set),
	// in bounded chunks: the chain may run to the end of a large file.
	off = bucketsOff + nbuckets*4 + (last-symoffset)*4
	for i := last; ; {
		n := min(4096, (uint64(p.size)-min(off, uint64(p.size)))&^3)
		if n == 0 {
			return 0, errors.New("DT_GNU_HASH chain runs past the end of the file")
		}
		chunk, err := p.read(off, n, "DT_GNU_HASH chain")
		if err != nil {
			return 0, err
		}
		for b := chunk; len(b) >= 4; b = b[4:] {
			i++
			if p.bo.Uint32(b)&1 != 0 {
				return i, nil
			}
		}
		off += n
	}
}

// versionNames returns the .dynstr offsets used by DT_VERNEED and DT_VERDEF.
func (p *elfParser) versionNames(addr map[elf.DynTag]uint64) ([]uint64, error) {
	var offs []uint64
	// A walk can visit at most one 8-byte record per 8 bytes of file; a
	// corrupt chain that loops is cut off there.
	budget := uint64(p.size)/8 + 1
	step := func() error {
		if budget == 0 {
			return errors.New("version table chain is longer than the file")
		}
		budget--
		return nil
	}
	if v, ok := addr[elf.DT_VERNEED]; ok {
		off, ok := p.fileOffset(v)
		if !ok {
			return nil, fmt.Errorf("DT_VERNEED address %#x is not in any PT_LOAD segment", v)
		}
		for i := uint64(0); i < addr[elf.DT_VERNEEDNUM]; i++ {
			if err := step(); err != nil {
				return nil, err
			}
			// Elf_Verneed: vn_version, vn_cnt (16 bits), vn_file, vn_aux, vn_next (32 bits).
			vn, err := p.read(off, 16, "version need entry")
			if err != nil {
				return nil, err
			}
			offs = append(offs, uint64(p.bo.Uint32(vn[4:])))
			aux := off + uint64(p.bo.Uint32(vn[8:]))
			for j := uint16(0); j < p.bo.Uint16(vn[2:]); j++ {
				if err := step(); err != nil {
					return nil, err
				}
				// Elf_Vernaux: vna_hash, vna_flags, vna_other, vna_name, vna_next.
				vna, err := p.read(aux, 16, "version need auxiliary entry")
				if err != nil {
					return nil, err
				}
				offs = append(offs, uint64(p.bo.Uint32(vna[8:])))
				aux += uint64(p.bo.Uint32(vna[12:]))
			}
			off += uint64(p.bo.Uint32(vn[12:]))
		}
	}
	if v, ok := addr[elf.DT_VERDEF]; ok {
		off, ok := p.fileOffset(v)
		if !ok {
			return nil, fmt.Errorf("DT_VERDEF address %#x is not in any PT_LOAD segment", v)
		}
		for i := uint64(0); i < addr[elf.DT_VERDEFNUM]; i++ {
			if err := step(); err != nil {
				return nil, err
			}
			// Elf_Verdef: vd_version, vd_flags, vd_ndx, vd_cnt (16 bits), vd_hash, vd_aux, vd_next (32 bits).
			vd, err := p.read(off, 20, "version definition entry")
			if err != nil {
				return nil, err
			}
			aux := off + uint64(p.bo.Uint32(vd[12:]))
			for j := uint16(0); j < p.bo.Uint16(vd[6:]); j++ {
				if err := step(); err != nil {
					return nil, err
				}
				// Elf_Verdaux: vda_name, vda_next.
				vda, err := p.read(aux, 8, "version definition auxiliary entry")
				if err != nil {
					return nil, err
				}
				offs = append(offs, uint64(p.bo.Uint32(vda)))
				aux += uint64(p.bo.Uint32(vda[4:]))
			}
			off += uint64(p.bo.Uint32(vd[16:]))
		}
	}
	return offs, nil
}

// elfReaderSize finds the size of r, probing with ReadAt when r does not say.
func elfReaderSize(r io.ReaderAt) (int64, error) {
	switch v := r.(type) {
	case interface{ Size() int64 }:
		return v.Size(), nil
	case interface{ Stat() (fs.FileInfo, error) }:
		fi, err := v.Stat()
		if err != nil {
			return 0, err
		}
		if fi.Mode().IsRegular() {
			return fi.Size(), nil
		}
	}
	// Exponential then binary search for the first offset that cannot be read.
	var b [1]byte
	readable := func(off int64) (bool, error) {
		n, err := r.ReadAt(b[:], off)
		if n == 1 {
			return true, nil
		}
		if err == nil || errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, err
	}
	lo, hi := int64(0), int64(1) // lo is readable size, hi is a candidate past the end
	for {
		ok, err := readable(hi - 1)
		if err != nil {
			return 0, err
		}
		if !ok {
			break
		}
		lo = hi
		if hi > 1<<61 {
			return 0, errors.New("reader has no end")
		}
		hi *= 2
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		ok, err := readable(mid - 1)
		if err != nil {
			return 0, err
		}
		if ok {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}
