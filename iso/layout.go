package iso

import (
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math"
	"slices"
	"strings"
	"time"
)

// node is one file, directory or symlink of the image.
type node struct {
	name     string // real name, kept by Rock Ridge; "" for the root
	path     string // image path, for error messages
	mode     fs.FileMode
	size     int64
	target   string
	open     func() (io.ReadCloser, error)
	explicit bool // given as an Entry, not only implied by a child's path

	children []*node // sorted by real name
	byName   map[string]*node

	isoID, jolietID string // identifiers in the primary and Joliet trees
	dataLBA         uint32
	extentSize      int64 // largest extent of a multi-extent file
}

// extents is the number of directory records describing a file.
func (n *node) extents() int {
	return max(1, int((n.size+n.extentSize-1)/n.extentSize))
}

// extent returns the location and length of extent i of a file.
func (n *node) extent(i int) (lba, length uint32) {
	if n.size == 0 {
		return 0, 0 // empty files own no sector
	}
	off := int64(i) * n.extentSize
	return n.dataLBA + uint32(off/sectorSize), uint32(min(n.extentSize, n.size-off))
}

// nlink is the POSIX link count: directories count "." and the ".." of
// each subdirectory.
func (n *node) nlink() uint32 {
	if !n.mode.IsDir() {
		return 1
	}
	links := uint32(2)
	for _, c := range n.children {
		if c.mode.IsDir() {
			links++
		}
	}
	return links
}

// buildTree validates entries and arranges them in a tree, creating
// missing parent directories with mode 0755.
func buildTree(entries []Entry) (*node, error) {
	root := &node{mode: fs.ModeDir | 0o755, byName: map[string]*node{}}
	for _, e := range entries {
		if e.Path == "." || !fs.ValidPath(e.Path) || strings.ContainsRune(e.Path, 0) {
			return nil, fmt.Errorf("invalid image path %q", e.Path)
		}
		if err := checkEntry(e); err != nil {
			return nil, err
		}
		dir := root
		elems := strings.Split(e.Path, "/")
		for i, name := range elems {
			if len(name) > 255 {
				return nil, fmt.Errorf("invalid image path %q: name %q is longer than 255 bytes", e.Path, name)
			}
			child := dir.byName[name]
			last := i == len(elems)-1
			switch {
			case child == nil:
				child = &node{name: name, path: strings.Join(elems[:i+1], "/"), mode: fs.ModeDir | 0o755}
				dir.byName[name] = child
			case !child.mode.IsDir() && !last:
				return nil, fmt.Errorf("invalid image path %q: %q is not a directory", e.Path, child.path)
			case last && (child.explicit || !e.Mode.IsDir()):
				return nil, fmt.Errorf("duplicate image path %q", e.Path)
			}
			if last {
				child.mode, child.explicit = e.Mode, true
				switch {
				case e.Mode.IsRegular():
					child.size, child.open = e.Size, e.Open
				case e.Mode&fs.ModeSymlink != 0:
					child.target = e.Target
				}
			}
			if child.mode.IsDir() && child.byName == nil {
				child.byName = map[string]*node{}
			}
			dir = child
		}
	}
	sortTree(root)
	return root, nil
}

// checkEntry rejects entries the image cannot represent.
func checkEntry(e Entry) error {
	switch {
	case e.Mode.IsDir():
	case e.Mode&fs.ModeSymlink != 0:
		if e.Target == "" {
			return fmt.Errorf("symlink %q has no target", e.Path)
		}
	case e.Mode.IsRegular():
		if e.Size < 0 {
			return fmt.Errorf("file %q has negative size %d", e.Path, e.Size)
		}
		if e.Open == nil && e.Size > 0 {
			return fmt.Errorf("file %q has no Open function", e.Path)
		}
	default:
		return fmt.Errorf("file %q has unsupported type %v", e.Path, e.Mode.Type())
	}
	return nil
}

// sortTree fills children in real-name order and assigns identifiers.
func sortTree(n *node) {
	for _, c := range n.byName {
		n.children = append(n.children, c)
	}
	slices.SortFunc(n.children, func(a, b *node) int { return strings.Compare(a.name, b.name) })
	n.byName = nil
	assignNames(n.children)
	for _, c := range n.children {
		if c.mode.IsDir() {
			sortTree(c)
		}
	}
}

// tree is the directory hierarchy as recorded for one volume descriptor:
// the primary tree (with Rock Ridge) or the Joliet tree.
type tree struct {
	joliet bool
	dirs   []*directory // path table order; dirs[0] is the root

	pathTableSize      uint32
	lPathLBA, mPathLBA uint32
}

// directory is one directory extent.
type directory struct {
	node    *node
	parent  *directory
	number  uint16 // path table record number
	ident   []byte // identifier as recorded in the parent
	records []*record
	lba     uint32
	size    uint32 // whole sectors
}

// record is one directory record: of a directory (dir set) or of
// extent part of a regular file or symlink (file set).
type record struct {
	ident []byte
	dir   *directory
	file  *node
	part  int
	su    *systemUse // Rock Ridge; nil in the Joliet tree
}

// node is the node the record describes.
func (r *record) node() *node {
	if r.dir != nil {
		return r.dir.node
	}
	return r.file
}

func (r *record) size() int {
	if r.su == nil {
		return recordLen(len(r.ident), 0)
	}
	return recordLen(len(r.ident), r.su.size())
}

// newTree lays out directories breadth first, which is the order path
// tables need: by level, then parent number, then identifier.
func newTree(root *node, joliet bool, t time.Time) (*tree, error) {
	tr := &tree{joliet: joliet}
	rootDir := &directory{node: root, ident: []byte{0}}
	rootDir.parent = rootDir
	tr.dirs = append(tr.dirs, rootDir)
	for i := 0; i < len(tr.dirs); i++ {
		d := tr.dirs[i]
		if i >= math.MaxUint16 {
			return nil, fmt.Errorf("too many directories: the limit is %d", math.MaxUint16)
		}
		d.number = uint16(i + 1)
		d.records = []*record{{ident: []byte{0}, dir: d}, {ident: []byte{1}, dir: d.parent}}
		for _, c := range tr.ordered(d.node.children) {
			ident := tr.ident(c)
			if c.mode.IsDir() {
				sub := &directory{node: c, parent: d, ident: ident}
				tr.dirs = append(tr.dirs, sub)
				d.records = append(d.records, &record{ident: ident, dir: sub})
				continue
			}
			for part := range c.extents() {
				d.records = append(d.records, &record{ident: ident, file: c, part: part})
			}
		}
		if !joliet {
			for j, r := range d.records {
				name := r.node().name
				if j < 2 {
					name = "" // "." and ".."
				}
				entries := rrEntries(r.node(), name, t, i == 0 && j == 0)
				r.su = splitSystemUse(entries, maxRecordLen-recordLen(len(r.ident), 0))
			}
		}
		d.size = packRecords(d.records, nil)
	}
	return tr, nil
}

// ordered returns the children recorded in this tree in identifier
// order (ECMA-119 9.3). Joliet has no symlinks.
func (tr *tree) ordered(children []*node) []*node {
	var out []*node
	for _, c := range children {
		if !tr.joliet || c.mode&fs.ModeSymlink == 0 {
			out = append(out, c)
		}
	}
	if tr.joliet {
		slices.SortFunc(out, func(a, b *node) int {
			return slices.Compare(ucs2(jolietName(a)), ucs2(jolietName(b)))
		})
	} else {
		slices.SortFunc(out, func(a, b *node) int { return compareISO(a.isoID, b.isoID) })
	}
	return out
}

func (tr *tree) ident(n *node) []byte {
	if tr.joliet {
		return ucs2(n.jolietID)
	}
	return []byte(n.isoID)
}

// packRecords places records in sectors so that none straddles a sector
// boundary, calling put (if not nil) with each record's offset. It
// returns the extent size in whole sectors.
func packRecords(records []*record, put func(r *record, off int)) uint32 {
	off := 0
	for _, r := range records {
		n := r.size()
		if off%sectorSize+n > sectorSize {
			off += sectorSize - off%sectorSize
		}
		if put != nil {
			put(r, off)
		}
		off += n
	}
	return uint32(sectors(int64(off)) * sectorSize)
}

// sectors rounds a byte count up to whole sectors.
func sectors(n int64) int64 {
	return (n + sectorSize - 1) / sectorSize
}

// encodeDir returns the directory extent of d.
func (tr *tree) encodeDir(d *directory, t time.Time) []byte {
	b := make([]byte, d.size)
	packRecords(d.records, func(r *record, off int) {
		var su []byte
		if r.su != nil {
			su = r.su.encode()
		}
		if r.dir != nil {
			putDirRecord(b[off:], r.dir.lba, r.dir.size, flagDirectory, r.ident, su, t)
			return
		}
		lba, length := r.file.extent(r.part)
		var flags byte
		if r.part < r.file.extents()-1 {
			flags = flagMultiExtent
		}
		putDirRecord(b[off:], lba, length, flags, r.ident, su, t)
	})
	return b
}

// pathTable encodes the L (little-endian) or M (big-endian) path table.
func (tr *tree) pathTable(order binary.ByteOrder) []byte {
	b := make([]byte, tr.pathTableSize)
	off := 0
	for _, d := range tr.dirs {
		off += putPathRecord(b[off:], d.ident, d.lba, d.parent.number, order)
	}
	return b
}

// layout is the complete plan of an image: every structure and its
// location, computed before the first byte is written.
type layout struct {
	time            time.Time
	label           string
	primary, joliet *tree
	ceAreas         []*systemUse // System Use areas with continuation areas, in layout order
	files           []*node      // regular files with data, in data order
	sectors         uint32       // volume space size
}

func newLayout(opts Options, entries []Entry) (*layout, error) {
	l := &layout{time: imageTime(opts.ModTime), label: opts.Label}
	if y := l.time.Year(); y < 1900 || y > 2155 {
		return nil, fmt.Errorf("modification time %v cannot be recorded: year outside 1900-2155", opts.ModTime)
	}
	if l.label == "" {
		l.label = "CDROM"
	}
	extent := opts.ExtentSize
	if extent == 0 {
		extent = maxExtentSize
	}
	if extent < 0 || extent > maxExtentSize || extent%sectorSize != 0 {
		return nil, fmt.Errorf("extent size %d is not a positive multiple of %d up to %d", extent, sectorSize, maxExtentSize)
	}
	root, err := buildTree(entries)
	if err != nil {
		return nil, err
	}
	setExtentSize(root, extent)
	if l.primary, err = newTree(root, false, l.time); err != nil {
		return nil, err
	}
	if l.joliet, err = newTree(root, true, l.time); err != nil {
		return nil, err
	}
	if err := l.allocate(); err != nil {
		return nil, err
	}
	return l, nil
}

func setExtentSize(n *node, size int64) {
	n.extentSize = size
	for _, c := range n.children {
		setExtentSize(c, size)
	}
}

// imageTime is the single time recorded everywhere in the image,
// defaulting to 1980-01-01 so that images never depend on the clock.
func imageTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return t.UTC().Truncate(time.Second)
}

// allocate assigns sectors: system area, volume descriptors, path
// tables, primary directories, Rock Ridge continuation areas, Joliet
// directories, file data, then padding.
func (l *layout) allocate() error {
	next := int64(systemAreaSectors + 3) // PVD, Joliet SVD, terminator
	take := func(size int64) uint32 {
		lba := uint32(min(next, math.MaxUint32))
		next += sectors(size)
		return lba
	}
	for _, tr := range []*tree{l.primary, l.joliet} {
		for _, d := range tr.dirs {
			tr.pathTableSize += uint32(pathRecordLen(len(d.ident)))
		}
		tr.lPathLBA = take(int64(tr.pathTableSize))
		tr.mPathLBA = take(int64(tr.pathTableSize))
	}
	for _, d := range l.primary.dirs {
		d.lba = take(int64(d.size))
	}
	// Continuation areas are packed, each within one sector.
	var ceLBA uint32
	ceOff := sectorSize // no sector taken yet
	for _, d := range l.primary.dirs {
		for _, r := range d.records {
			if len(r.su.areas) > 0 {
				l.ceAreas = append(l.ceAreas, r.su)
			}
			for _, a := range r.su.areas {
				if ceOff+len(a.data) > sectorSize {
					ceLBA, ceOff = take(sectorSize), 0
				}
				a.lba, a.offset = ceLBA, uint32(ceOff)
				ceOff += len(a.data)
			}
		}
	}
	for _, d := range l.joliet.dirs {
		d.lba = take(int64(d.size))
	}
	for _, d := range l.primary.dirs {
		for _, r := range d.records {
			if r.file != nil && r.part == 0 && r.file.mode.IsRegular() && r.file.size > 0 {
				r.file.dataLBA = take(r.file.size)
				l.files = append(l.files, r.file)
			}
		}
	}
	// Media checkers (checkisomd5) skip the last sectors, where readers
	// of real discs fail; padding keeps every file inside the checksum.
	next += mediaSkipSectors
	if next > math.MaxUint32 {
		return fmt.Errorf("image too large: %d sectors exceed the ISO 9660 limit", next)
	}
	l.sectors = uint32(next)
	return nil
}
