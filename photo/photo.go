// Package photo checks a rep's profile photo upload and re-encodes it: only
// JPEG and PNG are accepted, the image is scaled down to fit MaxSide×MaxSide,
// and it is encoded again from its pixels so that no metadata (EXIF, GPS,
// text chunks) survives.
//
// Decoding is what costs: the whole image is held in memory. So the pixels
// and the decoder's memory are capped from the header before decoding
// (MaxPixels, MaxDecodeBytes), at most MaxConcurrent photos are decoded at
// once in the process, and the image is shrunk with a cheap box filter
// before the final, better filter runs on a small image.
package photo

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"sync/atomic"

	"github.com/onramp/onramp"
)

const (
	// MaxBytes is the largest upload accepted.
	MaxBytes = 5 << 20
	// MaxSide is the largest width and height of the result.
	MaxSide = 512
	// MaxPixels is the largest width×height accepted: 16 megapixels
	// (4096×4096), checked from the header before the pixels are decoded
	// (decompression-bomb guard). A profile photo is shown at most
	// MaxSide×MaxSide; 16 MP is more than the 12 MP that phones save by
	// default, and keeps a decoded 8-bit RGBA image at 64 MiB.
	MaxPixels = 16 << 20
	// MaxDecodeBytes is the most memory the decoder may allocate for the
	// pixels of one photo, estimated from the header before decoding (see
	// decodeCost): 64 MiB, what a MaxPixels image at 8-bit RGBA takes.
	//
	// Counting pixels is not enough: a 16-bit PNG decodes to 8 bytes a
	// pixel (NRGBA64/RGBA64), so 16 MP of it would take 128 MiB; a
	// progressive JPEG keeps every DCT coefficient (4 bytes a sample) until
	// the end, 7.5 to 15 bytes a pixel; a CMYK JPEG is decoded and then
	// converted, 8 bytes a pixel. Such photos are refused above what fits
	// in the same 64 MiB as the largest ordinary one (8 MP for a 16-bit PNG,
	// about 8.5 MP for a progressive 4:2:0 JPEG), with a message that says so,
	// rather than let one upload take two to four times the memory that
	// MaxConcurrent was sized for.
	MaxDecodeBytes = 4 * MaxPixels
	// MaxConcurrent is the most photos decoded at once in this process;
	// more wait for a slot (see Process). With MaxDecodeBytes and the
	// buffers of scaling (up to about 30 MiB), it bounds the memory that
	// photo uploads take at about MaxConcurrent × 95 MiB however many
	// arrive at once (measured: docs/BENCHMARKS.md), and keeps them from
	// taking every core.
	MaxConcurrent = 2
	// maxDim is the largest width or height accepted.
	maxDim = 8192
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
	msgPixels      = "Photo is too large in pixels (%d×%d): at most %d megapixels."
	msgMemory      = "Photo is too large to process as a %s (%d×%d): at most %s megapixels for that kind of image, or %d for an ordinary JPG or PNG. Please use a smaller photo."
	msgBusy        = "Too many photos are being processed right now. Please try again in a moment."
)

const op = "photo.Process"

var (
	magicJPEG = []byte{0xFF, 0xD8, 0xFF}
	magicPNG  = []byte("\x89PNG\r\n\x1a\n")
)

// slots holds a token for each photo being decoded: at most MaxConcurrent.
var slots = make(chan struct{}, MaxConcurrent)

var (
	// inFlight counts the photos holding a slot.
	inFlight atomic.Int32
	// testHookSlot, if not nil, is called with inFlight right after a
	// slot is taken. Tests set it (export_test.go) to observe and to hold
	// the slots.
	testHookSlot func(inFlight int)
)

// Process reads an uploaded photo from r (at most MaxBytes+1 bytes of it),
// checks it and returns it scaled down to fit MaxSide×MaxSide, re-encoded in
// its own format. The format is detected from the bytes only.
//
// The upload is read and its header checked first; then Process waits for
// one of MaxConcurrent decode slots, so that a slow client never holds one
// and a refused photo never waits.
//
// Returns ETOOLARGE if r holds more than MaxBytes, EUNSUPPORTED if it is not
// a JPEG or PNG, and EINVALID if it is empty, damaged, has more than
// MaxPixels pixels or a side over 8192, or would take the decoder more than
// MaxDecodeBytes. Returns EUNAVAILABLE if ctx ends while waiting for a slot.
// An error from r itself is returned wrapped (EINTERNAL).
func Process(ctx context.Context, r io.Reader) (*Result, error) {
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
		return nil, &onramp.Error{Code: onramp.EINVALID, Message: fmt.Sprintf(msgPixels, w, h, MaxPixels>>20), Op: op}
	}
	if cost, kind := decodeCost(contentType, data, cfg); cost > MaxDecodeBytes {
		msg := fmt.Sprintf(msgMemory, kind, w, h, maxMegapixels(w, h, cost), MaxPixels>>20)
		return nil, &onramp.Error{Code: onramp.EINVALID, Message: msg, Op: op,
			Err: fmt.Errorf("decoding would take %d bytes", cost)}
	}

	release, err := acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()

	img, err := decode(bytes.NewReader(data))
	if err != nil {
		return nil, damaged(err)
	}
	if b := img.Bounds(); b.Dx() != w || b.Dy() != h {
		return nil, damaged(fmt.Errorf("header says %dx%d, pixels are %dx%d", w, h, b.Dx(), b.Dy()))
	}

	// The decoded image is garbage once scaled: img is its only reference.
	img = scale(img)
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

// acquire waits for a decode slot while ctx is alive and returns the
// function that gives it back.
func acquire(ctx context.Context) (release func(), err error) {
	select {
	case slots <- struct{}{}:
	default:
		// All taken: wait. (A free slot is taken above even if ctx has
		// ended, so that the outcome does not depend on select's choice.)
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil, &onramp.Error{Code: onramp.EUNAVAILABLE, Message: msgBusy, Op: op, Err: context.Cause(ctx)}
		}
	}
	n := inFlight.Add(1)
	if testHookSlot != nil {
		testHookSlot(int(n))
	}
	return func() {
		inFlight.Add(-1)
		<-slots
	}, nil
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
