//go:build !linux && !darwin

package simulate

func peakRSS() int64 { return 0 }
