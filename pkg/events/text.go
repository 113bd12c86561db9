package events

import (
	"fmt"
	"time"
)

// ProgressText says how far a large update has come after elapsed: files and bytes of the total, the
// rate and the time left at that rate. The terminal view and the plain lines print it.
func ProgressText(files, totalFiles int, bytes, totalBytes int64, elapsed time.Duration) string {
	s := fmt.Sprintf("%d/%d files, %s/%s", files, totalFiles, Size(bytes), Size(totalBytes))
	if elapsed > 0 && bytes > 0 {
		rate := float64(bytes) / elapsed.Seconds()
		left := time.Duration(float64(totalBytes-bytes) / rate * float64(time.Second))
		s += fmt.Sprintf(", %s/s, %s left", Size(int64(rate)), left.Round(time.Second))
	}
	return s
}

// Size is a byte count for people: 812 B, 3.4 MiB.
func Size(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit && exp < 3; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGT"[exp])
}
