package photo

import (
	"image"
	"image/color"

	"golang.org/x/image/draw"
)

// scale returns img scaled down, keeping the aspect ratio, to fit
// MaxSide×MaxSide, or img itself if it fits.
//
// Catmull-Rom over a full-resolution image is slow (its support widens with
// the ratio: 32 taps a pixel each way from 4096 to 512) and its separable
// pass keeps a float64 RGBA buffer of target width × source height (64 MiB
// for 4096 rows). So a big image is first shrunk by an integer factor k with a
// box filter (the mean of each k×k block), which reads each pixel once, to
// no less than twice the target size, and Catmull-Rom then does the rest on
// that small image. Shrinking by averaging first, then resampling with a
// gap of 2 or more, gives results that are hard to tell from resampling the
// whole image (as Pillow's reducing_gap does). The shrunk image is 2 to 4
// times the target, so scaling takes at most about 30 MiB more (at 4095²:
// 7 MiB shrunk, 21 MiB of Catmull-Rom buffer). When k does not divide a
// side, the last block takes in the rest, and the result is off by at most
// k-1 source pixels at the far edge, under half a pixel of the result.
func scale(img image.Image) image.Image {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	nw, nh := fit(w, h, MaxSide)
	if nw == w && nh == h {
		return img
	}
	if k := boxFactor(w, h, nw, nh); k > 1 {
		img = boxShrink(img, k)
	}
	dst := image.NewRGBA(image.Rect(0, 0, nw, nh))
	draw.CatmullRom.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
	return dst
}

// boxFactor returns the largest k that shrinks w×h to no less than twice
// nw×nh on both sides, or 1.
func boxFactor(w, h, nw, nh int) int {
	return max(1, min(w/(2*nw), h/(2*nh)))
}

// boxShrink returns src shrunk by k on both sides: each pixel of the result
// is the mean of a k×k block of src, in premultiplied RGBA. The result is
// (w/k)×(h/k); the blocks of the last column and row take in the rest of
// the pixels (up to 2k-1), so that none is dropped.
//
// The common decoded types (*image.YCbCr from JPEG; *image.Gray,
// *image.RGBA, *image.NRGBA, *image.Paletted and their 16-bit kin from PNG)
// are read directly; anything else goes through RGBA64At.
func boxShrink(src image.Image, k int) *image.RGBA {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	dw, dh := w/k, h/k
	dst := image.NewRGBA(image.Rect(0, 0, dw, dh))

	// Each source row is added into acc, 4 sums a destination pixel; at
	// the end of a block row, emit turns the sums into dst's pixels.
	acc := make([]uint32, 4*dw)
	var add func(y int) // y in b.Min.Y..b.Max.Y-1
	// wide says the sums are of 16-bit values, and ycbcr that they are Y,
	// Cb and Cr, to be converted once per result pixel.
	var wide, ycbcr bool

	switch s := src.(type) {
	case *image.YCbCr:
		ycbcr = true
		// COffset(x, y) is a function of y plus one of x: tabulate the
		// latter.
		cx := make([]int, w)
		for x := range w {
			cx[x] = s.COffset(b.Min.X+x, b.Min.Y) - s.COffset(b.Min.X, b.Min.Y)
		}
		add = func(y int) {
			yrow := s.Y[s.YOffset(b.Min.X, y):]
			c0 := s.COffset(b.Min.X, y)
			cb, cr := s.Cb[c0:], s.Cr[c0:]
			for ox := range dw {
				x0, x1 := ox*k, ox*k+k
				if ox == dw-1 {
					x1 = w
				}
				a := acc[4*ox : 4*ox+4 : 4*ox+4]
				for x := x0; x < x1; x++ {
					a[0] += uint32(yrow[x])
					a[1] += uint32(cb[cx[x]])
					a[2] += uint32(cr[cx[x]])
				}
			}
		}
	case *image.Gray:
		add = func(y int) {
			row := s.Pix[s.PixOffset(b.Min.X, y):]
			for ox := range dw {
				x0, x1 := ox*k, ox*k+k
				if ox == dw-1 {
					x1 = w
				}
				var sum uint32
				for _, v := range row[x0:x1] {
					sum += uint32(v)
				}
				a := acc[4*ox : 4*ox+4 : 4*ox+4]
				a[0] += sum
				a[1] += sum
				a[2] += sum
				a[3] += 255 * uint32(x1-x0)
			}
		}
	case *image.RGBA:
		add = func(y int) {
			row := s.Pix[s.PixOffset(b.Min.X, y):]
			for ox := range dw {
				x0, x1 := ox*k, ox*k+k
				if ox == dw-1 {
					x1 = w
				}
				a := acc[4*ox : 4*ox+4 : 4*ox+4]
				for x := x0; x < x1; x++ {
					p := row[4*x : 4*x+4 : 4*x+4]
					a[0] += uint32(p[0])
					a[1] += uint32(p[1])
					a[2] += uint32(p[2])
					a[3] += uint32(p[3])
				}
			}
		}
	case *image.NRGBA:
		// Premultiplied at 16 bits, so that the mean of faint pixels
		// keeps its color.
		wide = true
		add = func(y int) {
			row := s.Pix[s.PixOffset(b.Min.X, y):]
			for ox := range dw {
				x0, x1 := ox*k, ox*k+k
				if ox == dw-1 {
					x1 = w
				}
				a := acc[4*ox : 4*ox+4 : 4*ox+4]
				for x := x0; x < x1; x++ {
					p := row[4*x : 4*x+4 : 4*x+4]
					al := uint32(p[3])
					a[0] += premul8(p[0], al)
					a[1] += premul8(p[1], al)
					a[2] += premul8(p[2], al)
					a[3] += al * 257
				}
			}
		}
	case *image.Paletted:
		var pal [256][4]uint32
		for i := range pal {
			pal[i] = [4]uint32{0, 0, 0, 255} // as image/png pads palettes
			if i < len(s.Palette) {
				r, g, bb, al := s.Palette[i].RGBA()
				pal[i] = [4]uint32{r >> 8, g >> 8, bb >> 8, al >> 8}
			}
		}
		add = func(y int) {
			row := s.Pix[s.PixOffset(b.Min.X, y):]
			for ox := range dw {
				x0, x1 := ox*k, ox*k+k
				if ox == dw-1 {
					x1 = w
				}
				a := acc[4*ox : 4*ox+4 : 4*ox+4]
				for _, i := range row[x0:x1] {
					c := &pal[i]
					a[0] += c[0]
					a[1] += c[1]
					a[2] += c[2]
					a[3] += c[3]
				}
			}
		}
	default:
		// 16-bit PNGs (Gray16, RGBA64, NRGBA64), CMYK JPEGs and the rest:
		// RGBA64At does not allocate, unlike At.
		wide = true
		s64, ok := src.(image.RGBA64Image)
		if !ok {
			s64 = rgba64Adapter{src}
		}
		add = func(y int) {
			for ox := range dw {
				x0, x1 := ox*k, ox*k+k
				if ox == dw-1 {
					x1 = w
				}
				a := acc[4*ox : 4*ox+4 : 4*ox+4]
				for x := x0; x < x1; x++ {
					c := s64.RGBA64At(b.Min.X+x, y)
					a[0] += uint32(c.R)
					a[1] += uint32(c.G)
					a[2] += uint32(c.B)
					a[3] += uint32(c.A)
				}
			}
		}
	}

	for oy := range dh {
		y0, y1 := oy*k, oy*k+k
		if oy == dh-1 {
			y1 = h
		}
		clear(acc)
		for y := y0; y < y1; y++ {
			add(b.Min.Y + y)
		}
		row := dst.Pix[oy*dst.Stride:]
		for ox := range dw {
			nx := k
			if ox == dw-1 {
				nx = w - ox*k
			}
			n := uint32(nx * (y1 - y0))
			a := acc[4*ox : 4*ox+4 : 4*ox+4]
			p := row[4*ox : 4*ox+4 : 4*ox+4]
			if ycbcr {
				r, g, bb := color.YCbCrToRGB(mean(a[0], n, false), mean(a[1], n, false), mean(a[2], n, false))
				p[0], p[1], p[2], p[3] = r, g, bb, 255
				continue
			}
			p[0] = mean(a[0], n, wide)
			p[1] = mean(a[1], n, wide)
			p[2] = mean(a[2], n, wide)
			p[3] = mean(a[3], n, wide)
		}
	}
	return dst
}

// mean returns sum/n rounded, as a byte; if wide, sum is of 16-bit values.
func mean(sum, n uint32, wide bool) uint8 {
	m := (sum + n/2) / n
	if wide {
		m = (m + 128) / 257
	}
	return uint8(min(m, 255))
}

// premul8 returns the 8-bit channel c premultiplied by the 8-bit alpha a,
// at 16 bits: c×a×65535/255², rounded.
func premul8(c uint8, a uint32) uint32 {
	return (uint32(c)*a*257 + 127) / 255
}

// rgba64Adapter gives any image the RGBA64At method.
type rgba64Adapter struct{ image.Image }

func (m rgba64Adapter) RGBA64At(x, y int) color.RGBA64 {
	r, g, b, a := m.At(x, y).RGBA()
	return color.RGBA64{uint16(r), uint16(g), uint16(b), uint16(a)}
}
