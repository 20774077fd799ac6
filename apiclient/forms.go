package apiclient

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
)

// ProfileForm is the profile step's multipart form (PUT
// /api/v1/reps/me/onboarding/steps/profile) as the wizard sends it:
// first_name, last_name, title and, when photo is not nil, a photo part
// named filename. It returns the body and its Content-Type.
func ProfileForm(first, last, title, filename string, photo []byte) (body []byte, contentType string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	// Writes to a bytes.Buffer do not fail.
	_ = w.WriteField("first_name", first)
	_ = w.WriteField("last_name", last)
	_ = w.WriteField("title", title)
	if photo != nil {
		fw, _ := w.CreateFormFile("photo", filename)
		_, _ = fw.Write(photo)
	}
	_ = w.Close()
	return buf.Bytes(), w.FormDataContentType()
}

// GradientPNG is a w×h PNG with a colour gradient: a stand-in photo.
func GradientPNG(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err) // encoding an in-memory RGBA image cannot fail
	}
	return buf.Bytes()
}
