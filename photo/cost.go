package photo

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"math"
	"strconv"
)

// decodeCost estimates, from the header of data (whose config the stdlib
// decoder has read as cfg), how many bytes the stdlib decoder will allocate
// for its pixel buffers, and names the kind of image for the user. The
// estimate follows what image/png and image/jpeg allocate, and errs on the
// high side where the header does not tell.
func decodeCost(contentType string, data []byte, cfg image.Config) (int64, string) {
	if contentType == PNG {
		return pngCost(data, cfg)
	}
	return jpegCost(data, cfg)
}

// pngCost: image/png decodes to one image of the whole size, whose type
// follows the color type and bit depth of IHDR and whether a tRNS chunk
// comes before the pixels: 1 byte a pixel (gray up to 8 bits, paletted),
// 2 (16-bit gray), 4 (8-bit RGB, RGBA, gray+alpha, or gray with tRNS: NRGBA)
// or 8 (any 16-bit color or alpha, or 16-bit gray with tRNS: NRGBA64,
// RGBA64). An interlaced PNG is also decoded pass by pass into seven more
// images, which add up to the whole size once more.
func pngCost(data []byte, cfg image.Config) (int64, string) {
	// The stdlib decoder has checked that IHDR is the first chunk.
	const ihdr = 8 + 8 // signature, chunk length and type
	if len(data) < ihdr+13 {
		return math.MaxInt64, "PNG"
	}
	depth, colorType, interlaced := data[ihdr+8], data[ihdr+9], data[ihdr+12] != 0
	trns := pngHasTRNS(data[ihdr+13+4:])
	var bpp int64
	switch colorType {
	case 0: // gray
		switch {
		case depth == 16 && trns:
			bpp = 8
		case depth == 16:
			bpp = 2
		case trns:
			bpp = 4
		default:
			bpp = 1
		}
	case 3: // paletted
		bpp = 1
	default: // RGB, gray+alpha, RGBA
		bpp = 4
		if depth == 16 {
			bpp = 8
		}
	}
	cost := bpp * int64(cfg.Width) * int64(cfg.Height)
	kind := "PNG"
	if interlaced {
		cost *= 2
		kind = "interlaced PNG"
	}
	if depth == 16 {
		kind += " with 16 bits per channel"
	}
	return cost, kind
}

// pngHasTRNS reports whether a tRNS chunk comes before the first IDAT in
// chunks (the PNG after IHDR), or true if the chunks cannot be followed
// that far, to be safe.
func pngHasTRNS(chunks []byte) bool {
	for len(chunks) >= 8 {
		n := int64(binary.BigEndian.Uint32(chunks))
		switch string(chunks[4:8]) {
		case "tRNS":
			return true
		case "IDAT":
			return false
		}
		if n > int64(len(chunks))-12 {
			break
		}
		chunks = chunks[12+n:]
	}
	return true
}

// jpegCost: image/jpeg decodes into planes of whole MCUs: one for gray,
// three for YCbCr (the chroma ones subsampled), four for CMYK/YCbCrK,
// 1 byte a sample. A progressive JPEG also keeps the coefficients of every
// block of every component until the last scan, 64 int32 a block: 4 bytes
// a sample more. A 4-component (CMYK) image, or a 3-component one stored as
// RGB, is then converted into a new 4-byte-a-pixel image.
func jpegCost(data []byte, cfg image.Config) (int64, string) {
	w, h := int64(cfg.Width), int64(cfg.Height)
	var nComp int
	switch cfg.ColorModel {
	case color.GrayModel:
		nComp = 1
	case color.CMYKModel:
		nComp = 4
	default: // YCbCr, RGB
		nComp = 3
	}
	f, ok := jpegSOF(data)
	if !ok || f.w != cfg.Width || f.h != cfg.Height || len(f.comps) != nComp {
		// Cannot happen for what the stdlib decoder accepts; assume the
		// worst: progressive, no subsampling.
		f = jpegFrame{progressive: true, comps: make([][2]int, nComp)}
		for i := range f.comps {
			f.comps[i] = [2]int{1, 1}
		}
	}
	h0, v0 := f.comps[0][0], f.comps[0][1]
	if nComp == 1 {
		h0, v0 = 1, 1 // the decoder ignores them for gray
	}
	mxx := (w + 8*int64(h0) - 1) / (8 * int64(h0))
	myy := (h + 8*int64(v0) - 1) / (8 * int64(v0))
	var samples int64
	for _, c := range f.comps {
		if nComp == 1 {
			c = [2]int{1, 1}
		}
		samples += 64 * int64(c[0]*c[1]) * mxx * myy
	}
	cost := samples
	kind := "JPG"
	switch {
	case nComp == 4:
		cost += 4 * w * h
		kind = "CMYK JPG"
	case nComp == 3 && jpegMayBeRGB(data, f):
		cost += 4 * w * h
		kind = "JPG stored as RGB"
	}
	if f.progressive {
		cost += 4 * samples
		kind = "progressive " + kind
	}
	return cost, kind
}

type jpegFrame struct {
	progressive bool
	w, h        int
	comps       [][2]int // h, v sampling factors
	ids         []byte
}

// jpegSOF returns the first frame header of data, walking the segments as
// image/jpeg does: bytes that are not a marker are skipped, fill bytes
// too, and the frame must come before the first scan.
func jpegSOF(data []byte) (jpegFrame, bool) {
	i := 2 // after SOI
	for i+1 < len(data) {
		if data[i] != 0xFF {
			i++
			continue
		}
		marker := data[i+1]
		i += 2
		if marker == 0x00 {
			continue // "\xff\x00": extraneous data
		}
		for marker == 0xFF {
			if i >= len(data) {
				return jpegFrame{}, false
			}
			marker = data[i]
			i++
		}
		switch {
		case marker == 0xD9 || marker == 0xDA: // EOI, SOS: no frame before
			return jpegFrame{}, false
		case 0xD0 <= marker && marker <= 0xD7: // RST: no length
			continue
		}
		if i+2 > len(data) {
			return jpegFrame{}, false
		}
		n := int(binary.BigEndian.Uint16(data[i:]))
		if n < 2 || i+n > len(data) {
			return jpegFrame{}, false
		}
		seg := data[i+2 : i+n]
		i += n
		if marker != 0xC0 && marker != 0xC1 && marker != 0xC2 {
			continue
		}
		if len(seg) < 6 || len(seg) != 6+3*int(seg[5]) {
			return jpegFrame{}, false
		}
		f := jpegFrame{
			progressive: marker == 0xC2,
			h:           int(binary.BigEndian.Uint16(seg[1:])),
			w:           int(binary.BigEndian.Uint16(seg[3:])),
		}
		for c := range int(seg[5]) {
			hv := seg[6+3*c+1]
			f.comps = append(f.comps, [2]int{int(hv >> 4), int(hv & 0x0F)})
			f.ids = append(f.ids, seg[6+3*c])
		}
		return f, true
	}
	return jpegFrame{}, false
}

// jpegMayBeRGB reports whether image/jpeg may take the 3 components of f as
// RGB and convert them: their identifiers are 'R', 'G', 'B', or an Adobe
// APP14 segment says "transform 0" (it wins unless a JFIF APP0 segment is
// seen, which is ignored here, to be safe). The APP14 segment is looked for
// anywhere, as the decoder reads it wherever it comes.
func jpegMayBeRGB(data []byte, f jpegFrame) bool {
	if string(f.ids) == "RGB" {
		return true
	}
	for rest := data; ; {
		i := bytes.Index(rest, []byte("Adobe"))
		if i < 0 {
			return false
		}
		// FF EE, length, "Adobe", version (2), flags0 (2), flags1 (2),
		// transform.
		if i >= 4 && rest[i-4] == 0xFF && rest[i-3] == 0xEE && i+11 < len(rest) && rest[i+11] == 0 {
			return true
		}
		rest = rest[i+1:]
	}
}

// maxMegapixels formats, rounded down to a tenth, how many megapixels of
// the kind of image that takes cost bytes at w×h fit in MaxDecodeBytes.
func maxMegapixels(w, h int, cost int64) string {
	mp := float64(MaxDecodeBytes) / float64(cost) * float64(w) * float64(h) / (1 << 20)
	return strconv.FormatFloat(math.Floor(mp*10)/10, 'f', -1, 64)
}
