package tensor

import "strconv"

func itoa(i int) string     { return strconv.Itoa(i) }
func btoa(b bool) string    { return strconv.FormatBool(b) }
func ftoa(f float32) string { return strconv.FormatFloat(float64(f), 'g', -1, 32) }
