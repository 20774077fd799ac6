//go:build !unix

package photo_test

func cpuTime() int64 { return -1 }
