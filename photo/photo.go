// Package photo checks a rep's profile photo upload and re-encodes it: only
// JPEG and PNG are accepted, the image is scaled down to fit MaxSide×MaxSide,
// and it is encoded again from its pixels so that no metadata (EXIF, GPS,
// text chunks) survives.
package photo

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"

	"golang.org/x/image/draw"

	"github.com/onramp/onramp"
)

const (
	// MaxBytes is the largest upload accepted.
	MaxBytes = 5 << 20
	// MaxSide is the largest width and height of the result.
	MaxSide = 512
	// MaxPixels is the largest width×height accepted, checked from the
	// header before the pixels are decoded (decompression-bomb guard).
	MaxPixels = 40_000_000
	// maxDim is the largest width or height accepted.
	maxDim = 20000
	// jpegQuality is the quality of re-encoded JPEGs.
	jpegQuality = 85
)

// Content types of a Result.
const (
	JPEG = "image/jpeg"
	PNG  = "image/png"
)

// Result is a processed photo: at most MaxSide×MaxSide, without metadata.
type Result struct {
	ContentType string // JPEG or PNG, the same format as the upload
	Width       int
	Height      int
	Data        []byte
}

// User-facing messages.
const (
	msgTooLarge    = "Photo must be at most 5 MB."
	msgUnsupported = "Photo must be a JPG or PNG image."
	msgEmpty       = "Photo is empty."
	msgDamaged     = "Photo could not be read: the file is damaged or not a real JPG/PNG."
	msgPixels      = "Photo is too large in pixels (%d×%d): at most 40 megapixels."
)

const op = "photo.Process"

var (
	magicJPEG = []byte{0xFF, 0xD8, 0xFF}
	magicPNG  = []byte("\x89PNG\r\n\x1a\n")
)

// Process reads an uploaded photo from r (at most MaxBytes+1 bytes of it),
// checks it and returns it scaled down to fit MaxSide×MaxSide, re-encoded in
// its own format. The format is detected from the bytes only.
//
// Returns ETOOLARGE if r holds more than MaxBytes, EUNSUPPORTED if it is not
// a JPEG or PNG, and EINVALID if it is empty, damaged, or has more than
// MaxPixels pixels or a side over 20000. An error from r itself is returned
// wrapped (EINTERNAL).
func Process(r io.Reader) (*Result, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", op, err)
	}
	switch {
	case len(data) > MaxBytes:
		return nil, &onramp.Error{Code: onramp.ETOOLARGE, Message: msgTooLarge, Op: op}
	case len(data) == 0:
		return nil, &onramp.Error{Code: onramp.EINVALID, Message: msgEmpty, Op: op}
	}

	var (
		contentType  string
		decode       func(io.Reader) (image.Image, error)
		decodeConfig func(io.Reader) (image.Config, error)
	)
	// The format-specific decoders are called directly, not image.Decode,
	// so that no other registered format (GIF, WebP...) can slip through.
	switch {
	case bytes.HasPrefix(data, magicJPEG):
		contentType, decode, decodeConfig = JPEG, jpeg.Decode, jpeg.DecodeConfig
	case bytes.HasPrefix(data, magicPNG):
		contentType, decode, decodeConfig = PNG, png.Decode, png.DecodeConfig
	default:
		return nil, &onramp.Error{Code: onramp.EUNSUPPORTED, Message: msgUnsupported, Op: op}
	}

	// Check the dimensions from the header before decoding: a small PNG can
	// declare 10000×10000 pixels, and decoding allocates them all up front.
	cfg, err := decodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, damaged(err)
	}
	w, h := cfg.Width, cfg.Height
	if w <= 0 || h <= 0 {
		// The stdlib decoders already reject these; "too large" would be
		// the wrong thing to tell the user.
		return nil, damaged(fmt.Errorf("dimensions %dx%d", w, h))
	}
	if w > maxDim || h > maxDim || w*h > MaxPixels {
		return nil, &onramp.Error{Code: onramp.EINVALID, Message: fmt.Sprintf(msgPixels, w, h), Op: op}
	}

	img, err := decode(bytes.NewReader(data))
	if err != nil {
		return nil, damaged(err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		return nil, damaged(fmt.Errorf("header says %dx%d, pixels are %dx%d", w, h, b.Dx(), b.Dy()))
	}

	if nw, nh := fit(w, h, MaxSide); nw != w || nh != h {
		dst := image.NewRGBA(image.Rect(0, 0, nw, nh))
		draw.CatmullRom.Scale(dst, dst.Bounds(), img, img.Bounds(), draw.Src, nil)
		img = dst
	}
	if contentType == JPEG {
		// Metadata is dropped below, so apply the EXIF orientation to the
		// pixels now, or phone photos taken upright would show sideways.
		if o := exifOrientation(data); o != 1 {
			img = orient(img, o)
		}
	}

	var buf bytes.Buffer
	if contentType == JPEG {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: jpegQuality})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: encode: %w", op, err)
	}
	b := img.Bounds()
	return &Result{ContentType: contentType, Width: b.Dx(), Height: b.Dy(), Data: buf.Bytes()}, nil
}

func damaged(err error) error {
	return &onramp.Error{Code: onramp.EINVALID, Message: msgDamaged, Op: op, Err: err}
}

// fit returns w×h scaled down, keeping the aspect ratio, to fit side×side.
// Images that already fit are not scaled up. Neither side drops below 1.
func fit(w, h, side int) (int, int) {
	if w <= side && h <= side {
		return w, h
	}
	if w >= h {
		return side, clampRound(h*side, w)
	}
	return clampRound(w*side, h), side
}

// clampRound returns num/den rounded to the nearest integer, at least 1.
func clampRound(num, den int) int {
	return max(1, (num+den/2)/den)
}
